/**
 * The CI gate: match the current rows with a saved run's rows by (model name, device, backend, batch)
 * and decide per row on per-process medians (gate-stats.ts), or, with `--against`, on paired blocks. Model files are deliberately not matched by hash:
 * a changed model under the same name is exactly what the gate is for.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, NotFoundError, errorMessage } from '../errors.js';
import type { Comparison } from './compare.js';
import { PAIRS_PER_UNIT, decide, pairUnits, sequentialPaired, welchLogRatio } from './gate-stats.js';
import { median } from './stats.js';
import type { BaselineRow, BenchReport, BenchRow, GateResult, PairedTrace } from './types.js';

export const BENCH_SCHEMA = 'aivmm/bench@1';

export function rowKey(r: Pick<BenchRow, 'model' | 'device' | 'backend' | 'batch'>): string {
  return `${r.model} | ${r.device} | ${r.backend} | batch ${r.batch}`;
}

/** Reads a file written by `bench --save` or `bench --json` (the envelope) and returns its report. */
export async function readBaseline(path: string): Promise<BenchReport> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new NotFoundError(`cannot read baseline ${path}: ${errorMessage(err)}`, 'write one with `aivmm bench --save baseline.json`');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`baseline ${path} is not JSON: ${errorMessage(err)}`, 'write one with `aivmm bench --save baseline.json`');
  }
  const env = doc as { schema?: unknown; data?: { rows?: unknown } };
  if (typeof env !== 'object' || env === null || env.schema !== BENCH_SCHEMA || !Array.isArray(env.data?.rows)) {
    const seen = typeof env === 'object' && env !== null && typeof env.schema === 'string' ? `schema '${env.schema}'` : 'no aivmm schema';
    throw new ConfigError(`baseline ${path} is not an aivmm bench result (${seen}; expected '${BENCH_SCHEMA}')`, 'write one with `aivmm bench --save baseline.json` or `aivmm bench --json > baseline.json`');
  }
  const report = env.data as BenchReport;
  for (const r of report.rows) {
    if (!Array.isArray(r.samples) || typeof r.model !== 'string' || typeof r.batch !== 'number') {
      throw new ConfigError(`baseline ${path} has a row without samples, model or batch`, 'regenerate it with `aivmm bench --save`');
    }
  }
  return report;
}

/**
 * Per row: the per-process medians now vs then (`repeatMedians`; Welch on their logs), never the pooled
 * samples of one process as if independent (issue #21). A side with fewer than 2 processes has no spread
 * to learn the noise floor from: too noisy, with how to fix it.
 */
export function compareRepeats(current: readonly number[], baseline: readonly number[], maxRegression: number): Comparison {
  const e = welchLogRatio(current, baseline);
  const units: [number, number] = [current.length, baseline.length];
  if (!e) {
    const ratio = current.length && baseline.length ? median(current) / median(baseline) : Number.NaN;
    const side = baseline.length < 2 ? `the baseline has ${baseline.length} process median(s)` : `this run has ${current.length} process median(s)`;
    return {
      verdict: 'too-noisy', ratio: Number.isFinite(ratio) ? ratio : 1, ratioCi95: [0, Number.MAX_VALUE], pSlower: 1, pFaster: 1, significant: false, method: 'repeats', units,
      reason: `${side}: between-process noise (the dominant noise) cannot be estimated from one process; measure both with --repeat 3 or more`,
    };
  }
  // One-sided 1% (the A/A goal): with 3 vs 3 processes (df ≈ 4) that costs power, but a point beyond the
  // limit that the test does not confirm is "too noisy", never "unchanged".
  const d = decide(e, maxRegression, 0.01);
  return { verdict: d.verdict, ratio: e.ratio, ratioCi95: e.ci95, pSlower: e.pSlower, pFaster: e.pFaster, significant: d.significant, method: 'repeats', units, spread: e.spread, reason: `${d.reason} (over ${units[0]} vs ${units[1]} processes)` };
}

/**
 * `--against`: per row, the sequential rule (gate-stats.ts sequentialPaired) on units of 4 paired block
 * ratios current / old (pairUnits), at the looks the worker took (`trace.looks`, block pairs seen at each; a trace without
 * them had one look at its end). The worker stopped at the first clear look; the same rule on the same
 * blocks gives the same verdict here.
 */
