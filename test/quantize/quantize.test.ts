/** quantizeModel end to end on generated models: real calibration in onnxruntime, files on disk, the report. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import os from 'node:os';
import sharp from 'sharp';
import { quantizeModel, chooseMode } from '../../src/core/quantize/index.js';
import type { QuantizeEvent, QuantizeOptions } from '../../src/core/quantize/index.js';
import { decodeModel, readModelFile } from '../../src/core/onnx/reader.js';
import { writeModelFile, encodeModel } from '../../src/core/onnx/writer.js';
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { ortBackend } from '../../src/core/backends/ort.js';
import { CancelledError, ConfigError, UsageError } from '../../src/core/errors.js';
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
  const { buildMobilenetV2 } = await import('../../src/core/models/embedded.js');
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
  mkdirSync(join(dir, 'out'));
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

test('a failure during evaluation leaves an existing target as it was, and no staging files', async () => {
  const { dir, path } = setup(convNet());
  const out = join(dir, 'model.q.onnx');
  writeFileSync(out, 'the good old model');
  const stages: string[] = [];
  // Calibration runs on the CPU; evaluation on the target, which onnxruntime cannot open: the run fails at 'evaluate'.
  const target = { runtime: 'openvino' as const, device: 'CPU' };
  await assert.rejects(quantizeModel(options(path, { target, onEvent: (e) => e.kind === 'stage' && stages.push(e.stage) })), /onnxruntime cannot run target/);
  assert.deepEqual(stages.slice(-2), ['write', 'evaluate']);
  assert.equal(readFileSync(out, 'utf8'), 'the good old model');
  assert.deepEqual(readdirSync(dir).sort(), ['model.onnx', 'model.q.onnx']);
});

test('an abort during evaluation or latency rejects with CancelledError at once; the target is untouched', async () => {
  const { dir, path } = setup(convNet());
  const out = join(dir, 'model.q.onnx');
  writeFileSync(out, 'the good old model');
  for (const stage of ['evaluate', 'latency'] as const) {
    const controller = new AbortController();
    let abortedAt = 0;
    const onEvent = (e: QuantizeEvent): void => {
      if (e.kind === 'stage' && e.stage === stage) {
        abortedAt = performance.now();
        controller.abort();
      }
    };
    await assert.rejects(quantizeModel(options(path, { latencyMs: 60_000, onEvent, signal: controller.signal })), (e: Error) => e instanceof CancelledError);
    assert.ok(abortedAt > 0, `reached ${stage}`);
    assert.ok(performance.now() - abortedAt < 5000, `${stage}: stopped ${Math.round(performance.now() - abortedAt)} ms after the abort`);
    assert.equal(readFileSync(out, 'utf8'), 'the good old model');
    assert.deepEqual(readdirSync(dir).sort(), ['model.onnx', 'model.q.onnx']);
  }
});

test('staging directories of killed runs are removed by the next run; those of live processes are kept', async () => {
  const { dir, path } = setup(convNet());
  const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
  const stale = join(dir, `.model.q.onnx.tmp.${dead}.0123456789ab`);
  const live = join(dir, `.model.q.onnx.tmp.${process.ppid}.ba9876543210`);
  const other = join(dir, `.other.onnx.tmp.${dead}.0123456789ab`);
  for (const d of [stale, live, other]) {
    mkdirSync(d);
    writeFileSync(join(d, 'model.q.onnx'), 'half a model');
  }
  const r = await quantizeModel(options(path));
  assert.ok(existsSync(r.output.path));
  assert.ok(!existsSync(stale), 'the dead run\'s staging directory is gone');
  assert.ok(existsSync(live) && existsSync(other));
});

test('-o into a missing or unwritable place: ConfigError before any work, nothing created', async () => {
  const { dir, path } = setup(convNet());
  const events: QuantizeEvent[] = [];
  await assert.rejects(quantizeModel(options(path, { output: join(dir, 'no', 'such', 'dir', 'm.onnx'), onEvent: (e) => events.push(e) })), (e: Error) => e instanceof ConfigError && /directory .*no\/such\/dir does not exist/.test(e.message));
  writeFileSync(join(dir, 'file'), '');
  await assert.rejects(quantizeModel(options(path, { output: join(dir, 'file', 'm.onnx'), onEvent: (e) => events.push(e) })), (e: Error) => e instanceof ConfigError && /is not a directory/.test(e.message));
  mkdirSync(join(dir, 'x.onnx'));
  await assert.rejects(quantizeModel(options(path, { output: join(dir, 'x.onnx'), onEvent: (e) => events.push(e) })), (e: Error) => e instanceof ConfigError && /it is a directory/.test(e.message));
  assert.deepEqual(events, []);
  assert.deepEqual(readdirSync(dir).sort(), ['file', 'model.onnx', 'x.onnx']);
});

/** input_ids/attention_mask [B, S] → embedding Gather → MatMul → mean over S: a minilm-style text model. */
function textModel(): Uint8Array {
  const b = new GraphBuilder(9);
  const ids = b.input({ name: 'input_ids', dataType: 'int64', shape: ['B', 'S'] });
  const mask = b.input({ name: 'attention_mask', dataType: 'int64', shape: ['B', 'S'] });
  const emb = b.op('Gather', [b.constant('emb', [1000, 32], b.normal(32_000, 0.5)), ids]);
  const m = b.op('Unsqueeze', [b.op('Cast', [mask], [{ name: 'to', type: 'int', value: 1 }]), b.constant('axes', [1], BigInt64Array.of(-1n), 'int64')]);
  const h = b.op('Mul', [b.op('MatMul', [emb, b.constant('w', [32, 32], b.normal(1024, 0.2))]), m]);
  b.op('ReduceMean', [h, b.constant('ax', [1], BigInt64Array.of(1n), 'int64')], [{ name: 'keepdims', type: 'int', value: 0 }], 'pooled');
  b.output({ name: 'pooled', dataType: 'float32', shape: ['B', 32] });
  return encodeModel({ opsets: [{ domain: '', version: 18 }], graph: b.graph('text') });
}

