/** Small generated float models for the quantizer tests: a conv net with the patterns QDQ must handle, and an MLP. */
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
import type { ModelSpec } from '../../src/core/onnx/model.js';
import type { HostTensor } from '../../src/core/backends/types.js';
import { seededRandom } from '../../src/core/random.js';

/**
 * x[N,3,16,16] → Conv → Relu → depthwise Conv → Clip(0,6) → MaxPool → Conv 1×1 → Add(residual of a
 * second branch) → GlobalAveragePool → Flatten → Gemm(transB) → logits[N,10].
 */
export function convNetSpec(opset = 17): ModelSpec {
  const b = new GraphBuilder(11);
  const x = b.input({ name: 'x', dataType: 'float32', shape: ['N', 3, 16, 16] });
  const c1 = b.op('Relu', [b.conv(x, 3, 8, 3)]);
  const dw = b.relu6(b.conv(c1, 8, 8, 3, { group: 8 }));
  const pooled = b.op('MaxPool', [dw], [
    { name: 'kernel_shape', type: 'ints', value: [2, 2] },
    { name: 'strides', type: 'ints', value: [2, 2] },
  ]);
  const a = b.conv(pooled, 8, 8, 1, { gain: 1 });
  const branch = b.conv(pooled, 8, 8, 1, { gain: 1 });
  const sum = b.op('Add', [a, branch]);
  const gap = b.op('GlobalAveragePool', [sum]);
  const flat = b.op('Flatten', [gap], [{ name: 'axis', type: 'int', value: 1 }]);
  b.gemm(flat, 8, 10, 'logits');
  b.output({ name: 'logits', dataType: 'float32', shape: ['N', 10] });
  return { opsets: [{ domain: '', version: opset }], graph: b.graph('convnet') };
}

export function convNet(opset = 17): Uint8Array {
  return encodeModel(convNetSpec(opset));
}

/** x[N,4,64] → MatMul[64,128] → Add → Relu → MatMul[128,32] → y; and x2[N,64] → Gemm(transB) → z. */
export function mlp(): Uint8Array {
  const b = new GraphBuilder(5);
  const x = b.input({ name: 'x', dataType: 'float32', shape: ['N', 4, 64] });
  const w1 = b.constant('w1', [64, 128], b.normal(64 * 128, 0.125));
  const b1 = b.constant('b1', [128], b.uniform(128, -0.1, 0.1));
  const h = b.op('Relu', [b.op('Add', [b.op('MatMul', [x, w1]), b1])]);
  const w2 = b.constant('w2', [128, 32], b.normal(128 * 32, 0.09));
  b.op('MatMul', [h, w2], [], 'y');
  b.output({ name: 'y', dataType: 'float32', shape: ['N', 4, 32] });
  const x2 = b.input({ name: 'x2', dataType: 'float32', shape: ['N', 64] });
  b.gemm(x2, 64, 16, 'z');
  b.output({ name: 'z', dataType: 'float32', shape: ['N', 16] });
  return encodeModel({ graph: b.graph('mlp') });
}

export function randomFloats(dims: number[], seed: number, lo = -1, hi = 1): HostTensor {
  const r = seededRandom(seed);
  const n = dims.reduce((a, d) => a * d, 1);
  return { type: 'float32', dims, data: Float32Array.from({ length: n }, () => lo + (hi - lo) * r()) };
}
