/**
 * What quantization cost and bought: the quantized model against the float one on held-back inputs
 * (cosine similarity, errors, top-1 agreement), per-layer error to name the layers that lost most, and
 * latency side by side on the chosen device.
 */
import type { HostTensor, Session } from '../backends/types.js';
import { exposeTensors } from './calibrate.js';
import { inferTypes } from '../onnx/graph.js';
import { halfToFloat } from '../half.js';
import type { ModelSpec } from '../onnx/model.js';
import type { Feeds } from './samples.js';

export interface OutputFidelity {
  name: string;
  cosine: number;
  maxAbsError: number;
  meanAbsError: number;
  /** Share of rows whose argmax agrees, for [N, classes] outputs. */
  top1Agreement?: number;
}

export interface LayerError {
  tensor: string;
  cosine: number;
  /** ‖q − f‖ / ‖f‖ */
  relativeError: number;
}

export interface Fidelity {
  samples: number;
  /** Worst output's cosine similarity. */
  cosine: number;
  maxAbsError: number;
  top1Agreement?: number;
  outputs: OutputFidelity[];
  /** The layers with the largest error, worst first. */
  worstLayers: LayerError[];
}

/** A tensor of the float model and the one that stands for it in the quantized model. */
export interface LayerPair {
  reference: string;
  candidate: string;
}

export type ModelLoader = (m: ModelSpec) => Promise<Session>;

export function toFloats(t: HostTensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') return Float32Array.from(t.data as Uint16Array, halfToFloat);
  return Float32Array.from(t.data as ArrayLike<number>, Number);
}

class Accumulator {
  dot = 0;
  aa = 0;
  bb = 0;
  diff2 = 0;
  maxAbs = 0;
  sumAbs = 0;
  n = 0;
  rows = 0;
  agree = 0;

  add(a: Float32Array, b: Float32Array, dims: readonly number[]): void {
    const len = Math.min(a.length, b.length);
    for (let i = 0; i < len; i++) {
      const x = a[i]!;
      const y = b[i]!;
      this.dot += x * y;
      this.aa += x * x;
      this.bb += y * y;
      const d = Math.abs(x - y);
      this.diff2 += d * d;
      this.sumAbs += d;
      if (d > this.maxAbs) this.maxAbs = d;
    }
    this.n += len;
    const classes = dims.length === 2 ? dims[1]! : 0;
    if (classes >= 2) {
      for (let r = 0; r * classes < len; r++) {
        this.rows++;
        if (argmax(a, r * classes, classes) === argmax(b, r * classes, classes)) this.agree++;
      }
    }
  }

  get cosine(): number {
    if (this.aa === 0 && this.bb === 0) return 1;
    if (this.aa === 0 || this.bb === 0) return 0;
    return this.dot / Math.sqrt(this.aa * this.bb);
  }
}

function argmax(v: Float32Array, start: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[start + i]! > v[start + best]!) best = i;
  return best;
}

/** Runs both models on `samples` and compares every float output. */
export async function compareOutputs(load: ModelLoader, reference: ModelSpec, candidate: ModelSpec, samples: readonly Feeds[], candidateFeeds: (f: Feeds) => Feeds = (f) => f): Promise<Omit<Fidelity, 'worstLayers'>> {
  const ref = await load(reference);
  const cand = await load(candidate);
  const acc = new Map<string, Accumulator>();
  try {
    for (const feeds of samples) {
      const a = await ref.run(feeds);
      const b = await cand.run(candidateFeeds(feeds));
      for (const [name, t] of Object.entries(a)) {
        const u = b[name];
        if (!u || !['float32', 'float16'].includes(t.type)) continue;
        const entry = acc.get(name) ?? new Accumulator();
        entry.add(toFloats(t), toFloats(u), t.dims);
        acc.set(name, entry);
      }
    }
  } finally {
    await ref.dispose();
    await cand.dispose();
  }
  const outputs: OutputFidelity[] = [...acc].map(([name, e]) => ({
    name,
    cosine: e.cosine,
    maxAbsError: e.maxAbs,
    meanAbsError: e.n ? e.sumAbs / e.n : 0,
    ...(e.rows ? { top1Agreement: e.agree / e.rows } : {}),
  }));
  const agreements = outputs.flatMap((o) => (o.top1Agreement === undefined ? [] : [o.top1Agreement]));
  return {
    samples: samples.length,
    cosine: Math.min(1, ...outputs.map((o) => o.cosine)),
    maxAbsError: Math.max(0, ...outputs.map((o) => o.maxAbsError)),
    ...(agreements.length ? { top1Agreement: Math.min(...agreements) } : {}),
    outputs,
  };
}

