/**
 * The CI gate's statistics (pure): is the current latency distribution slower than the baseline's,
 * beyond both chance and a practical threshold?
 *
 * Two tests on the raw samples, both required: a one-sided Mann–Whitney U test (rank-based; robust to
 * the long right tail latency samples have) and a percentile-bootstrap 95% interval of the ratio of
 * medians that must exclude 1. The practical threshold then applies to the point estimate of that
 * ratio: with thousands of samples a 0.5% shift is "significant" and still nobody's regression.
 */
import { seededRandom } from '../random.js';
import { median, normalCdf, quantileSorted, sorted } from './stats.js';
import type { GateVerdict } from './gate-stats.js';

/** `too-noisy`: the gate refused to decide (issue #21; exit code 13). */
export type Verdict = GateVerdict;

export interface Comparison {
  verdict: Verdict;
  /** median(current) / median(baseline); > 1 is slower. */
  ratio: number;
  /** 95% bootstrap interval of the ratio. */
  ratioCi95: [number, number];
  /** One-sided Mann–Whitney p-values: current slower, current faster. */
  pSlower: number;
  pFaster: number;
  /** The difference is statistically significant in the direction of the ratio (either way). */
  significant: boolean;
  /** Why: one short sentence. */
  reason: string;
  /**
   * Present when both runs carry reference-workload samples: the times were divided by each run's
   * reference median before comparing. `machineFactor` = reference now / reference then (> 1: the machine
   * ran slower now, and that much slowdown was not blamed on the model).
   */
  normalized?: { machineFactor: number };
  /**
   * What the decision was made on (issue #21): `repeats`, one median per process on each side (`units`:
   * processes now, then); `paired`, block-pair ratios of `--against` (`units`: block pairs). Absent: the
   * old within-run sample tests (compareSamples, kept as a library function).
   */
  method?: 'repeats' | 'paired';
  units?: [number, number] | number;
  /** `--against`'s sequential rule: the look that decided, the most looks allowed, that look's interval level. */
  looks?: { look: number; maxLooks: number; level: number };
  /** Standard deviation of the log per-process medians (≈ relative spread), now and then. */
  spread?: { current: number; baseline: number };
}

/** Reference-workload run times and, for each, how many samples had completed before it ran. */
export interface ReferenceTrace {
  samples: readonly number[];
  at: readonly number[];
}

export interface ReferenceSamples {
  current: ReferenceTrace;
  baseline: ReferenceTrace;
}

/**
 * Each sample divided by the reference workload's speed at that moment: the median of the (up to) four
 * reference runs nearest to it in time. Machines drift and even flip between speed states within a run
 * (frequency scaling, noisy neighbours); a local reference cancels that where a run-wide one cannot.
 */
export function normalizeByReference(samples: readonly number[], ref: ReferenceTrace): number[] {
  const k = ref.samples.length;
  const out: number[] = [];
  let j = 0; // first reference that ran after sample i completed
  for (let i = 0; i < samples.length; i++) {
    while (j < k && (ref.at[j] ?? 0) < i + 1) j++;
    const window = ref.samples.slice(Math.max(0, j - 2), Math.min(k, j + 2));
    out.push((samples[i] as number) / median(window.length > 0 ? window : ref.samples));
  }
  return out;
}

export interface GateOptions {
  /** Largest tolerated slowdown, as a fraction (0.05 = 5%). */
  maxRegression: number;
  /** Significance level of each one-sided test. */
  alpha?: number;
  /** Bootstrap resamples. */
  resamples?: number;
  seed?: number;
}

/** One-sided Mann–Whitney U test with tie correction and continuity correction (normal approximation). */
export function mannWhitney(a: readonly number[], b: readonly number[]): { u: number; z: number; pGreater: number; pLess: number } {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return { u: Number.NaN, z: 0, pGreater: 1, pLess: 1 };
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const n = all.length;
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && (all[j + 1] as { v: number }).v === (all[i] as { v: number }).v) j++;
    const avgRank = (i + j + 2) / 2; // ranks are 1-based
    const t = j - i + 1;
    if (t > 1) tieTerm += t * t * t - t;
    for (let k = i; k <= j; k++) if ((all[k] as { g: number }).g === 0) rankSumA += avgRank;
    i = j + 1;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2; // pairs (x in a, y in b) with x > y, ties counting ½
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u, z: 0, pGreater: 1, pLess: 1 };
  const sd = Math.sqrt(variance);
  const zGreater = (u - mean - 0.5) / sd;
  const zLess = (u - mean + 0.5) / sd;
  return { u, z: (u - mean) / sd, pGreater: 1 - normalCdf(zGreater), pLess: normalCdf(zLess) };
}

