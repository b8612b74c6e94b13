/** QDQ placement on small graphs, the quantization arithmetic, calibration statistics and bias correction. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { decodeModel } from '../../src/core/onnx/reader.js';
import { hoistConstants } from '../../src/core/onnx/graph.js';
import { quantizeModel } from '../../src/core/quantize/index.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
import { tensorFloats } from '../../src/core/onnx/model.js';
import type { ModelSpec, NodeSpec } from '../../src/core/onnx/model.js';
import { planStatic, quantizeStatic, quantizeWeightInt8, uint8Params } from '../../src/core/quantize/static.js';
import { entropyThreshold, percentileThreshold } from '../../src/core/quantize/calibrate.js';
import { weightShift } from '../../src/core/quantize/bias-correction.js';
import type { QuantizedBias } from '../../src/core/quantize/static.js';
import { ortBackend } from '../../src/core/backends/ort.js';
import { UsageError } from '../../src/core/errors.js';
import { convNetSpec, randomFloats } from '../helpers/quant-models.js';
import { CPU_TARGET } from '../../src/core/backends/ep-map.js';

const opts = { perChannel: true, exclude: new Set<string>() };
const ranges = (m: ModelSpec): Map<string, { min: number; max: number }> => new Map(planStatic(m, opts).tensors.map((t) => [t, { min: -2, max: 4 }]));
const consumersOf = (m: ModelSpec, t: string): NodeSpec[] => m.graph.nodes.filter((n) => n.inputs.includes(t));
const producerOf = (m: ModelSpec, t: string): NodeSpec | undefined => m.graph.nodes.find((n) => n.outputs.includes(t));

test('uint8 activation parameters include zero exactly; int8 weights are symmetric per channel', () => {
  assert.deepEqual(uint8Params({ min: 0, max: 6 }), { scale: 6 / 255, zeroPoint: 0 });
  const p = uint8Params({ min: -1, max: 3 });
  assert.ok(Math.abs(p.scale - 4 / 255) < 1e-12);
  assert.equal(p.zeroPoint, 64); // round(1 / (4/255)) = round(63.75)
  assert.deepEqual(uint8Params({ min: 0.5, max: 2 }), { scale: 2 / 255, zeroPoint: 0 }); // range widened to 0
  assert.deepEqual(uint8Params({ min: 0, max: 0 }), { scale: 1, zeroPoint: 0 });
  // Two channels along axis 0: absmax 2 and 0.5 → scales 2/127 and 0.5/127.
  const { q, scales } = quantizeWeightInt8(Float32Array.of(2, -1, 0.5, -0.25), [2, 2], 0);
  assert.deepEqual([...scales].map((s) => s * 127), [2, 0.5].map((x) => Math.fround(x / 127) * 127));
  assert.deepEqual([...q], [127, -64, 127, -64]);
  const perTensor = quantizeWeightInt8(Float32Array.of(2, -1, 0.5, -0.25), [2, 2], undefined);
  assert.deepEqual([...perTensor.q], [127, -64, 32, -16]);
});

test('QDQ placement: weights int8 per channel with DequantizeLinear, bias int32, Relu/Clip folded, graph output float', () => {
  const m = convNetSpec();
  const r = quantizeStatic(m, ranges(m), opts);
  const q = r.model;
  const byType = (t: string): NodeSpec[] => q.graph.nodes.filter((n) => n.opType === t);
  assert.equal(byType('Relu').length, 0, 'Relu after Conv folded into its range');
  assert.equal(byType('Clip').length, 0, 'Clip(0,6) after Conv folded');
  assert.equal(r.foldedActivations, 2);
  for (const conv of [...byType('Conv'), ...byType('Gemm')]) {
    for (const k of [0, 1, 2]) {
      const dq = producerOf(q, conv.inputs[k]!);
      assert.equal(dq?.opType, 'DequantizeLinear', `${conv.name} input ${k} comes from a DequantizeLinear`);
    }
    const w = q.graph.initializers.find((t) => t.name === producerOf(q, conv.inputs[1]!)!.inputs[0]);
    assert.equal(w?.dataType, 'int8');
    const axis = producerOf(q, conv.inputs[1]!)!.attributes?.find((a) => a.name === 'axis');
    assert.deepEqual(axis, { name: 'axis', type: 'int', value: 0 }, 'per output channel (Conv and Gemm with transB)');
    const b = q.graph.initializers.find((t) => t.name === producerOf(q, conv.inputs[2]!)!.inputs[0]);
    assert.equal(b?.dataType, 'int32');
  }
  // Every activation a quantized op reads comes through Q → DQ, and the graph output is not quantized.
  const add = byType('Add')[0]!;
  for (const x of add.inputs) {
    const dq = producerOf(q, x)!;
    assert.equal(dq.opType, 'DequantizeLinear');
    assert.equal(producerOf(q, dq.inputs[0]!)?.opType, 'QuantizeLinear');
  }
  assert.equal(producerOf(q, 'logits')?.opType, 'Gemm');
  assert.equal(consumersOf(q, 'logits').length, 0);
  // MaxPool keeps its input's scale: the Q after it uses the same parameters as the Q before it.
  const pool = byType('MaxPool')[0]!;
  const before = producerOf(q, producerOf(q, pool.inputs[0]!)!.inputs[0]!)!;
  const after = consumersOf(q, pool.outputs[0]!).find((n) => n.opType === 'QuantizeLinear')!;
  const value = (name: string): number => tensorFloats(q.graph.initializers.find((t) => t.name === name)!)[0]!;
  assert.equal(value(after.inputs[1]!), value(before.inputs[1]!));
  assert.equal(r.layers.length, r.quantizedNodes.length);
});

test('the QDQ model runs in onnxruntime, close to the float model, and onnxruntime fuses it into integer kernels', async () => {
  const cpu = CPU_TARGET;
  const m = convNetSpec();
  // Ranges from the float model itself (a real calibration is tested end to end in quantize.test.ts).
  const plan = planStatic(m, opts);
  const float = await ortBackend.load(encodeModel(m), cpu);
  const x = randomFloats([1, 3, 16, 16], 9);
  const { calibrate } = await import('../../src/core/quantize/calibrate.js');
  const { inferTypes } = await import('../../src/core/onnx/graph.js');
  const ranges = await calibrate((s) => ortBackend.load(encodeModel(s), cpu), m, plan.tensors, inferTypes(m), [{ x }], { method: 'minmax' });
  const q = quantizeStatic(m, ranges, opts).model;
  const quant = await ortBackend.load(encodeModel(q), cpu, { profile: { dir: (await import('node:os')).tmpdir() } });
  const a = (await float.run({ x }))['logits']!.data as Float32Array;
  const b = (await quant.run({ x }))['logits']!.data as Float32Array;
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) [dot, aa, bb] = [dot + a[i]! * b[i]!, aa + a[i]! ** 2, bb + b[i]! ** 2];
  assert.ok(dot / Math.sqrt(aa * bb) > 0.995, `cosine ${dot / Math.sqrt(aa * bb)}`);
  assert.ok(Number((await quant.placement())?.['CPUExecutionProvider']) > 0);
});

test('--exclude keeps op types and node names in float; opset < 10 is refused; opset 12 falls back to per-tensor weights', () => {
  const m = convNetSpec();
  const r = quantizeStatic(m, ranges(m), { perChannel: true, exclude: new Set(['Gemm', 'Conv_0']) });
  assert.ok(!r.quantizedNodes.some((n) => n.opType === 'Gemm' || n.name === 'Conv_0'));
  assert.ok(r.quantizedNodes.some((n) => n.opType === 'Conv'));
  assert.throws(() => planStatic(convNetSpec(9), opts), UsageError);
  const old = convNetSpec(12);
  assert.equal(planStatic(old, opts).perChannelDowngraded, true);
  const q = quantizeStatic(old, ranges(old), opts).model;
  assert.ok(q.graph.nodes.filter((n) => n.opType === 'DequantizeLinear').every((n) => !n.attributes?.some((a) => a.name === 'axis')));
});

test('percentile and entropy thresholds clip outliers that min/max keeps', () => {
  const hist = new Float64Array(2048);
  // Most mass in the first 200 bins, a single outlier at the end.
  for (let i = 0; i < 200; i++) hist[i] = 1000;
  hist[2047] = 1;
  const p = percentileThreshold(hist, 10, 99.99);
  assert.ok(p < 1.5 && p > 0.9, `percentile threshold ${p}`);
  assert.equal(percentileThreshold(hist, 10, 100), 10);
  const e = entropyThreshold(hist, 10, 128);
  assert.ok(e < 2 && e >= 0.6, `entropy threshold ${e}`);
});

test('bias correction: the shift is Σ (W_q − W)·E[x] per output channel', () => {
  // Gemm with transB: W [2 outputs, 3 inputs]; scale 0.1 → W_q·s = round(W/0.1)·0.1.
  const w = Float32Array.of(0.04, 0.26, -0.13, 0.5, 0.05, 0.0);
  const q = Int8Array.of(0, 3, -1, 5, 1, 0); // rounded (0.05 → 1 with Math.round's half-up; any rounding is fine here)
  const b: QuantizedBias = { opType: 'Gemm', initializer: 'b', scales: Float32Array.of(1), input: 'x', weight: 'w', weightQuantized: 'wq', weightScales: Float32Array.of(0.1), group: 1, transB: true };
  const mean = Float64Array.of(1, 2, -1);
  const shift = weightShift(b, w, [2, 3], q, mean);
  const expect0 = (0 - 0.04) * 1 + (0.3 - 0.26) * 2 + (-0.1 + 0.13) * -1;
  const expect1 = (0.5 - 0.5) * 1 + (0.1 - 0.05) * 2 + 0;
  assert.ok(Math.abs(shift[0]! - expect0) < 1e-6 && Math.abs(shift[1]! - expect1) < 1e-6, `${shift}`);
});

/**
 * The patterns torch.onnx writes (opset 17): Clip/ReLU6 bounds as Constant nodes, Conv → Relu and
 * Add → Relu (ResNet), an inverted residual (MobileNetV2), a fire module's Relu → Concat (SqueezeNet).
 */
