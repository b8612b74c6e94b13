/** The architecture rules, checked on the source: core is a library, native addons load in one place. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../src', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.tsx?$/.test(n) ? [p] : [];
  });
}

/** Code without comments, so rules apply to what runs. */
const code = (p: string): string => readFileSync(p, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

test('src/core never prints, exits, reads the environment, or imports the CLI/UI stack', () => {
  const offenders: string[] = [];
  for (const f of files(join(src, 'core'))) {
    const c = code(f);
    for (const [rule, re] of [
      ['console', /\bconsole\./],
      ['process.exit', /process\.exit/],
      ['process.env', /process\.env/],
      ['stdout/stderr', /process\.(stdout|stderr)/],
      ['cli/ui import', /from ['"][./]*\/(cli|ui)\//],
      ['UI/CLI package', /from ['"](commander|ink|react|ora|cli-table3|chalk)['"]/],
    ] as const) {
      if (re.test(c)) offenders.push(`${relative(src, f)}: ${rule}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test('native addons are imported only in src/core/backends, and only dynamically', () => {
  const offenders: string[] = [];
  for (const f of files(src)) {
    const c = code(f);
    const statics = /^import (?!type)[^;]*from ['"](onnxruntime-node|openvino-node)['"]/m.test(c);
    const dynamic = /import\(['"](onnxruntime-node|openvino-node)['"]\)/.test(c);
    if (statics) offenders.push(`${relative(src, f)}: static import of a native addon`);
    if (dynamic && !relative(src, f).startsWith('core/backends/')) offenders.push(`${relative(src, f)}: loads a native addon outside core/backends`);
  }
  assert.deepEqual(offenders, []);
});

test('ui renders only: it imports core types, never core code', () => {
  const offenders = files(join(src, 'ui')).filter((f) => /^import (?!type)[^;]*from ['"][./]*\/core\//m.test(code(f)));
  assert.deepEqual(offenders.map((f) => relative(src, f)), []);
});
