/**
 * The CI gate's decision statistics (pure), on units that are actually independent (issue #21):
 *
 * - a baseline file: one median per **process** (`--repeat N`), because on a shared VM the dominant
 *   variance is between processes (p50 swinging 7–15 ms between identical runs), and thousands of
 *   samples from one process are not thousands of independent observations of it. Welch's t on the
 *   log-medians gives the ratio of geometric-mean medians and its interval.
 * - `--against old.onnx`: A and B alternate in blocks inside one process; each block pair gives one
 *   paired ratio, and drift (which moves both blocks of a pair alike) cancels. An exact sign test and the
 *   order-statistic interval of their median decide (distribution-free: no symmetry, no light tails).
 *
 * Both end in the same three-way rule (`decide`): regressed only when the test and the interval say slower
 * and the point estimate is beyond the limit; unchanged only when the interval ends below the limit (or the
 * slowdown is real and estimated within it); everything else is "too noisy" (the data cannot tell "no
 * change" from "a regression", so the gate refuses to guess).
 */
import { logChoose, logGamma, median, medianCiRanks, normalCdf, sorted } from './stats.js';

export type GateVerdict = 'regressed' | 'improved' | 'unchanged' | 'too-noisy';

/** Regularised incomplete beta I_x(a, b) (continued fraction, Numerical Recipes' betacf). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let f = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    f *= d * c;
    num = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-12) break;
  }
  return (front * f) / a;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom (df may be fractional: Welch). */
