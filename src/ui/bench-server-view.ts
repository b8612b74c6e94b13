/** `aivmm bench --server` as text: a plain table (pipes, logs, terminals), markdown (job summaries), CSV. */
import Table from 'cli-table3';
import type { ServerBenchPoint, ServerBenchReport, ServerGateRow } from '../core/bench/server-load.js';

const ms = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const rate = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

function errorsText(p: ServerBenchPoint): string {
  const e = Object.entries(p.errors);
  return e.length === 0 ? '0' : e.map(([k, n]) => `${n}×${k}`).join(' ');
}

function split(p: ServerBenchPoint): string {
  const t = p.serverTiming ?? (p.serverStats ? { queueMs: p.serverStats.queueMs, computeMs: p.serverStats.computeMs, overheadMs: undefined } : undefined);
  return t ? `${ms(t.queueMs)} / ${ms(t.computeMs)} / ${ms(t.overheadMs)}` : '-';
}

export interface PointView {
  load: string;
  p50: string;
  p90: string;
  p95: string;
  p99: string;
  throughput: string;
  items: string;
  split: string;
  errors: string;
  windows: string;
  unstable: boolean;
}

export function pointViews(r: ServerBenchReport): PointView[] {
  return r.points.map((p) => ({
    load: p.mode === 'rate' ? `${rate(p.rate ?? 0)}/s` : `c=${p.concurrency}`,
    p50: ms(p.stats?.p50),
    p90: ms(p.stats?.p90),
    p95: ms(p.stats?.p95),
    p99: ms(p.stats?.p99),
    throughput: rate(p.throughput.requestsPerSec),
    items: rate(p.throughput.itemsPerSec),
    split: split(p),
    errors: errorsText(p),
    windows: `${p.windows}${p.stable ? '' : ' ~'}`,
    unstable: !p.stable,
  }));
}

export function titleLine(r: ServerBenchReport): string {
  const who = [r.server.name, r.server.version].filter(Boolean).join(' ');
  return `${r.model.name} on ${r.server.url}${who ? ` (${who})` : ''} · ${r.request.binary ? 'binary tensors' : 'JSON'} · ${r.request.inputs.map((i) => `${i.name} ${i.datatype}[${i.shape.join('x')}]`).join(', ')} · window ${r.settings.windowMs} ms, ±${Math.round(r.settings.stability * 100)}%`;
}

function gateLine(r: ServerBenchReport): string | undefined {
  const g = r.gate;
  if (!g) return undefined;
  return `against ${g.baselinePath}: ${g.regressed} regressed, ${g.improved} improved, ${g.unchanged} unchanged (limit ${Math.round(g.maxRegression * 1000) / 10}%)`;
}

function gateCells(x: ServerGateRow): string[] {
  const change = x.comparison ? `${x.comparison.ratio >= 1 ? '+' : ''}${((x.comparison.ratio - 1) * 100).toFixed(1)}%` : '-';
  return [x.key, ms(x.baselineP50), ms(x.currentP50), change, x.comparison?.verdict ?? x.status];
}

const HEAD = ['Load', 'p50', 'p90', 'p95', 'p99', 'Req/s', 'Items/s', 'Server q/c/o ms', 'Errors', 'Windows'];

export function renderServerBenchPlain(r: ServerBenchReport): string {
  const t = new Table({ head: HEAD, style: { head: [], border: [], compact: true } });
  for (const v of pointViews(r)) t.push([v.load, v.p50, v.p90, v.p95, v.p99, v.throughput, v.items, v.split, v.errors, v.windows]);
  const lines = [titleLine(r), t.toString(), 'latencies in ms (client side, successful requests); server split: queue / compute / overhead'];
  if (r.points.some((p) => !p.stable)) lines.push(`~ = not stable within ±${Math.round(r.settings.stability * 100)}% after ${r.settings.maxWindows} windows`);
  for (const p of r.points) if (p.firstError) lines.push(`${p.key}: first error: ${p.firstError}`);
  const gl = gateLine(r);
  if (gl && r.gate) {
    const g = new Table({ head: ['Point', 'Baseline p50', 'Now p50', 'Change', 'Verdict'], style: { head: [], border: [], compact: true } });
    for (const x of r.gate.rows) g.push(gateCells(x));
    lines.push('', `Gate ${gl}`, g.toString());
    for (const x of r.gate.rows) if (x.comparison) lines.push(`  ${x.key}: ${x.comparison.verdict}: ${x.comparison.reason}`);
  }
  if (r.interrupted) lines.push('interrupted: partial results');
  return `${lines.join('\n')}\n`;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');

export function renderServerBenchMarkdown(r: ServerBenchReport): string {
  const out = [`### aivmm bench --server: ${cell(r.model.name)}`, '', cell(titleLine(r)), ''];
  out.push(`| ${HEAD.join(' | ')} |`, '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const v of pointViews(r)) out.push(`| ${v.load} | ${v.p50} | ${v.p90} | ${v.p95} | ${v.p99} | ${v.throughput} | ${v.items} | ${v.split} | ${v.errors} | ${v.windows.replace(' ~', ' ⚠')} |`);
  const gl = gateLine(r);
  if (gl && r.gate) {
    out.push('', `**Gate** ${cell(gl)}`, '', '| Point | Baseline p50 | Now p50 | Change | Verdict | Why |', '|---|--:|--:|--:|---|---|');
    for (const x of r.gate.rows) out.push(`| ${gateCells(x).map(cell).join(' | ')} | ${cell(x.comparison?.reason ?? '')} |`);
  }
  for (const p of r.points) if (p.firstError) out.push('', `- ${cell(p.key)}: first error: ${cell(p.firstError)}`);
  if (r.interrupted) out.push('', '_Interrupted: partial results._');
  return `${out.join('\n')}\n`;
}

function csvField(v: string | number | boolean | undefined): string {
  if (v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(Math.round(v * 10_000) / 10_000) : '') : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const SERVER_CSV_COLUMNS = [
  'model', 'mode', 'concurrency', 'rate', 'requests', 'p50_ms', 'p90_ms', 'p95_ms', 'p99_ms', 'mean_ms', 'requests_per_s', 'items_per_s',
  'server_queue_ms', 'server_compute_ms', 'server_overhead_ms', 'errors', 'windows', 'stable', 'gate_verdict', 'gate_change',
] as const;

export function renderServerBenchCsv(r: ServerBenchReport): string {
  const lines = [SERVER_CSV_COLUMNS.join(',')];
  for (const p of r.points) {
    const g = r.gate?.rows.find((x) => x.key === `${r.model.name} | ${p.key}`);
    const t = p.serverTiming;
    lines.push([
      r.model.name, p.mode, p.concurrency, p.rate, p.requests, p.stats?.p50, p.stats?.p90, p.stats?.p95, p.stats?.p99, p.stats?.mean,
      p.throughput.requestsPerSec, p.throughput.itemsPerSec, t?.queueMs ?? p.serverStats?.queueMs, t?.computeMs ?? p.serverStats?.computeMs, t?.overheadMs,
      Object.values(p.errors).reduce((a, b) => a + b, 0), p.windows, p.stable, g?.comparison?.verdict, g?.comparison ? g.comparison.ratio - 1 : undefined,
    ].map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}
