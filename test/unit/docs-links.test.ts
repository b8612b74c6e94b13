/** docs/performance.md is conclusions that link to dated logs: every relative link there (and in the logs it cites) must resolve. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const docs = fileURLToPath(new URL('../../docs/', import.meta.url));

function brokenLinks(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (!target || /^[a-z]+:/.test(target) || target.startsWith('#')) continue;
    const path = target.split('#')[0]!;
    if (!existsSync(join(dirname(file), path))) out.push(target);
  }
  return out;
}

test('docs/performance.md and the dated performance log link only to files that exist', () => {
  const perf = join(docs, 'performance.md');
  assert.deepEqual(brokenLinks(perf), []);
  assert.deepEqual(brokenLinks(join(docs, 'results', '2026-11-26-performance-log.md')), []);
  // conclusions, not a log: every topic cites where its numbers come from
  const sections = readFileSync(perf, 'utf8').split(/^## /m).slice(1);
  assert.ok(sections.length >= 5);
  for (const s of sections) assert.match(s, /\]\(results\//, `section without a link to docs/results: ${s.split('\n')[0]}`);
});

test('the scripts named in docs exist (scripts/experiments after the move)', () => {
  const missing: string[] = [];
  for (const f of ['performance.md', 'bench.md', 'quantize.md', 'run.md', join('results', '2026-11-26-performance-log.md')]) {
    const text = readFileSync(join(docs, f), 'utf8');
    for (const [m] of text.matchAll(/scripts\/[\w./-]+\.(?:sh|mjs|ts|py)/g)) if (!existsSync(join(docs, '..', m))) missing.push(`${f}: ${m}`);
  }
  assert.deepEqual(missing, []);
});
