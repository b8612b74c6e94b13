/**
 * Bias correction (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias
 * Correction", 2019, §4.2): rounding weights to int8 shifts each output channel's mean by
 * Σ (W_q − W) · E[x]; that shift, with E[x] the per-channel mean of the op's input measured on the
 * calibration data, is subtracted from the int32 bias. Each layer is corrected for its own weight
 * error only, so corrections do not compound; it costs nothing at run time.
 */
import { inferTypes } from '../onnx/graph.js';
import { exposeTensors } from './calibrate.js';
import { tensorBytes, tensorFloats } from '../onnx/model.js';
import type { ModelSpec, TensorInit } from '../onnx/model.js';
import { toFloats } from './report.js';
import type { ModelLoader } from './report.js';
import type { Feeds } from './samples.js';
import type { QuantizedBias } from './static.js';

export interface BiasCorrection {
  /** Biases adjusted. */
  corrected: number;
  /** Mean |shift| removed, in units of each bias's quantization step. */
  meanSteps: number;
}

/** Per-channel means (axis 1) of the named tensors of `m` over the samples. */
async function channelMeans(load: ModelLoader, m: ModelSpec, tensors: readonly string[], samples: readonly Feeds[]): Promise<Map<string, Float64Array>> {
  const session = await load(exposeTensors(m, tensors, inferTypes(m)));
  const sums = new Map<string, { sum: Float64Array; n: number }>();
  try {
    for (const feeds of samples) {
      const out = await session.run(feeds);
      for (const name of tensors) {
        const t = out[name];
        if (!t || t.dims.length < 2) continue;
        const channels = t.dims[1]!;
        const inner = t.dims.slice(2).reduce((p, d) => p * d, 1);
        const v = toFloats(t);
        const e = sums.get(name) ?? { sum: new Float64Array(channels), n: 0 };
        if (e.sum.length !== channels) continue;
        for (let i = 0; i < v.length; i++) e.sum[Math.floor(i / inner) % channels]! += v[i]!;
        e.n += v.length / channels;
        sums.set(name, e);
      }
    }
  } finally {
    await session.dispose();
  }
  return new Map([...sums].map(([k, e]) => [k, e.sum.map((x) => x / Math.max(1, e.n))]));
}

/** Σ (W_q − W) · E[x] per output channel. */
export function weightShift(b: QuantizedBias, w: Float32Array, dims: readonly number[], q: Int8Array, mean: Float64Array): Float64Array {
  const scale = (out: number): number => b.weightScales[b.weightScales.length === 1 ? 0 : out]!;
  if (b.opType === 'Conv') {
    const cout = dims[0]!;
    const cinPerGroup = dims[1]!;
    const k = dims.slice(2).reduce((p, d) => p * d, 1);
    const perGroup = cout / b.group;
    const shift = new Float64Array(cout);
    for (let c = 0; c < cout; c++) {
      const g = Math.floor(c / perGroup);
      const s = scale(c);
      let acc = 0;
      for (let j = 0; j < cinPerGroup; j++) {
        const m = mean[g * cinPerGroup + j] ?? 0;
        const base = (c * cinPerGroup + j) * k;
        let errSum = 0;
        for (let t = 0; t < k; t++) errSum += q[base + t]! * s - w[base + t]!;
        acc += errSum * m;
      }
      shift[c] = acc;
    }
    return shift;
  }
  // Gemm: B is [N, K] (transB) or [K, N].
  const [r, c] = dims as [number, number];
  const n = b.transB ? r : c;
  const kDim = b.transB ? c : r;
  const shift = new Float64Array(n);
  for (let o = 0; o < n; o++) {
    const s = scale(o);
    let acc = 0;
    for (let i = 0; i < kDim; i++) {
      const idx = b.transB ? o * kDim + i : i * n + o;
      acc += (q[idx]! * s - w[idx]!) * (mean[i] ?? 0);
    }
    shift[o] = acc;
  }
  return shift;
}

/** Adjusts the int32 bias initializers of `quantized` in place. */
export async function correctBiases(load: ModelLoader, reference: ModelSpec, quantized: ModelSpec, biases: readonly QuantizedBias[], samples: readonly Feeds[]): Promise<BiasCorrection> {
  if (biases.length === 0 || samples.length === 0) return { corrected: 0, meanSteps: 0 };
  const means = await channelMeans(load, reference, [...new Set(biases.map((b) => b.input))], samples);
  const refInits = new Map(reference.graph.initializers.map((t) => [t.name, t]));
  const qInits = new Map(quantized.graph.initializers.map((t) => [t.name, t]));
  let corrected = 0;
  let steps = 0;
  let count = 0;
  for (const b of biases) {
    const mean = means.get(b.input);
    const w: TensorInit | undefined = refInits.get(b.weight);
    const q = qInits.get(b.weightQuantized);
    const bias = qInits.get(b.initializer);
    if (!mean || !w || !q || q.dataType !== 'int8' || !bias || !(bias.data instanceof Int32Array)) continue;
    const qBytes = tensorBytes(q); // may live in a spill file
    const shift = weightShift(b, tensorFloats(w), w.dims, new Int8Array(qBytes.buffer, qBytes.byteOffset, qBytes.byteLength), mean);
    const data = bias.data;
    for (let ch = 0; ch < data.length && ch < shift.length; ch++) {
      const delta = Math.round(shift[ch]! / b.scales[b.scales.length === 1 ? 0 : ch]!);
      data[ch] = Math.max(-2147483647, Math.min(2147483647, data[ch]! - delta));
      steps += Math.abs(delta);
      count++;
    }
    corrected++;
  }
  return { corrected, meanSteps: count ? steps / count : 0 };
}