/** k-th smallest (0-based) of `xs` in place (Hoare quickselect). */
function select(xs: Float64Array, k: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo < hi) {
    const pivot = xs[(lo + hi) >> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((xs[i] as number) < pivot) i++;
      while ((xs[j] as number) > pivot) j--;
      if (i <= j) {
        const t = xs[i] as number;
        xs[i] = xs[j] as number;
        xs[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return xs[k] as number;
  }
  return xs[k] as number;
}

function resampleMedian(xs: readonly number[], rand: () => number, buf: Float64Array): number {
  const n = xs.length;
  for (let i = 0; i < n; i++) buf[i] = xs[Math.floor(rand() * n)] as number;
  if (n % 2 === 1) return select(buf, (n - 1) / 2);
  const hi = select(buf, n / 2);
  let lo = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n / 2; i++) if ((buf[i] as number) > lo) lo = buf[i] as number; // after select, buf[0..n/2) ≤ buf[n/2]
  return (lo + hi) / 2;
}

/** Percentile-bootstrap interval of median(current) / median(baseline), resampling each set independently. */
export function bootstrapMedianRatio(current: readonly number[], baseline: readonly number[], resamples = 2000, seed = 1, level = 0.95): [number, number] {
  if (current.length === 0 || baseline.length === 0) return [Number.NaN, Number.NaN];
  const rand = seededRandom(seed);
  const bc = new Float64Array(current.length);
  const bb = new Float64Array(baseline.length);
  const ratios: number[] = [];
  for (let r = 0; r < resamples; r++) ratios.push(resampleMedian(current, rand, bc) / resampleMedian(baseline, rand, bb));
  const s = sorted(ratios);
  return [quantileSorted(s, (1 - level) / 2), quantileSorted(s, 1 - (1 - level) / 2)];
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

export function compareSamples(currentRaw: readonly number[], baselineRaw: readonly number[], opts: GateOptions, refs?: ReferenceSamples): Comparison {
  const alpha = opts.alpha ?? 0.01;
  // Normalise by the reference workload only when both runs have enough of it to pin its median down.
  const useRefs = refs && refs.current.samples.length >= 5 && refs.baseline.samples.length >= 5 ? refs : undefined;
  const refNow = useRefs ? median(useRefs.current.samples) : 1;
  const refThen = useRefs ? median(useRefs.baseline.samples) : 1;
  const current = useRefs ? normalizeByReference(currentRaw, useRefs.current) : currentRaw;
  const baseline = useRefs ? normalizeByReference(baselineRaw, useRefs.baseline) : baselineRaw;
  const ratio = median(current) / median(baseline);
  const ci = bootstrapMedianRatio(current, baseline, opts.resamples ?? 2000, opts.seed ?? 1);
  const mw = mannWhitney(current, baseline);
  const slower = mw.pGreater < alpha && ci[0] > 1;
  const faster = mw.pLess < alpha && ci[1] < 1;
  const base = { ratio, ratioCi95: ci, pSlower: mw.pGreater, pFaster: mw.pLess, significant: slower || faster, ...(useRefs ? { normalized: { machineFactor: refNow / refThen } } : {}) };
  const drift = useRefs && Math.abs(refNow / refThen - 1) >= 0.02 ? ` after correcting for a machine ${refNow > refThen ? `${pct(refNow / refThen - 1)} slower` : `${pct(1 - refNow / refThen)} faster`} than at the baseline` : '';
  const change = `${ratio >= 1 ? `${pct(ratio - 1)} slower` : `${pct(1 - ratio)} faster`}${drift}`;
  if (current.length < 5 || baseline.length < 5) {
    return { ...base, significant: false, verdict: 'unchanged', reason: `too few samples to decide (${current.length} vs ${baseline.length}); ${change}` };
  }
  if (slower && ratio > 1 + opts.maxRegression) {
    return { ...base, verdict: 'regressed', reason: `${change} (95% CI ${pct(ci[0] - 1)}…${pct(ci[1] - 1)}), beyond the ${pct(opts.maxRegression)} limit` };
  }
  if (faster && ratio < 1 - opts.maxRegression) {
    return { ...base, verdict: 'improved', reason: `${change} (95% CI ${pct(1 - ci[1])}…${pct(1 - ci[0])})` };
  }
  if (slower || faster) return { ...base, verdict: 'unchanged', reason: `${change}: real but within the ${pct(opts.maxRegression)} limit` };
  return { ...base, verdict: 'unchanged', reason: `${change}: within noise (p = ${Math.min(mw.pGreater, mw.pLess).toPrecision(2)})` };
}
