/**
 * `aivmm run` end to end on generated models and images drawn with sharp: classification of a directory
 * in batches, detection with boxes mapped back to the original image and an annotated PNG, bad input.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import sharp from 'sharp';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
import { runCli } from '../helpers/run-cli.js';
import { mlp } from '../helpers/quant-models.js';

const schema = (name: string): object => JSON.parse(readFileSync(fileURLToPath(new URL(`../../docs/schemas/${name}`, import.meta.url)), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: false });
const validateRun = ajv.compile(schema('run-1.schema.json'));
const validateError = ajv.compile(schema('error-1.schema.json'));

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-run-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const env = { AIVMM_CACHE_DIR: join(dir, 'cache') };

async function image(path: string, width: number, height: number, seed: number): Promise<void> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * (seed + 3) + seed * 31) % 256;
  await sharp(raw, { raw: { width, height, channels: 3 } }).png().toFile(path);
}

/** A detector-shaped model: images [1,3,64,64] → output0 [1, 6, 3] = fixed boxes (+ 0 × mean(images)). */
function detector(): Uint8Array {
  const b = new GraphBuilder(1);
  const x = b.input({ name: 'images', dataType: 'float32', shape: [1, 3, 64, 64] });
  const anchors = [
    [32, 32, 16, 8, 0.9, 0.1],
    [33, 32, 16, 8, 0.8, 0.05],
    [10, 20, 4, 4, 0.1, 0.2],
  ];
  const values = new Float32Array(18);
  anchors.forEach((a, n) => a.forEach((v, c) => (values[c * 3 + n] = v)));
  const boxes = b.constant('boxes', [1, 6, 3], values);
  const mean = b.op('ReduceMean', [x], [{ name: 'axes', type: 'ints', value: [1, 2, 3] }, { name: 'keepdims', type: 'int', value: 0 }]);
  const zero = b.op('Mul', [mean, b.constant('zero', [], Float32Array.of(0))]);
  b.op('Add', [boxes, zero], [], 'output0');
  b.output({ name: 'output0', dataType: 'float32', shape: [1, 6, 3] });
  return encodeModel({ graph: b.graph('detector') });
}