/**
 * Error of intermediate tensors on a few samples, worst first. Exposing intermediates as outputs keeps
 * onnxruntime from fusing across them, so these are the simulated (QDQ) values: a faithful guide to
 * where precision is lost, not bit-exact integer-kernel results.
 */
export async function layerErrors(
  load: ModelLoader,
  reference: ModelSpec,
  candidate: ModelSpec,
  layers: readonly LayerPair[],
  samples: readonly Feeds[],
  candidateFeeds: (f: Feeds) => Feeds = (f) => f,
  top = 5,
): Promise<LayerError[]> {
  if (layers.length === 0 || samples.length === 0) return [];
  const refTypes = inferTypes(reference);
  const candTypes = inferTypes(candidate);
  const isFloat = (t: string | undefined): boolean => t === 'float32' || t === 'float16';
  const pairs = layers.filter((l) => isFloat(refTypes.get(l.reference)) && isFloat(candTypes.get(l.candidate)));
  const ref = await load(exposeTensors(reference, pairs.map((p) => p.reference), refTypes));
  const cand = await load(exposeTensors(candidate, pairs.map((p) => p.candidate), candTypes));
  const acc = new Map<string, Accumulator>();
  try {
    for (const feeds of samples) {
      const a = await ref.run(feeds);
      const b = await cand.run(candidateFeeds(feeds));
      for (const p of pairs) {
        const x = a[p.reference];
        const y = b[p.candidate];
        if (!x || !y) continue;
        const e = acc.get(p.reference) ?? new Accumulator();
        e.add(toFloats(x), toFloats(y), []);
        acc.set(p.reference, e);
      }
    }
  } finally {
    await ref.dispose();
    await cand.dispose();
  }
  return [...acc]
    .map(([tensor, e]) => ({ tensor, cosine: e.cosine, relativeError: e.aa ? Math.sqrt(e.diff2 / e.aa) : Math.sqrt(e.diff2) }))
    .sort((a, b) => b.relativeError - a.relativeError)
    .slice(0, top);
}

export interface LatencyComparison {
  /** Median milliseconds per run. */
  referenceMs: number;
  quantizedMs: number;
  /** quantized / reference: below 1 is faster. */
  ratio: number;
  runs: number;
}

/**
 * Both models measured in alternating blocks of runs on one input (so drift in machine speed hits both
 * alike), for about `budgetMs` after a warm-up; medians compared. A quick estimate: `aivmm bench`
 * measures with confidence intervals.
 */
export async function compareLatency(reference: Session, quantized: Session, feeds: Feeds, quantizedFeeds: Feeds, budgetMs: number, now: () => number = () => performance.now()): Promise<LatencyComparison> {
  for (let i = 0; i < 5; i++) {
    await reference.run(feeds);
    await quantized.run(quantizedFeeds);
  }
  const a: number[] = [];
  const b: number[] = [];
  const start = now();
  const block = 5;
  while ((now() - start < budgetMs || a.length < 20) && a.length < 100000) {
    for (let i = 0; i < block; i++) {
      const t0 = now();
      await reference.run(feeds);
      a.push(now() - t0);
    }
    for (let i = 0; i < block; i++) {
      const t0 = now();
      await quantized.run(quantizedFeeds);
      b.push(now() - t0);
    }
  }
  const median = (v: number[]): number => {
    const s = [...v].sort((x, y) => x - y);
    const m = s.length >> 1;
    return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  };
  const referenceMs = median(a);
  const quantizedMs = median(b);
  return { referenceMs, quantizedMs, ratio: quantizedMs / referenceMs, runs: a.length };
}
