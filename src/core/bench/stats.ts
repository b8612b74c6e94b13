/**
 * Descriptive statistics of latency samples (pure functions, no I/O): percentiles, mean, spread,
 * a distribution-free 95% confidence interval of the median, a histogram, and a noise verdict.
 */

export interface SampleStats {
  n: number;
  min: number;
  max: number;
  mean: number;
  /** Sample standard deviation (n − 1). */
  stddev: number;
  /** stddev / mean. */
  cv: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  /** Median absolute deviation (unscaled). */
  mad: number;
  /** 95% confidence interval of the median from order statistics (binomial; no normality assumed). */
  medianCi95: [number, number];
}

/** Sorted copy, ascending. */
export function sorted(xs: readonly number[]): number[] {
  return Array.from(Float64Array.from(xs).sort());
}

/** Percentile q ∈ [0, 1] of ascending `s` by linear interpolation between closest ranks (Hyndman–Fan type 7, as numpy's default). */
export function quantileSorted(s: readonly number[], q: number): number {
  if (s.length === 0) return Number.NaN;
  const h = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  const a = s[lo] as number;
  const b = s[hi] as number;
  return a + (h - lo) * (b - a);
}

export function median(xs: readonly number[]): number {
  return quantileSorted(sorted(xs), 0.5);
}

export function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** Lanczos approximation (g = 7, n = 9), accurate to ~15 digits for x > 0. */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * 1-based ranks (j, k) such that [x(j), x(k)] covers the median with probability ≥ 95%:
 * the largest j with P(Binomial(n, ½) < j) ≤ 2.5%, and k = n + 1 − j. Exact for n ≤ 2000, normal beyond.
 */
export function medianCiRanks(n: number, level = 0.95): [number, number] {
  if (n < 1) return [0, 0];
  const alpha = (1 - level) / 2;
  let j: number;
  if (n <= 2000) {
    // cdf(i) = P(X ≤ i)
    let cdf = 0;
    j = 0;
    for (let i = 0; i <= n; i++) {
      const next = cdf + Math.exp(logChoose(n, i) - n * Math.LN2);
      if (next > alpha) break;
      cdf = next;
      j = i + 1; // P(X ≤ i) ≤ alpha, so the rank i + 1 keeps coverage
    }
  } else {
    j = Math.floor(n / 2 - (normalQuantile(1 - alpha) * Math.sqrt(n)) / 2);
  }
  j = Math.max(1, j);
  return [j, Math.max(j, n + 1 - j)];
}

/** Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  const pl = 0.02425;
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  if (p > 1 - pl) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
}

/** Standard normal CDF (Zelen & Severo 26.2.17 via erfc, |error| < 1e-7). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erfc = poly * Math.exp(-(z * z) / 2);
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

export function describe(samples: readonly number[]): SampleStats {
  const s = sorted(samples);
  const n = s.length;
  if (n === 0) {
    const nan = Number.NaN;
    return { n: 0, min: nan, max: nan, mean: nan, stddev: nan, cv: nan, p50: nan, p90: nan, p95: nan, p99: nan, mad: nan, medianCi95: [nan, nan] };
  }
  let sum = 0;
  for (const x of s) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of s) ss += (x - mean) ** 2;
  const stddev = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  const p50 = quantileSorted(s, 0.5);
  const [j, k] = medianCiRanks(n);
  return {
    n,
    min: s[0] as number,
    max: s[n - 1] as number,
    mean,
    stddev,
    cv: mean > 0 ? stddev / mean : 0,
    p50,
    p90: quantileSorted(s, 0.9),
    p95: quantileSorted(s, 0.95),
    p99: quantileSorted(s, 0.99),
    mad: quantileSorted(sorted(s.map((x) => Math.abs(x - p50))), 0.5),
    medianCi95: [s[j - 1] as number, s[k - 1] as number],
  };
}

export interface Histogram {
  /** Lower edge of the first bin and width of each bin, in the samples' unit. */
  start: number;
  width: number;
  counts: number[];
}

/** Equal-width bins between the 1st and 99th percentile (outliers clamped into the end bins). */
export function histogram(samples: readonly number[], bins = 20): Histogram {
  const s = sorted(samples);
  if (s.length === 0) return { start: 0, width: 0, counts: [] };
  const lo = quantileSorted(s, 0.01);
  const hi = quantileSorted(s, 0.99);
  const width = hi > lo ? (hi - lo) / bins : 1;
  const counts = new Array<number>(hi > lo ? bins : 1).fill(0);
  for (const x of s) {
    const i = Math.min(counts.length - 1, Math.max(0, Math.floor((x - lo) / width)));
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return { start: lo, width, counts };
}

export interface NoiseVerdict {
  noisy: boolean;
  reasons: string[];
}

/** Unstable when the spread is large or the median is not pinned down (thresholds documented in docs/bench.md). */
export function noiseVerdict(st: SampleStats): NoiseVerdict {
  const reasons: string[] = [];
  if (st.n < 10) reasons.push(`only ${st.n} samples`);
  const robustCv = st.p50 > 0 ? (1.4826 * st.mad) / st.p50 : 0;
  if (robustCv > 0.1) reasons.push(`spread ${(robustCv * 100).toFixed(0)}% of the median (robust CV)`);
  const ciHalf = st.p50 > 0 ? (st.medianCi95[1] - st.medianCi95[0]) / 2 / st.p50 : 0;
  if (ciHalf > 0.03) reasons.push(`median known only to ±${(ciHalf * 100).toFixed(1)}%`);
  return { noisy: reasons.length > 0, reasons };
}