test('dynamic on [B, S] text models needs no --shape (batch 1, sequence 16); --shape sets the sequence for every input', async () => {
  const { dir, path } = setup(textModel());
  const r = await quantizeModel(options(path, { mode: 'dynamic', calibration: undefined }));
  assert.equal(r.nodes.byOpType['MatMul'], 1);
  assert.ok(r.fidelity.cosine > 0.999);
  const seen: number[][] = [];
  const { sampleShapes } = await import('../../src/core/quantize/samples.js');
  const inputs = [
    { name: 'input_ids', type: 'int64', shape: ['B', 'S'] },
    { name: 'attention_mask', type: 'int64', shape: ['B', 'T'] },
    { name: 'past_key_values.0.key', type: 'float32', shape: [1, 2, 'P', 8] },
  ];
  const d = sampleShapes(inputs, []);
  seen.push(d['input_ids']!, d['attention_mask']!, d['past_key_values.0.key']!);
  assert.deepEqual(seen, [[1, 16], [1, 16], [1, 2, 0, 8]]);
  const g = sampleShapes(inputs, [{ name: 'input_ids', dims: [2, 40] }]);
  assert.deepEqual([g['input_ids'], g['attention_mask']], [[2, 40], [1, 40]]);
  const r2 = await quantizeModel(options(path, { mode: 'dynamic', calibration: undefined, shapes: [{ name: 'input_ids', dims: [2, 8] }], output: join(dir, 'b.onnx') }));
  assert.ok(r2.fidelity.cosine > 0.999);
  assert.throws(() => sampleShapes(inputs, [{ name: 'nope', dims: [1, 2] }]), /does not have/);
  const llama = fileURLToPath(new URL('../fixtures/tiny-llama/model.onnx', import.meta.url));
  const r3 = await quantizeModel({ ...options(llama, { mode: 'dynamic', calibration: undefined }), output: join(dir, 'llama.int8.onnx') });
  assert.ok(r3.nodes.quantized > 0 && r3.fidelity.cosine > 0.99, `cosine ${r3.fidelity.cosine}`);
});