test('classification: a directory in batches, top-k with a labels file, --json aivmm/run@1', async () => {
  const images = join(dir, 'images');
  mkdirSync(images);
  for (let i = 0; i < 5; i++) await image(join(images, `im${i}.png`), 48 + i * 10, 40, i);
  writeFileSync(join(images, 'readme.txt'), 'not an image');
  writeFileSync(join(dir, 'labels.txt'), Array.from({ length: 10 }, (_, i) => `thing ${i}`).join('\n'));
  const r = await runCli(['run', 'tiny-convnet', '--input', images, '--labels', join(dir, 'labels.txt'), '--top-k', '3', '--batch', '2', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { data: { task: string; results: { input: string; top: { label: string; probability: number }[] }[]; timing: { batch: number } } };
  assert.ok(validateRun(doc), ajv.errorsText(validateRun.errors));
  assert.equal(doc.data.task, 'image-classification');
  assert.equal(doc.data.results.length, 5);
  assert.equal(doc.data.timing.batch, 2);
  for (const res of doc.data.results) {
    assert.equal(res.top.length, 3);
    assert.match(res.top[0]!.label, /^thing \d$/);
    assert.ok(res.top[0]!.probability >= res.top[1]!.probability);
  }
  // Batched and one-by-one runs agree.
  const single = await runCli(['run', 'tiny-convnet', '--input', join(images, 'im3.png'), '--labels', join(dir, 'labels.txt'), '--top-k', '3', '--json'], { env });
  const one = JSON.parse(single.stdout) as typeof doc;
  assert.deepEqual(one.data.results[0]!.top.map((t) => t.label), doc.data.results[3]!.top.map((t) => t.label));
});

test('detection: boxes in the original image, NMS, labels, an annotated PNG of the original size', async () => {
  writeFileSync(join(dir, 'detector.onnx'), detector());
  await image(join(dir, 'wide.png'), 128, 64, 7);
  const out = join(dir, 'boxes.png');
  const r = await runCli(['run', join(dir, 'detector.onnx'), '--input', join(dir, 'wide.png'), '--labels', 'coco-80', '-o', out], { env });
  assert.equal(r.code, 2, 'the labels say 84 channels; this head has 6'); // 80 labels do not fit a 2-class head
  writeFileSync(join(dir, 'two.txt'), 'cat\ndog\n');
  const ok = await runCli(['run', join(dir, 'detector.onnx'), '--input', join(dir, 'wide.png'), '--labels', join(dir, 'two.txt'), '-o', out, '--json'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  const doc = JSON.parse(ok.stdout) as { data: { task: string; taskSource: string; results: { detections: { label: string; box: number[] }[]; annotated: string }[] } };
  assert.ok(validateRun(doc), ajv.errorsText(validateRun.errors));
  assert.equal(doc.data.task, 'object-detection');
  assert.equal(doc.data.taskSource, 'inferred');
  assert.deepEqual(doc.data.results[0]!.detections.map((d) => [d.label, d.box]), [['cat', [48, 24, 80, 40]]]);
  const meta = await sharp(out).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 128, 64]);
  const text = await runCli(['run', join(dir, 'detector.onnx'), '--input', join(dir, 'wide.png'), '--labels', join(dir, 'two.txt')], { env });
  assert.match(text.stdout, /wide\.png: 1 object \(128×64\)\n +90\.0% +cat +\[48, 24, 80, 40\]/);
});

test('bad input: one line, documented exit code, nothing half-written', async () => {
  writeFileSync(join(dir, 'fake.jpg'), 'this is text');
  writeFileSync(join(dir, 'notes.txt'), 'text');
  writeFileSync(join(dir, 'mlp.onnx'), mlp());
  const cases: [string[], number, RegExp][] = [
    [['run', 'tiny-convnet'], EXIT_CODES.USAGE, /no --input given/],
    [['run', 'tiny-convnet', '--input', join(dir, 'missing.png')], EXIT_CODES.NOT_FOUND, /input .*missing\.png not found/],
    [['run', 'tiny-convnet', '--input', join(dir, 'notes.txt')], EXIT_CODES.USAGE, /is not an image this task reads/],
    [['run', 'tiny-convnet', '--input', join(dir, 'fake.jpg')], EXIT_CODES.USAGE, /cannot read image .*fake\.jpg/],
    [['run', join(dir, 'mlp.onnx'), '--task', 'image-classification', '--input', join(dir, 'wide.png')], EXIT_CODES.USAGE, /inputs do not fit image-classification/],
    [['run', 'tiny-convnet', '--task', 'text-to-image', '--input', 'x'], EXIT_CODES.USAGE, /unsupported --task 'text-to-image'/],
    [['run', 'tiny-convnet', '--input', join(dir, 'wide.png'), '--conf', '2'], EXIT_CODES.USAGE, /invalid --conf '2'/],
    [['run', 'tiny-convnet', '--input', join(dir, 'wide.png'), '-o', join(dir, 'x.png')], EXIT_CODES.USAGE, /object-detection only/],
  ];
  for (const [argv, code, message] of cases) {
    const r = await runCli(argv, { env });
    assert.equal(r.code, code, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
    const j = await runCli([...argv, '--json'], { env });
    assert.ok(validateError(JSON.parse(j.stdout)), j.stdout);
  }
  assert.ok(!existsSync(join(dir, 'x.png')));
});

test('--device auto: the pair is chosen (probed, then cached) and said on stderr', async () => {
  const autoEnv = { AIVMM_CACHE_DIR: mkdtempSync(join(os.tmpdir(), 'aivmm-run-auto-')) };
  const first = await runCli(['run', 'tiny-convnet', '--device', 'auto', '--input', join(dir, 'wide.png'), '--json'], { env: autoEnv });
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /^auto: CPU ort-cpu: .*\(probed now\)/m);
  assert.equal((JSON.parse(first.stdout) as { data: { device: { id: string; backend: string } } }).data.device.backend, 'ort-cpu');
  const second = await runCli(['run', 'tiny-convnet', '--device', 'auto', '--input', join(dir, 'wide.png')], { env: autoEnv });
  assert.match(second.stderr, /cached\)/);
  assert.equal((await runCli(['run', 'tiny-convnet', '--input', join(dir, 'wide.png'), '--require', 'fp16'], { env: autoEnv })).code, EXIT_CODES.USAGE);
});
