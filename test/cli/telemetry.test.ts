/**
 * onnxruntime's Linux build starts Microsoft's 1DS telemetry in every process that opens a session,
 * leaving an empty `mat-debug-<pid>.log` (and `.ses`) in the temp directory (#15). The CLI turns it off
 * (ORT_DISABLE_TELEMETRY=1 unless set), for itself and its worker processes.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import { spawnCli } from '../helpers/run-cli.js';

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-telemetry-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('bench (worker process) and quantize (in-process sessions) leave nothing in the temp directory', () => {
  const tmp = join(dir, 'tmp');
  const env = { TMPDIR: tmp, ORT_DISABLE_TELEMETRY: undefined, AIVMM_CACHE_DIR: join(dir, 'cache') };
  mkdirSync(tmp);
  const b = spawnCli(['bench', 'tiny-convnet', '--backend', 'ort-cpu', '-n', '3', '--warmup', '0', '--no-reference', '--json'], env);
  assert.equal(b.code, 0, b.stderr);
  const q = spawnCli(['quantize', 'tiny-convnet', '--no-latency', '-o', join(dir, 'q.onnx'), '--json'], env);
  assert.equal(q.code, 0, q.stderr);
  const left = readdirSync(tmp).filter((f) => /^mat-debug-\d+\.log$|^\.ses$/.test(f));
  assert.deepEqual(left, [], 'no telemetry files');
});
