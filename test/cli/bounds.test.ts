/**
 * Sizes that cannot fit in memory are refused from the dims, before anything is allocated (#15):
 * `bench --batch 100000`, `--shape 99999999x…`, a model with huge fixed dims, `run --size 100000`
 * — exit 2 with the estimate, never "Invalid typed array length" (exit 1) or a runaway process.
 * `--iterations` above what is kept is refused, not silently capped.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { settingsFromFlags } from '../../src/cli/commands/bench.js';
import type { BenchFlags } from '../../src/cli/program.js';
import { planShapes } from '../../src/core/bench/inputs.js';
import { imageSpecFor } from '../../src/core/tasks/image-spec.js';
import { UsageError } from '../../src/core/errors.js';
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
import { runCli } from '../helpers/run-cli.js';

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-bounds-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = { AIVMM_CACHE_DIR: join(dir, 'cache') };

const flags = (o: Partial<BenchFlags>): BenchFlags => ({ device: 'all', backend: [], shape: [], inputData: [], seed: '42', concurrency: '1', warmup: '1s', epOption: [], format: 'table', maxRegression: '5%', repeat: '1', prefer: 'latency', ...o });

test('--iterations above a million is refused, not capped', () => {
  assert.throws(() => settingsFromFlags(flags({ iterations: '2000000' })), (e: unknown) => e instanceof UsageError && /at most 1,000,000/.test(e.message));
  assert.equal(settingsFromFlags(flags({ iterations: '1000000' })).iterations, 1_000_000);
});

test('planShapes refuses inputs that cannot fit, from the dims', () => {
  const spec = [{ name: 'x', type: 'float32', shape: ['batch', 3, 224, 224] }] as const;
  assert.doesNotThrow(() => planShapes(spec, [], 8));
  assert.throws(() => planShapes(spec, [], 100_000), (e: unknown) => e instanceof UsageError && /would need about 56\.1 GiB/.test(e.message));
  assert.throws(() => planShapes([{ name: 'x', type: 'float32', shape: [1, 3, 99_999, 99_999] }], [], undefined), UsageError);
  assert.throws(() => planShapes(spec, [{ dims: [99_999_999, 3, 224, 224] }], undefined), UsageError);
});

test('an image input larger than memory is refused before decoding', () => {
  assert.doesNotThrow(() => imageSpecFor({ task: 'image-classification', layout: 'nchw', width: 224, height: 224 }));
  assert.throws(() => imageSpecFor({ task: 'image-classification', layout: 'nchw', width: 100_000, height: 100_000 }), UsageError);
});

test('bench --batch 100000 and --shape 99999999x… : exit 2, one line', async () => {
  for (const extra of [['--batch', '100000'], ['--shape', '99999999x3x224x224']]) {
    const r = await runCli(['bench', '--backend', 'ort-cpu', '-n', '1', '--warmup', '0', ...extra], { env });
    assert.equal(r.code, EXIT_CODES.USAGE, r.stderr);
    assert.match(r.stderr, /would need about/);
    assert.ok(!/Invalid typed array length|\n\s+at /.test(r.stderr), r.stderr);
  }
});

test('run --size 100000 on a model with dynamic height and width: exit 2 before decoding', async () => {
  const b = new GraphBuilder(1);
  const x = b.input({ name: 'pixel_values', dataType: 'float32', shape: [1, 3, 'h', 'w'] });
  const pooled = b.op('GlobalAveragePool', [x]);
  b.op('Flatten', [pooled], [], 'logits');
  b.output({ name: 'logits', dataType: 'float32', shape: [1, 3] });
  writeFileSync(join(dir, 'dyn.onnx'), encodeModel({ graph: b.graph('dyn') }));
  await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toFile(join(dir, 'a.png'));
  const ok = await runCli(['run', join(dir, 'dyn.onnx'), '--task', 'image-classification', '--input', join(dir, 'a.png'), '--size', '32'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  const r = await runCli(['run', join(dir, 'dyn.onnx'), '--task', 'image-classification', '--input', join(dir, 'a.png'), '--size', '100000'], { env });
  assert.equal(r.code, EXIT_CODES.USAGE, r.stderr);
  assert.match(r.stderr, /would need about/);
  assert.ok(!/\n\s+at /.test(r.stderr), r.stderr);
});

test('bench on a model with a 50-token vocabulary: generated ids fit it (was a Gather error)', async () => {
  const b = new GraphBuilder(1);
  const ids = b.input({ name: 'input_ids', dataType: 'int64', shape: ['batch', 'sequence_length'] });
  const emb = b.constant('wte', [50, 8], new Float32Array(50 * 8).fill(0.25));
  b.op('Gather', [emb, ids], [], 'hidden');
  b.output({ name: 'hidden', dataType: 'float32', shape: ['batch', 'sequence_length', 8] });
  writeFileSync(join(dir, 'vocab50.onnx'), encodeModel({ graph: b.graph('vocab50') }));
  const r = await runCli(['bench', join(dir, 'vocab50.onnx'), '--backend', 'ort-cpu', '-n', '5', '--warmup', '0', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
});