export function comparePaired(trace: PairedTrace, maxRegression: number): Comparison {
  const units = pairUnits(trace.current, trace.old);
  const looks = (trace.looks ?? [trace.current.length]).map((pairs) => Math.min(units.length, Math.floor(pairs / PAIRS_PER_UNIT)));
  const maxLooks = Math.max(trace.maxLooks ?? 1, looks.length);
  const r = sequentialPaired(units, looks, maxLooks, maxRegression);
  const e = r.estimate;
  const where = `over ${r.n} units of ${PAIRS_PER_UNIT} block pairs of ${trace.blockSize}${maxLooks > 1 ? `, look ${r.look} of at most ${maxLooks}` : ''}`;
  return {
    verdict: r.verdict,
    ratio: e?.ratio ?? (units.length ? median(units) : 1),
    ratioCi95: e?.ci95 ?? [0, Number.MAX_VALUE],
    pSlower: e?.pSlower ?? 1,
    pFaster: e?.pFaster ?? 1,
    significant: r.significant,
    method: 'paired',
    units: r.n,
    looks: { look: r.look, maxLooks, level: r.level },
    reason: `${r.reason} (${where})`,
  };
}

function summarise(rows: BaselineRow[], extra: { method: 'baseline' | 'against'; baselinePath: string; maxRegression: number; baselineAt?: string }): GateResult {
  const count = (v: string): number => rows.filter((x) => x.comparison?.verdict === v).length;
  return {
    method: extra.method,
    baselinePath: extra.baselinePath,
    ...(extra.baselineAt ? { baselineAt: extra.baselineAt } : {}),
    maxRegression: extra.maxRegression,
    rows,
    regressed: count('regressed'),
    improved: count('improved'),
    unchanged: count('unchanged'),
    tooNoisy: count('too-noisy'),
    matched: rows.filter((r) => r.status === 'compared').length,
  };
}

export function gate(current: readonly BenchRow[], baseline: BenchReport, baselinePath: string, maxRegression: number): GateResult {
  const base = new Map(baseline.rows.map((r) => [rowKey(r), r]));
  const rows: BaselineRow[] = [];
  for (const r of current) {
    const key = rowKey(r);
    const b = base.get(key);
    const common = { key, model: r.model, device: r.device, backend: r.backend, batch: r.batch, currentP50: r.stats.p50 };
    if (!b) {
      rows.push({ ...common, status: 'new' });
      continue;
    }
    base.delete(key);
    const now = r.repeatMedians ?? [r.stats.p50];
    const then = b.repeatMedians ?? (b.repeats && b.repeats > 1 ? [] : [b.stats.p50]);
    rows.push({ ...common, status: 'compared', baselineP50: b.stats.p50, comparison: compareRepeats(now, then, maxRegression) });
  }
  for (const [key, b] of base) rows.push({ key, model: b.model, device: b.device, backend: b.backend, batch: b.batch, status: 'missing', baselineP50: b.stats.p50 });
  return summarise(rows, { method: 'baseline', baselinePath, maxRegression, ...(baseline.at ? { baselineAt: baseline.at } : {}) });
}

/** The `--against` gate: every row that carries paired blocks, decided on them alone. */
export function pairedGate(current: readonly BenchRow[], againstPath: string, maxRegression: number): GateResult {
  const rows: BaselineRow[] = current.map((r) => {
    const common = { key: rowKey(r), model: r.model, device: r.device, backend: r.backend, batch: r.batch, currentP50: r.stats.p50 };
    return r.paired ? { ...common, status: 'compared' as const, baselineP50: r.paired.oldP50, comparison: comparePaired(r.paired, maxRegression) } : { ...common, status: 'new' as const };
  });
  return summarise(rows, { method: 'against', baselinePath: againstPath, maxRegression });
}

/** Parses "5%", "5", "0.05" (fraction when < 1 without %): the largest tolerated slowdown. */
export function parsePercent(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%)?\s*$/.exec(text);
  if (!m) return undefined;
  const v = Number(m[1]);
  return m[2] || v >= 1 ? v / 100 : v;
}
