/** The probe and auto-choice caches are read-merge-written under a lock: two processes lose nothing. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PAIRS } from './cache-writer.js';

const writer = fileURLToPath(new URL('./cache-writer.ts', import.meta.url));

function writerProcess(kind: string, dir: string, first: number, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, kind, dir, String(first), String(count)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}: ${err}`))));
  });
}

for (const kind of ['probe', 'auto'] as const) {
  test(`${kind} cache: two processes writing at once keep every result`, async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-lock-'));
    try {
      const half = PAIRS / 2;
      await Promise.all([writerProcess(kind, dir, 0, half), writerProcess(kind, dir, half, half)]);
      let keys: string[];
      if (kind === 'probe') {
        const [file] = readdirSync(join(dir, 'probes')).filter((f) => f.endsWith('.json'));
        keys = Object.keys((JSON.parse(readFileSync(join(dir, 'probes', file!), 'utf8')) as { results: object }).results);
      } else {
        const doc = JSON.parse(readFileSync(join(dir, 'auto', 'measurements.json'), 'utf8')) as { hosts: Record<string, Record<string, object>> };
        keys = Object.keys(Object.values(doc.hosts)[0]?.['sha'] ?? {});
      }
      assert.equal(keys.length, PAIRS, `lost ${PAIRS - keys.length} of ${PAIRS} updates`);
      assert.deepEqual(readdirSync(join(dir, kind === 'probe' ? 'probes' : 'auto')).filter((f) => f.endsWith('.lock')), [], 'locks released');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
