/**
 * The CI gate: match the current rows with a saved run's rows by (model name, device, backend, batch)
 * and decide per row with the tests in compare.ts. Model files are deliberately not matched by hash:
 * a changed model under the same name is exactly what the gate is for.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, NotFoundError, errorMessage } from '../errors.js';
import { compareSamples } from './compare.js';
import type { BaselineRow, BenchReport, BenchRow, GateResult } from './types.js';

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

export function gate(current: readonly BenchRow[], baseline: BenchReport, baselinePath: string, maxRegression: number, seed = 1): GateResult {
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
    const refs = r.reference && b.reference && Array.isArray(b.reference.at) ? { current: r.reference, baseline: b.reference } : undefined;
    rows.push({ ...common, status: 'compared', baselineP50: b.stats.p50, comparison: compareSamples(r.samples, b.samples, { maxRegression, seed }, refs) });
  }
  for (const [key, b] of base) rows.push({ key, model: b.model, device: b.device, backend: b.backend, batch: b.batch, status: 'missing', baselineP50: b.stats.p50 });
  const count = (v: string): number => rows.filter((x) => x.comparison?.verdict === v).length;
  return {
    baselinePath,
    ...(baseline.at ? { baselineAt: baseline.at } : {}),
    maxRegression,
    rows,
    regressed: count('regressed'),
    improved: count('improved'),
    unchanged: count('unchanged'),
  };
}

/** Parses "5%", "5", "0.05" (fraction when < 1 without %): the largest tolerated slowdown. */
export function parsePercent(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%)?\s*$/.exec(text);
  if (!m) return undefined;
  const v = Number(m[1]);
  return m[2] || v >= 1 ? v / 100 : v;
}
