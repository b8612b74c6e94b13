/** quantizeModel end to end on generated models: real calibration in onnxruntime, files on disk, the report. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import sharp from 'sharp';
import { quantizeModel, chooseMode } from '../../src/core/quantize/index.js';
import type { QuantizeOptions } from '../../src/core/quantize/index.js';
import { decodeModel, readModelFile } from '../../src/core/quantize/onnx-reader.js';
import { writeModelFile, encodeModel } from '../../src/core/quantize/onnx-writer.js';
import { GraphBuilder } from '../../src/core/quantize/graph-builder.js';
import { ortBackend } from '../../src/core/backends/ort.js';
import { UsageError } from '../../src/core/errors.js';
import { convNet, mlp } from '../helpers/quant-models.js';
import { CPU_TARGET } from '../../src/core/backends/ep-map.js';

const cpu = CPU_TARGET;

function setup(model: Uint8Array, name = 'model.onnx'): { dir: string; path: string } {
  const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-quantize-'));
  const path = join(dir, name);
  writeFileSync(path, model);
  return { dir, path };
}

function options(path: string, extra: Partial<QuantizeOptions> = {}): QuantizeOptions {
  return {
    model: path,
    output: path.replace(/\.onnx$/, '.q.onnx'),
    perChannel: true,
    method: 'minmax',
    exclude: [],
    keepIoTypes: true,
    target: cpu,
    device: { id: 'CPU', name: 'CPU', backend: 'ort-cpu' },
    latencyMs: 0,
    calibration: 'random:8',
    ...extra,
  };
}

function npy(dims: number[], values: Float32Array): Buffer {
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims.join(', ')}), }`.padEnd(117, ' ') + '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(values.buffer)]);
}

test('static: a conv net calibrated on random data → int8 QDQ file that loads, cosine ≥ 0.99, report filled in', async () => {
  const { path } = setup(convNet());
  const r = await quantizeModel(options(path, { latencyMs: 300 }));
  assert.equal(r.mode, 'static');
  assert.match(r.modeReason ?? '', /conv net/);
  assert.ok(existsSync(r.output.path));
  await (await ortBackend.load(r.output.path, cpu)).dispose();
  assert.ok(r.fidelity.cosine >= 0.99, `cosine ${r.fidelity.cosine}`);
  assert.equal(r.calibration?.samples, 8);
  assert.equal(r.evaluation.samples, 16);
  assert.ok(r.nodes.byOpType['Conv'] === 4 && r.nodes.byOpType['Gemm'] === 1);
  assert.ok(r.nodes.quantizeLinear > 0 && r.nodes.dequantizeLinear > r.nodes.quantizeLinear);
  assert.equal(r.nodes.biasCorrected, 5);
  assert.ok(r.size.ratio > 0); // Q/DQ parameters outweigh this tiny model's weights
  assert.ok(r.fidelity.worstLayers.length > 0);
  assert.ok(r.latency && r.latency.runs >= 20 && r.latency.ratio > 0);
  assert.ok(r.warnings.some((w) => /random inputs/.test(w)));
});

test('static on MobileNetV2: cosine ≥ 0.9995 with bias correction, size ≤ 27% of FP32', async () => {
  const { buildMobilenetV2 } = await import('../../src/core/hub/embedded.js');
  const { path } = setup(buildMobilenetV2());
  const r = await quantizeModel(options(path, { calibration: 'random:16' }));
  assert.ok(r.fidelity.cosine >= 0.9995, `cosine ${r.fidelity.cosine}`);
  assert.ok(r.size.ratio <= 0.27, `size ${r.size.ratio}`);
  assert.equal(r.nodes.byOpType['Conv'], 52);
});

test('static: a directory of images calibrates (a fifth held back), percentile and entropy methods run', async () => {
  const { dir, path } = setup(convNet());
  const images = join(dir, 'images');
  (await import('node:fs')).mkdirSync(images);
  for (let i = 0; i < 10; i++) {
    const raw = Buffer.alloc(40 * 30 * 3);
    for (let p = 0; p < raw.length; p++) raw[p] = (p * (i + 3) + i * 17) % 256;
    await sharp(raw, { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(join(images, `img${i}.png`));
  }
  writeFileSync(join(images, 'notes.txt'), 'ignored');
  for (const method of ['minmax', 'percentile', 'entropy'] as const) {
    const r = await quantizeModel(options(path, { calibration: images, method, output: join(dir, `${method}.onnx`) }));
    assert.equal(r.calibration?.samples, 8);
    assert.equal(r.evaluation.samples, 2);
    assert.match(r.calibration?.source ?? '', /10 images/);
    assert.match(r.evaluation.source, /held-back/);
    // Entropy clips hardest (TensorRT's KL search): on this tiny random net it costs the most.
    assert.ok(r.fidelity.cosine > (method === 'entropy' ? 0.95 : 0.98), `${method}: cosine ${r.fidelity.cosine}`);
    assert.ok(!r.warnings.some((w) => /random inputs/.test(w)));
  }
});

test('poor fidelity is reported loudly, naming the worst layers', async () => {
  const { dir, path } = setup(convNet());
  const data = join(dir, 'npy');
  (await import('node:fs')).mkdirSync(data);
  // Calibrated on near-constant inputs, judged on a held-back input of another scale entirely.
  for (let i = 0; i < 4; i++) writeFileSync(join(data, `a${i}.npy`), npy([1, 3, 16, 16], new Float32Array(768).fill(0.001 * i)));
  writeFileSync(join(data, 'b.npy'), npy([1, 3, 16, 16], Float32Array.from({ length: 768 }, (_, k) => Math.sin(k) * 50)));
  const r = await quantizeModel(options(path, { calibration: data }));
  assert.ok(r.fidelity.cosine < 0.99);
  assert.match(r.warnings[0] ?? '', /^POOR FIDELITY: cosine .*worst layers: /);
});

test('dynamic: MatMul and Gemm become DynamicQuantizeMatMul; auto mode picks it for MatMul-heavy models', async () => {
  const { path } = setup(mlp());
  assert.equal(chooseMode(decodeModel(mlp())).mode, 'dynamic');
  assert.equal(chooseMode(decodeModel(convNet())).mode, 'static');
  const r = await quantizeModel(options(path, { calibration: undefined }));
  assert.equal(r.mode, 'dynamic');
  assert.deepEqual(r.nodes.byOpType, { MatMul: 2, Gemm: 1 });
  const out = decodeModel(new Uint8Array((await import('node:fs')).readFileSync(r.output.path)));
  assert.equal(out.graph.nodes.filter((n) => n.opType === 'DynamicQuantizeMatMul').length, 3);
  assert.ok(r.fidelity.cosine >= 0.999, `cosine ${r.fidelity.cosine}`);
  assert.ok(r.size.ratio < 0.35);
});

test('fp16: float32 I/O kept by default; without it the model takes float16 and still compares', async () => {
  const { path, dir } = setup(convNet());
  const kept = await quantizeModel(options(path, { mode: 'fp16' }));
  assert.ok(kept.fidelity.cosine > 0.9999);
  const s = await ortBackend.load(kept.output.path, cpu);
  assert.equal(s.inputs[0]?.type, 'float32');
  await s.dispose();
  const half = await quantizeModel(options(path, { mode: 'fp16', keepIoTypes: false, output: join(dir, 'half.onnx') }));
  const h = await ortBackend.load(half.output.path, cpu);
  assert.equal(h.inputs[0]?.type, 'float16');
  assert.equal(h.outputs[0]?.type, 'float16');
  await h.dispose();
  assert.ok(half.fidelity.cosine > 0.999);
});

test('fp16 keeps ops without float16 kernels (TopK) in float32 between Casts', async () => {
  const b = new GraphBuilder(2);
  const x = b.input({ name: 'x', dataType: 'float32', shape: [1, 32] });
  const w = b.constant('w', [32, 32], b.normal(1024, 0.2));
  const h = b.op('MatMul', [x, w]);
  const k = b.constant('k', [1], BigInt64Array.of(5n), 'int64');
  b.nodes.push({ opType: 'TopK', inputs: [h, k], outputs: ['values', 'indices'], name: 'topk' });
  b.output({ name: 'values', dataType: 'float32', shape: [1, 5] });
  b.output({ name: 'indices', dataType: 'int64', shape: [1, 5] });
  const { path } = setup(encodeModel({ graph: b.graph('topk') }));
  const r = await quantizeModel(options(path, { mode: 'fp16' }));
  assert.deepEqual(r.nodes.skipped.map((s) => s.opType), ['TopK']);
  assert.ok(r.fidelity.cosine > 0.9999);
});

test('external data in → external data out, read and written without loading all weights at once', async () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-quantize-ext-'));
  const src = join(dir, 'big.onnx');
  await writeModelFile(src, decodeModel(mlp()), { externalData: 'always' });
  const r = await quantizeModel(options(src, { mode: 'fp16', calibration: undefined, output: join(dir, 'out', 'big.fp16.onnx') }));
  assert.ok(r.output.dataPath && existsSync(r.output.dataPath));
  const back = await readModelFile(r.output.path);
  assert.ok(back.model.graph.initializers.some((t) => t.external));
  assert.ok(r.fidelity.cosine > 0.9999);
  assert.deepEqual(readdirSync(dir).sort(), ['big.onnx', 'big.onnx.data', 'out']); // calibration temp files removed
});

test('bad input: not ONNX, already quantized, no float weights, wrong calibration shape, output = input', async () => {
  const { dir, path } = setup(new TextEncoder().encode('not a model at all'));
  await assert.rejects(quantizeModel(options(path)), (e: Error) => e instanceof UsageError && /is not an ONNX model/.test(e.message));
  const good = setup(convNet());
  const q = await quantizeModel(options(good.path));
  await assert.rejects(quantizeModel(options(q.output.path, { output: join(good.dir, 'again.onnx') })), /already quantized/);
  const b = new GraphBuilder(1);
  const x = b.input({ name: 'x', dataType: 'float32', shape: [2, 3] });
  b.op('Reshape', [x, b.constant('s', [1], BigInt64Array.of(-1n), 'int64')], [], 'y');
  b.output({ name: 'y', dataType: 'float32', shape: [6] });
  const noWeights = setup(encodeModel({ graph: b.graph('reshape') }));
  await assert.rejects(quantizeModel(options(noWeights.path)), /no float32 weights/);
  writeFileSync(join(dir, 'wrong.npy'), npy([1, 3, 8, 8], new Float32Array(192)));
  const out = join(good.dir, 'never.onnx');
  await assert.rejects(quantizeModel(options(good.path, { calibration: join(dir, 'wrong.npy'), output: out })), /shape \[1, 3, 8, 8\]; the model expects \[N, 3, 16, 16\]/);
  assert.ok(!existsSync(out));
  await assert.rejects(quantizeModel(options(good.path, { output: good.path })), /is the input model/);
  await assert.rejects(quantizeModel(options(join(dir, 'missing.onnx'))), /not found/);
});