export function studentTCdf(t: number, df: number): number {
  const x = df / (df + t * t);
  const tail = 0.5 * incompleteBeta(x, df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t (bisection on the CDF; |t| < 1e4 covers df ≥ 1 at p ≥ 0.0001). */
export function studentTQuantile(p: number, df: number): number {
  let lo = -1e4;
  let hi = 1e4;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface RatioEstimate {
  /** current / baseline (> 1: slower). */
  ratio: number;
  ci95: [number, number];
  /** One-sided p-values: current slower, current faster. */
  pSlower: number;
  pFaster: number;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const mean = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length;
const variance = (xs: readonly number[]): number => {
  const m = mean(xs);
  return xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
};

/**
 * Welch's t on the logs of per-process medians: ratio = geometric mean now / then, with its 95% interval.
 * Needs ≥ 2 processes on each side (a spread); undefined otherwise.
 */
export function welchLogRatio(current: readonly number[], baseline: readonly number[]): (RatioEstimate & { df: number; spread: { current: number; baseline: number } }) | undefined {
  if (current.length < 2 || baseline.length < 2 || [...current, ...baseline].some((x) => !(x > 0))) return undefined;
  const lc = current.map(Math.log);
  const lb = baseline.map(Math.log);
  const vc = variance(lc) / lc.length;
  const vb = variance(lb) / lb.length;
  const diff = mean(lc) - mean(lb);
  const se = Math.sqrt(vc + vb);
  const spread = { current: Math.sqrt(variance(lc)), baseline: Math.sqrt(variance(lb)) };
  if (se === 0) {
    const r = Math.exp(diff);
    return { ratio: r, ci95: [r, r], pSlower: diff > 0 ? 0 : 1, pFaster: diff < 0 ? 0 : 1, df: Number.POSITIVE_INFINITY, spread };
  }
  const df = (vc + vb) ** 2 / ((vc * vc) / (lc.length - 1) + (vb * vb) / (lb.length - 1));
  const t = diff / se;
  const q = studentTQuantile(0.975, df);
  return { ratio: Math.exp(diff), ci95: [Math.exp(diff - q * se), Math.exp(diff + q * se)], pSlower: 1 - studentTCdf(t, df), pFaster: studentTCdf(t, df), df, spread };
}

/** One-sided Wilcoxon signed-rank p-values for "x > 0" and "x < 0" (normal approximation, ties averaged, zeros dropped). */
export function wilcoxonSignedRank(xs: readonly number[]): { pGreater: number; pLess: number; n: number } {
  const nz = xs.filter((x) => x !== 0);
  const n = nz.length;
  if (n === 0) return { pGreater: 1, pLess: 1, n };
  const order = nz.map((x) => ({ a: Math.abs(x), pos: x > 0 })).sort((p, q) => p.a - q.a);
  let wPlus = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && (order[j + 1] as { a: number }).a === (order[i] as { a: number }).a) j++;
    const rank = (i + j + 2) / 2;
    const t = j - i + 1;
    if (t > 1) tieTerm += t * t * t - t;
    for (let k = i; k <= j; k++) if ((order[k] as { pos: boolean }).pos) wPlus += rank;
    i = j + 1;
  }
  const mu = (n * (n + 1)) / 4;
  const sd = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48);
  if (sd === 0) return { pGreater: 1, pLess: 1, n };
  return { pGreater: 1 - normalCdf((wPlus - mu - 0.5) / sd), pLess: normalCdf((wPlus - mu + 0.5) / sd), n };
}

/** One-sided exact sign test: P(at least `pos` of `n` positive | median 0), and the mirror. */
export function signTest(xs: readonly number[]): { pGreater: number; pLess: number; n: number } {
  const n = xs.filter((x) => x !== 0).length;
  const pos = xs.filter((x) => x > 0).length;
  if (n === 0) return { pGreater: 1, pLess: 1, n };
  let ge = 0;
  let le = 0;
  for (let i = 0; i <= n; i++) {
    const p = Math.exp(logChoose(n, i) - n * Math.LN2);
    if (i >= pos) ge += p;
    if (i <= pos) le += p;
  }
  return { pGreater: Math.min(1, ge), pLess: Math.min(1, le), n };
}

/**
 * Paired block ratios (A's block median / B's, > 1: the current model is slower): their median, the
 * distribution-free interval of it from order statistics (`level`, 95% by default), and an exact sign
 * test. Neither assumes the ratios are symmetric or light-tailed, which on a contended machine they are
 * not (a bootstrap of the median and Wilcoxon's symmetry assumption both gave intervals too narrow on
 * 20-odd heavy-tailed pairs).
 */
export function pairedRatio(ratios: readonly number[], level = 0.95): RatioEstimate | undefined {
  const n = ratios.length;
  if (n < 2) return undefined;
  const s = sorted(ratios);
  const [j, k] = medianCiRanks(n, level);
  const t = signTest(ratios.map((r) => Math.log(r)));
  return { ratio: median(ratios), ci95: [s[j - 1] as number, s[k - 1] as number], pSlower: t.pGreater, pFaster: t.pLess };
}

/** Block pair k's ratio current[k] / old[k] (> 1: the current model is slower); pairs that are not a positive ratio are left out. */
export function pairRatios(current: readonly number[], old: readonly number[]): number[] {
  return current.map((c, k) => c / (old[k] as number)).filter((x) => Number.isFinite(x) && x > 0);
}

/** Block pairs per unit of the `--against` rule: two ABBA quadruples (AB BA AB BA). */
export const PAIRS_PER_UNIT = 4;

/**
 * The units the `--against` rule decides on: the geometric mean of each run of PAIRS_PER_UNIT consecutive
 * pair ratios (a trailing partial run is left out). Pair ratios are serially correlated on a loaded
 * machine (lag-1…4 autocorrelations up to 0.25–0.46 on the 2-core VM at load 10–16), which makes an
 * interval that treats them as independent too narrow: 95% intervals of A/A windows excluded 1 in 11–13%
 * of windows on pairs, 8–13% on ABBA quadruples, 0–4% on these units (batch means;
 * scripts/experiments/gate-units.mjs). Averaging two quadruples also cancels the ABBA position effect.
 */
export function pairUnits(current: readonly number[], old: readonly number[]): number[] {
  const out: number[] = [];
  const n = Math.min(current.length, old.length);
  for (let k = 0; k + PAIRS_PER_UNIT <= n; k += PAIRS_PER_UNIT) {
    let log = 0;
    for (let i = k; i < k + PAIRS_PER_UNIT; i++) log += Math.log((current[i] as number) / (old[i] as number));
    const r = Math.exp(log / PAIRS_PER_UNIT);
    if (Number.isFinite(r) && r > 0) out.push(r);
  }
  return out;
}

/**
 * The sequential `--against` rule's levels (issue #21). The blocks keep alternating and the data are
 * looked at up to `maxLooks` times; each look tests at alpha / maxLooks and uses a 1 − 0.05 / maxLooks
 * interval (Bonferroni), so over all looks together P(false alarm on an A/A pair) ≤ alpha and
 * P(some look's interval misses the true ratio) ≤ 5%, however the looks are spaced.
 */
export function lookLevels(maxLooks: number, alpha = 0.01): { alpha: number; level: number } {
  const k = Math.max(1, Math.floor(maxLooks));
  return { alpha: alpha / k, level: 1 - 0.05 / k };
}

export interface LookResult {
  verdict: GateVerdict;
  significant: boolean;
  reason: string;
  estimate?: RatioEstimate;
  /** The interval is clearly inside the ±limit band (unchanged), or the test and the point say regressed/improved: stop. */
  clear: boolean;
  /** Units (PAIRS_PER_UNIT block pairs each) this look saw. */
  n: number;
  level: number;
}

/** Fewest units whose extreme order statistics still make a `level` interval of the median (2·½ⁿ ≤ 1 − level). */
export function minUnits(level: number): number {
  return Math.max(6, Math.ceil(Math.log2(2 / (1 - level))));
}

const lvl = (level: number): string => `${(level * 100).toFixed(2).replace(/\.?0+$/, '')}%`;

/**
 * One look of the sequential rule at the first `n` block-pair ratios. Clear, and the run stops, only when
 * the look's interval lies on one side of the limit: regressed when it starts beyond 1 + limit (and the
 * sign test says slower), unchanged when it ends below 1 + limit, improved when it ends below 1 − limit
 * (and the test says faster). An interval that contains 1 + limit is never decided: a point estimate
 * beyond the limit is not enough once the data are looked at repeatedly (a twin 2% slower crossed 5% at
 * some look in 5% of simulated runs), and the limit, not 1, is what the gate is asked about.
 */
export function evaluateLook(units: readonly number[], n: number, maxLooks: number, maxRegression: number, alpha = 0.01): LookResult {
  const lv = lookLevels(maxLooks, alpha);
  const xs = units.slice(0, n);
  const need = minUnits(lv.level);
  const e = xs.length >= need ? pairedRatio(xs, lv.level) : undefined;
  if (!e) return { verdict: 'too-noisy', significant: false, reason: `only ${xs.length} unit(s) of ${PAIRS_PER_UNIT} block pairs, ${need} needed at this look's ${lvl(lv.level)} level: measure longer (--duration, --max-duration)`, clear: false, n: xs.length, level: lv.level };
  const [lo, hi] = e.ci95;
  const change = e.ratio >= 1 ? `${pct(e.ratio - 1)} slower` : `${pct(1 - e.ratio)} faster`;
  const ci = `${lvl(lv.level)} CI ${pct(lo - 1)}…${pct(hi - 1)}`;
  const slower = e.pSlower < lv.alpha && lo > 1;
  const faster = e.pFaster < lv.alpha && hi < 1;
  const significant = slower || faster;
  const out = { estimate: e, n: xs.length, level: lv.level, significant };
  if (slower && lo > 1 + maxRegression) return { ...out, verdict: 'regressed', clear: true, reason: `${change} (${ci}): beyond the ${pct(maxRegression)} limit` };
  if (faster && hi < 1 - maxRegression) return { ...out, verdict: 'improved', clear: true, reason: `${change} (${ci})` };
  if (hi < 1 + maxRegression) return { ...out, verdict: 'unchanged', clear: true, reason: `${change} (${ci}): ${slower ? 'real but' : 'within noise,'} below the ${pct(maxRegression)} limit` };
  return { ...out, verdict: 'too-noisy', clear: false, reason: `${change}, but the ${ci} contains the ${pct(maxRegression)} limit: too noisy to decide` };
}

/**
 * The sequential decision over the looks a run took (`looks`: units seen at each look, in order):
 * the first clear look decides; a run whose last look is not clear (the budget ran out) is too noisy.
 */
export function sequentialPaired(units: readonly number[], looks: readonly number[], maxLooks: number, maxRegression: number, alpha = 0.01): LookResult & { look: number } {
  const at = looks.length > 0 ? looks : [units.length];
  let last: LookResult | undefined;
  for (let i = 0; i < at.length; i++) {
    last = evaluateLook(units, at[i] as number, Math.max(maxLooks, at.length), maxRegression, alpha);
    if (last.clear) return { ...last, look: i + 1 };
  }
  return { ...(last as LookResult), look: at.length };
}


/**
 * The three-way rule on an estimate. `alpha` bounds the one-sided test in the decided direction; the
 * practical limit applies to the point estimate; an interval reaching both below 1 and beyond 1 + limit
 * (or, for improvements, above 1 and below 1 − limit) cannot tell the two apart: too noisy.
 */
export function decide(e: RatioEstimate, maxRegression: number, alpha = 0.01, level = 0.95): { verdict: GateVerdict; significant: boolean; reason: string } {
  const [lo, hi] = e.ci95;
  const change = e.ratio >= 1 ? `${pct(e.ratio - 1)} slower` : `${pct(1 - e.ratio)} faster`;
  const ci = `${level === 0.95 ? '95' : (level * 100).toFixed(2).replace(/\.?0+$/, '')}% CI ${pct(lo - 1)}…${pct(hi - 1)}`;
  const slower = e.pSlower < alpha && lo > 1;
  const faster = e.pFaster < alpha && hi < 1;
  const significant = slower || faster;
  if (slower && e.ratio > 1 + maxRegression) return { verdict: 'regressed', significant, reason: `${change} (${ci}), beyond the ${pct(maxRegression)} limit` };
  if (faster && e.ratio < 1 - maxRegression) return { verdict: 'improved', significant, reason: `${change} (${ci})` };
  // Unchanged only when the data rule a regression beyond the limit out (the interval ends below it), or
  // when the slowdown is real and estimated within the limit. Anything else — the interval reaching both
  // below 1 and beyond the limit, or a point beyond the limit that the test does not confirm — is too noisy.
  if (hi < 1 + maxRegression) return { verdict: 'unchanged', significant, reason: `${change} (${ci}): ${significant ? `real but within the ${pct(maxRegression)} limit` : 'within noise'}` };
  if (lo > 1 && e.ratio <= 1 + maxRegression) return { verdict: 'unchanged', significant, reason: `${change} (${ci}): real, estimated within the ${pct(maxRegression)} limit` };
  return { verdict: 'too-noisy', significant, reason: `${change}, but the ${ci} ${lo <= 1 ? 'spans both no change and' : 'is not confirmed by the test and reaches'} more than the ${pct(maxRegression)} limit: too noisy to decide` };
}
