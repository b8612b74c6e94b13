/**
 * `aivmm run` checks what is local before it downloads or runs anything (#15): the -o destination
 * (exit 3, one line), inputs whose annotated copies would share a name, missing inputs of a catalog
 * model, a misspelt --backend (exit 2 in every command).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
import { runCli } from '../helpers/run-cli.js';

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-run-checks-'));
after(() => rmSync(dir, { recursive: true, force: true }));
// A Hub nobody answers: anything that tries to download fails with a network error (exit 4).
const env = { AIVMM_CACHE_DIR: join(dir, 'cache'), HF_HUB_CACHE: join(dir, 'hub'), HF_ENDPOINT: 'http://127.0.0.1:9', HF_HUB_OFFLINE: undefined };

/** images [1,3,32,32] → output0 [1, 6, 8]: fixed boxes (+ 0 × mean(images)). */
function detector(): Uint8Array {
  const b = new GraphBuilder(1);
  const x = b.input({ name: 'images', dataType: 'float32', shape: [1, 3, 32, 32] });
  const values = new Float32Array(6 * 8);
  [[16, 16, 8, 8, 0.9, 0.1], [5, 5, 4, 4, 0.1, 0.8]].forEach((a, n) => a.forEach((v, c) => (values[c * 8 + n] = v)));
  const boxes = b.constant('boxes', [1, 6, 8], values);
  const mean = b.op('ReduceMean', [x], [{ name: 'axes', type: 'ints', value: [1, 2, 3] }, { name: 'keepdims', type: 'int', value: 0 }]);
  const zero = b.op('Mul', [mean, b.constant('zero', [], Float32Array.of(0))]);
  b.op('Add', [boxes, zero], [], 'output0');
  b.output({ name: 'output0', dataType: 'float32', shape: [1, 6, 8] });
  return encodeModel({ graph: b.graph('detector') });
}

const model = join(dir, 'detector.onnx');
writeFileSync(model, detector());
const png = (p: string): Promise<unknown> => sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toFile(p);

const oneLine = (stderr: string): void => {
  assert.ok(!/\n\s+at /.test(stderr), `no stack trace:\n${stderr}`);
  assert.ok(!/internal error/.test(stderr), stderr);
  assert.ok(stderr.trim().split('\n').length <= 2, `one error line and a hint:\n${stderr}`);
};

test('-o into a missing directory: exit 3, one line, before the model runs', async () => {
  await png(join(dir, 'a.png'));
  const r = await runCli(['run', model, '--task', 'object-detection', '--input', join(dir, 'a.png'), '-o', join(dir, 'missing', 'sub', 'x.png')], { env });
  assert.equal(r.code, EXIT_CODES.CONFIG, r.stderr);
  assert.match(r.stderr, /does not exist/);
  oneLine(r.stderr);
  assert.ok(!existsSync(join(dir, 'missing')));
  // -o that is a file where a directory is needed
  writeFileSync(join(dir, 'plain.txt'), 'x');
  const f = await runCli(['run', model, '--task', 'object-detection', '--input', join(dir, 'a.png'), '--input', join(dir, 'a.png'), '-o', join(dir, 'plain.txt')], { env });
  assert.equal(f.code, EXIT_CODES.CONFIG, f.stderr);
  oneLine(f.stderr);
});

test('-o dir with two inputs of the same name: refused (exit 2), nothing overwritten', async () => {
  mkdirSync(join(dir, 'd1'));
  mkdirSync(join(dir, 'd2'));
  await png(join(dir, 'd1', 'x.png'));
  await png(join(dir, 'd2', 'x.jpg'));
  const out = join(dir, 'out');
  const r = await runCli(['run', model, '--task', 'object-detection', '--input', join(dir, 'd1', 'x.png'), '--input', join(dir, 'd2', 'x.jpg'), '-o', out], { env });
  assert.equal(r.code, EXIT_CODES.USAGE, r.stderr);
  assert.match(r.stderr, /would both be written to .*x\.png/);
  oneLine(r.stderr);
  assert.deepEqual(existsSync(out) ? readdirSync(out) : [], []);
  // distinct names still work
  const ok = await runCli(['run', model, '--task', 'object-detection', '--input', join(dir, 'd1', 'x.png'), '--input', join(dir, 'a.png'), '-o', out], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['a.png', 'x.png']);
});

test('a catalog model is not downloaded before a missing input, a bad -o or a misspelt backend is refused', async () => {
  const r = await runCli(['run', 'yolov8n', '--input', join(dir, 'nosuch.jpg')], { env });
  assert.equal(r.code, EXIT_CODES.NOT_FOUND, r.stderr);
  assert.match(r.stderr, /input .*nosuch\.jpg not found/);
  oneLine(r.stderr);
  await png(join(dir, 'b.png'));
  const o = await runCli(['run', 'yolov8n', '--input', join(dir, 'b.png'), '-o', join(dir, 'missing', 'y.png')], { env });
  assert.equal(o.code, EXIT_CODES.CONFIG, o.stderr);
  const b = await runCli(['run', 'yolov8n', '--input', join(dir, 'b.png'), '--backend', 'ort-cpux'], { env });
  assert.equal(b.code, EXIT_CODES.USAGE, b.stderr);
  assert.match(b.stderr, /unknown backend 'ort-cpux'/);
  assert.ok(!existsSync(join(dir, 'hub')) || readdirSync(join(dir, 'hub')).length === 0, 'nothing was fetched');
});

test('a misspelt --backend is exit 2 in run, quantize and bench alike', async () => {
  for (const argv of [
    ['run', model, '--input', join(dir, 'a.png'), '--backend', 'ort-cdua'],
    ['quantize', model, '--backend', 'ort-cdua'],
    ['bench', model, '--backend', 'ort-cdua'],
  ]) {
    const r = await runCli(argv, { env });
    assert.equal(r.code, EXIT_CODES.USAGE, `${argv[0]}: ${r.stderr}`);
    assert.match(r.stderr, /unknown backend 'ort-cdua'/);
  }
});