function exporterNet(): Uint8Array {
  const b = new GraphBuilder(21);
  const x = b.input({ name: 'input', dataType: 'float32', shape: ['batch_size', 3, 32, 32] });
  const k = (v: number): string => {
    const out = b.name('constant');
    b.nodes.push({ opType: 'Constant', inputs: [], outputs: [out], name: `Constant_${b.nodes.length}`, attributes: [{ name: 'value', type: 'tensor', value: { name: '', dataType: 'float32', dims: [], data: Float32Array.of(v) } }] });
    return out;
  };
  const relu6 = (t: string): string => b.op('Clip', [t, k(0), k(6)]);
  const h = relu6(b.conv(x, 3, 16, 3, { stride: 2 }));
  const e = relu6(b.conv(h, 16, 32, 1));
  const d = relu6(b.conv(e, 32, 32, 3, { group: 32 }));
  const h2 = b.op('Add', [h, b.conv(d, 32, 16, 1, { gain: 1 })]);
  const r = b.op('Relu', [b.conv(h2, 16, 16, 3)]);
  const r2 = b.op('Relu', [b.op('Add', [b.conv(r, 16, 16, 3, { gain: 1 }), h2])]);
  const mp = b.op('MaxPool', [r2], [{ name: 'kernel_shape', type: 'ints', value: [2, 2] }, { name: 'strides', type: 'ints', value: [2, 2] }]);
  const s = b.op('Relu', [b.conv(mp, 16, 8, 1)]);
  const cat = b.op('Concat', [b.op('Relu', [b.conv(s, 8, 16, 1)]), b.op('Relu', [b.conv(s, 8, 16, 3)])], [{ name: 'axis', type: 'int', value: 1 }]);
  const flat = b.op('Flatten', [b.op('GlobalAveragePool', [cat])], [{ name: 'axis', type: 'int', value: 1 }]);
  b.gemm(flat, 32, 10, 'logits');
  b.output({ name: 'logits', dataType: 'float32', shape: ['batch_size', 10] });
  return encodeModel({ opsets: [{ domain: '', version: 17 }], graph: b.graph('exporter') });
}

