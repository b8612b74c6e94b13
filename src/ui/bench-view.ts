/**
 * The bench report turned into display rows, shared by the Ink screen, the plain table, Markdown and
 * CSV, so all of them say the same thing. Pure functions of the report; no I/O.
 */
import type { BenchReport, BenchRow, BaselineRow } from '../core/bench/types.js';
import { formatBytes, formatMs } from './format/units.js';

const BARS = ' ▁▂▃▄▅▆▇█';

/** A histogram as a one-line sparkline (empty bins as spaces). */
export function sparkline(counts: readonly number[]): string {
  const max = Math.max(0, ...counts);
  if (max === 0) return '';
  return counts.map((c) => (c === 0 ? ' ' : (BARS[Math.max(1, Math.round((c / max) * 8))] ?? '█'))).join('');
}

export function formatRate(perSec: number): string {
  if (!Number.isFinite(perSec)) return '-';
  if (perSec >= 100) return Math.round(perSec).toLocaleString('en-US');
  return perSec.toFixed(1);
}

export function formatSpeedup(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '-' : `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×`;
}

export interface ReportRow {
  device: string;
  backend: string;
  batch: string;
  p50: string;
  p90: string;
  p99: string;
  /** "6.1–6.3 ms" */
  ci: string;
  /** "3.2%" */
  cv: string;
  throughput: string;
  speedup: string;
  session: string;
  firstRun: string;
  peakRss: string;
  /** "312 W · 0.116 J/item (nvidia-smi, GPU board)", or '' where not measured. */
  power: string;
  runs: string;
  spark: string;
  noisy: boolean;
  fallback: boolean;
  raw: BenchRow;
}

function formatJoules(j: number): string {
  if (j >= 1) return `${j.toPrecision(3)} J`;
  if (j >= 1e-3) return `${(j * 1e3).toPrecision(3)} mJ`;
  return `${(j * 1e6).toPrecision(3)} µJ`;
}

export function reportRows(report: BenchReport): ReportRow[] {
  return report.rows.map((r) => ({
    device: r.device,
    backend: r.backend,
    batch: String(r.batch),
    p50: formatMs(r.stats.p50),
    p90: formatMs(r.stats.p90),
    p99: formatMs(r.stats.p99),
    ci: `${formatMs(r.stats.medianCi95[0])}–${formatMs(r.stats.medianCi95[1])}`,
    cv: `${(r.stats.cv * 100).toFixed(1)}%`,
    throughput: `${formatRate(r.throughput.itemsPerSec)}/s`,
    speedup: formatSpeedup(r.speedupVsCpu),
    session: formatMs(r.sessionMs),
    firstRun: formatMs(r.firstRunMs),
    peakRss: formatBytes(r.memory.peakRssBytes),
    power: r.power ? `${Math.round(r.power.watts)} W · ${formatJoules(r.power.joulesPerItem)}/item (${r.power.source}, ${r.power.scope})` : '',
    runs: String(r.stats.n),
    spark: sparkline(r.histogram.counts),
    noisy: r.noise.noisy,
    fallback: r.placement?.fallback ?? false,
    raw: r,
  }));
}

export function titleLine(report: BenchReport): string {
  const m = report.model;
  const s = report.settings;
  const mode = s.concurrency > 1 ? `throughput, ${s.concurrency} in flight` : 'latency, 1 in flight';
  const how = s.iterations !== undefined ? `${s.iterations} runs` : `${(s.durationMs ?? 0) / 1000} s`;
  return `${m.name} (${formatBytes(m.bytes)}, sha256 ${m.sha256.slice(0, 12)}) · ${mode} · ${how} per row${s.threads ? ` · ${s.threads} threads` : ''}`;
}

export function hostLine(report: BenchReport): string {
  const rt = Object.entries(report.runtimes).map(([k, v]) => `${k} ${v}`).join(', ');
  return `${report.host.hostname}: ${report.host.cpu}, ${report.host.logicalCores} threads, ${formatBytes(report.host.memoryBytes)}${rt ? ` · ${rt}` : ''} · aivmm ${report.aivmmVersion}`;
}

export interface GateRowView {
  key: string;
  baseline: string;
  current: string;
  change: string;
  verdict: string;
  reason: string;
}

export function gateRows(rows: readonly BaselineRow[]): GateRowView[] {
  return rows.map((r) => {
    const c = r.comparison;
    const change = c ? `${c.ratio >= 1 ? '+' : '−'}${(Math.abs(c.ratio - 1) * 100).toFixed(1)}%` : '-';
    return {
      key: r.key,
      baseline: formatMs(r.baselineP50),
      current: formatMs(r.currentP50),
      change,
      verdict: c ? c.verdict : r.status === 'new' ? 'new (not in baseline)' : 'missing (not measured)',
      reason: c?.reason ?? '',
    };
  });
}

export function gateSummary(report: BenchReport): string | undefined {
  const g = report.gate;
  if (!g) return undefined;
  const how = g.method === 'against' ? 'paired blocks, ' : g.method === 'baseline' ? 'per-process medians, ' : '';
  return `against ${g.baselinePath}${g.baselineAt ? ` (${g.baselineAt})` : ''}, ${how}limit ${(g.maxRegression * 100).toFixed(1)}%: ${g.regressed} regressed, ${g.improved} improved, ${g.unchanged} unchanged${g.tooNoisy ? `, ${g.tooNoisy} too noisy` : ''}`;
}

/** Skipped and failed pairs as lines. */
export function notes(report: BenchReport): string[] {
  return [
    ...(report.auto ? [`auto (${report.auto.prefer}): ${report.auto.device} ${report.auto.backend}: ${report.auto.reason}`, ...report.auto.candidates.filter((c) => c.excluded).map((c) => `  not eligible: ${c.device} ${c.backend}: ${c.excluded}`)] : []),
    ...report.skipped.map((s) => `skipped ${s.device}${s.backend ? ` ${s.backend}` : ''}: ${s.reason}`),
    ...report.failed.map((f) => `failed ${f.device} ${f.backend}: ${f.error.message}${f.error.hint ? ` (${f.error.hint})` : ''}`),
  ];
}
