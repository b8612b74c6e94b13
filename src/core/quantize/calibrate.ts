/**
 * Activation ranges for static quantization: the graph is rewritten so that the tensors to quantize
 * become model outputs, the model runs in onnxruntime on the calibration samples, and each tensor's
 * values are summarised (min/max, or a histogram for the percentile and entropy methods).
 */
import type { HostTensor, Session } from '../backends/types.js';
import type { ModelSpec, OnnxDataType, ValueInfo } from '../onnx/model.js';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

export interface Range {
  min: number;
  max: number;
}

/** A copy of the model whose outputs also include `tensors` (element types from `types`). */
export function exposeTensors(m: ModelSpec, tensors: readonly string[], types: ReadonlyMap<string, OnnxDataType>): ModelSpec {
  const have = new Set(m.graph.outputs.map((o) => o.name));
  const extra: ValueInfo[] = [];
  for (const t of tensors) {
    if (have.has(t)) continue;
    have.add(t);
    extra.push({ name: t, dataType: types.get(t) ?? 'float32' });
  }
  return { ...m, graph: { ...m.graph, outputs: [...m.graph.outputs, ...extra] } };
}

export type SessionLoader = (m: ModelSpec) => Promise<Session>;

const BINS = 2048;

interface Stats {
  min: number;
  max: number;
  hist?: Float64Array;
}

function floatValues(t: HostTensor): Float32Array {
  if (t.type !== 'float32') throw new Error(`calibration tensor is ${t.type}, not float32`);
  return t.data as Float32Array;
}

/**
 * Runs every sample once (min/max), and for histogram methods a second time (histograms of |x| over
 * [0, max|x|] with 2048 bins). `onSample` reports progress.
 */
export async function calibrate(
  load: SessionLoader,
  model: ModelSpec,
  tensors: readonly string[],
  types: ReadonlyMap<string, OnnxDataType>,
  samples: readonly Record<string, HostTensor>[],
  opts: { method: CalibrationMethod; percentile?: number; onSample?: (pass: number, done: number, total: number) => void },
): Promise<Map<string, Range>> {
  const augmented = exposeTensors(model, tensors, types);
  const session = await load(augmented);
  const stats = new Map<string, Stats>(tensors.map((t) => [t, { min: Infinity, max: -Infinity }]));
  const passes = opts.method === 'minmax' ? 1 : 2;
  try {
    for (let pass = 1; pass <= passes; pass++) {
      for (const [i, feeds] of samples.entries()) {
        const out = await session.run(feeds);
        for (const [name, s] of stats) {
          const t = out[name];
          if (!t) continue;
          const v = floatValues(t);
          if (pass === 1) {
            let lo = s.min;
            let hi = s.max;
            for (let k = 0; k < v.length; k++) {
              const x = v[k]!;
              if (x < lo) lo = x;
              if (x > hi) hi = x;
            }
            s.min = lo;
            s.max = hi;
          } else {
            const absMax = Math.max(Math.abs(s.min), Math.abs(s.max));
            const hist = (s.hist ??= new Float64Array(BINS));
            if (absMax === 0) {
              hist[0]! += v.length;
              continue;
            }
            const scale = BINS / absMax;
            for (let k = 0; k < v.length; k++) {
              const b = Math.min(BINS - 1, Math.floor(Math.abs(v[k]!) * scale));
              hist[b]! += 1;
            }
          }
        }
        opts.onSample?.(pass, i + 1, samples.length);
      }
    }
  } finally {
    await session.dispose();
  }
  const ranges = new Map<string, Range>();
  for (const [name, s] of stats) {
    if (!Number.isFinite(s.min) || !Number.isFinite(s.max)) continue; // never produced (e.g. a skipped branch)
    let { min, max } = s;
    if (s.hist && opts.method !== 'minmax') {
      const absMax = Math.max(Math.abs(min), Math.abs(max));
      const levels = min >= 0 ? 255 : 128;
      const t = opts.method === 'percentile' ? percentileThreshold(s.hist, absMax, opts.percentile ?? 99.999) : entropyThreshold(s.hist, absMax, levels);
      min = Math.max(min, -t);
      max = Math.min(max, t);
    }
    ranges.set(name, { min, max });
  }
  return ranges;
}

/** The |x| below which `percentile` % of the values fall (upper edge of that histogram bin). */
export function percentileThreshold(hist: Float64Array, absMax: number, percentile: number): number {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0 || absMax === 0) return absMax;
  const target = (total * percentile) / 100;
  let cum = 0;
  for (let i = 0; i < hist.length; i++) {
    cum += hist[i]!;
    if (cum >= target) return ((i + 1) / hist.length) * absMax;
  }
  return absMax;
}

/**
 * The clipping threshold that minimises the KL divergence between the histogram of |x| and its
 * quantized form with `levels` levels (the TensorRT entropy calibration), searched over bin edges.
 */
export function entropyThreshold(hist: Float64Array, absMax: number, levels: number): number {
  const n = hist.length;
  if (absMax === 0) return 0;
  let best = n;
  let bestKl = Infinity;
  for (let i = levels; i <= n; i++) {
    const p = hist.slice(0, i);
    let outliers = 0;
    for (let k = i; k < n; k++) outliers += hist[k]!;
    p[i - 1]! += outliers;
    // Quantize the in-range histogram into `levels` groups; expand each group's mass evenly over the
    // non-empty bins of p. p carries the clipped outliers in its last bin, q does not: that is the cost.
    const q = new Float64Array(i);
    const width = i / levels;
    for (let j = 0; j < levels; j++) {
      const start = Math.floor(j * width);
      const end = j === levels - 1 ? i : Math.floor((j + 1) * width);
      let mass = 0;
      let nonzero = 0;
      for (let k = start; k < end; k++) {
        mass += hist[k]!; // without the clipped outliers: q is what 8 bits keep of the range
        if (p[k]! > 0) nonzero++;
      }
      if (nonzero === 0) continue;
      for (let k = start; k < end; k++) if (p[k]! > 0) q[k] = mass / nonzero;
    }
    const kl = klDivergence(p, q);
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return (best / n) * absMax;
}

/** Moves a little mass (eps) onto empty bins so KL stays finite, as onnxruntime's calibrator smooths. */
function smooth(v: Float64Array, eps = 1e-4): Float64Array | undefined {
  let total = 0;
  let zeros = 0;
  for (const x of v) {
    total += x;
    if (x === 0) zeros++;
  }
  const nonzeros = v.length - zeros;
  if (total === 0 || nonzeros === 0) return undefined;
  const p = v.map((x) => x / total);
  if (zeros === 0) return p;
  const take = (eps * zeros) / nonzeros;
  if (take >= 1) return undefined;
  return p.map((x) => (x === 0 ? eps : x - take * x));
}

function klDivergence(pRaw: Float64Array, qRaw: Float64Array): number {
  const p = smooth(pRaw);
  const q = smooth(qRaw);
  if (!p || !q) return Infinity;
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]!;
    if (pi > 0) kl += pi * Math.log(pi / q[i]!);
  }
  return kl;
}