test('exporter patterns (Clip bounds in Constant nodes, Relu after Add, Relu → Concat): everything fuses in onnxruntime', async () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-static-exporter-'));
  const path = join(dir, 'net.onnx');
  writeFileSync(path, exporterNet());
  const r = await quantizeModel({ model: path, output: join(dir, 'net.int8.onnx'), perChannel: true, method: 'minmax', exclude: [], keepIoTypes: true, target: CPU_TARGET, device: { id: 'CPU', name: 'CPU', backend: 'ort-cpu' }, latencyMs: 0, calibration: 'random:8' });
  assert.equal(r.nodes.foldedActivations, 8, 'three Clip(Constant 0, Constant 6) and five Relu folded');
  assert.ok(r.fidelity.cosine >= 0.9995, `cosine ${r.fidelity.cosine}`);
  // What onnxruntime runs after its optimisation: only the input's QuantizeLinear stays outside an integer kernel.
  const mod = (await import('onnxruntime-node')) as unknown as { default?: typeof import('onnxruntime-node') } & typeof import('onnxruntime-node');
  const ort = mod.default ?? mod;
  const optimized = join(dir, 'net.optimized.onnx');
  await (await ort.InferenceSession.create(r.output.path, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized })).release();
  const ops: Record<string, number> = {};
  for (const n of decodeModel(new Uint8Array(readFileSync(optimized))).graph.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  assert.equal(ops['QuantizeLinear'] ?? 0, 1, JSON.stringify(ops));
  assert.equal(ops['DequantizeLinear'] ?? 0, 0, JSON.stringify(ops));
  assert.equal(ops['QLinearConv'], 9, JSON.stringify(ops));
  assert.equal(ops['Clip'] ?? 0, 0);
});

