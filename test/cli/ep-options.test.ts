/**
 * `--ep-option` on the CPU EP (#15): a key it does not take was dropped silently and recorded in the
 * report as if applied; the README says unknown keys are refused. Now: exit 2 naming the key and the
 * valid ones; session config entries (keys with a dot) and `useArena` still pass.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { ortBackend } from '../../src/core/backends/ort.js';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { embeddedModel } from '../../src/core/models/embedded.js';
import { UsageError } from '../../src/core/errors.js';
import { runCli } from '../helpers/run-cli.js';

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-ep-options-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = { AIVMM_CACHE_DIR: join(dir, 'cache') };

test('the CPU EP refuses a key it does not take, in the session loader itself', async () => {
  const model = embeddedModel('tiny-convnet').build();
  await assert.rejects(ortBackend.load(model, CPU_TARGET, { epOptions: { intra_op_num_thread: '2' } }), (e: unknown) => e instanceof UsageError && /no option 'intra_op_num_thread'/.test(e.message) && /useArena/.test(e.hint ?? ''));
  const ok = await ortBackend.load(model, CPU_TARGET, { epOptions: { useArena: '0', 'session.intra_op.allow_spinning': '0' } });
  await ok.dispose();
});

test('bench --backend ort-cpu --ep-option typo: exit 2 before measuring (also for -d CPU); session config entries pass', async () => {
  const r = await runCli(['bench', 'tiny-convnet', '--backend', 'ort-cpu', '-n', '3', '--warmup', '0', '--ep-option', 'enable_cuda_grpah=1'], { env });
  assert.equal(r.code, EXIT_CODES.USAGE, r.stderr);
  assert.match(r.stderr, /no option 'enable_cuda_grpah'/);
  const d = await runCli(['bench', 'tiny-convnet', '-d', 'CPU', '-n', '3', '--warmup', '0', '--ep-option', 'foo=1', '--json'], { env });
  assert.equal(d.code, EXIT_CODES.USAGE, d.stderr);
  const ok = await runCli(['bench', 'tiny-convnet', '--backend', 'ort-cpu', '-n', '3', '--warmup', '0', '--ep-option', 'session.intra_op.allow_spinning=0', '--json'], { env });
  assert.equal(ok.code, 0, ok.stderr);
});