test('Constant nodes become initializers (tensor, float, ints values); graph-output constants stay nodes', () => {
  const m: ModelSpec = {
    graph: {
      name: 'c',
      inputs: [],
      outputs: [{ name: 'out', dataType: 'float32', shape: [] }],
      initializers: [],
      nodes: [
        { opType: 'Constant', inputs: [], outputs: ['a'], attributes: [{ name: 'value', type: 'tensor', value: { name: '', dataType: 'float32', dims: [], data: Float32Array.of(6) } }] },
        { opType: 'Constant', inputs: [], outputs: ['b'], attributes: [{ name: 'value_float', type: 'float', value: 0.5 }] },
        { opType: 'Constant', inputs: [], outputs: ['c'], attributes: [{ name: 'value_ints', type: 'ints', value: [1, -1] }] },
        { opType: 'Constant', inputs: [], outputs: ['out'], attributes: [{ name: 'value_float', type: 'float', value: 1 }] },
      ],
    },
  };
  const h = hoistConstants(m);
  assert.deepEqual(h.graph.nodes.map((n) => n.outputs[0]), ['out']);
  assert.deepEqual(h.graph.initializers.map((t) => [t.name, t.dataType, t.dims]), [['a', 'float32', []], ['b', 'float32', []], ['c', 'int64', [2]]]);
  assert.deepEqual([...(h.graph.initializers[2]!.data as BigInt64Array)], [1n, -1n]);
});
