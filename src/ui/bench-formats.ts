/** `bench --format md` (a GitHub job summary) and `--format csv` (one line per row, raw numbers in ms). */
import type { BenchReport } from '../core/bench/types.js';
import { gateRows, gateSummary, hostLine, notes, reportRows, titleLine } from './bench-view.js';

const cell = (s: string): string => s.replace(/\|/g, '\\|');

export function renderBenchMarkdown(report: BenchReport): string {
  const out: string[] = [`### aivmm bench: ${cell(report.model.name)}`, '', `${cell(titleLine(report))}  `, `${cell(hostLine(report))}`, ''];
  out.push('| Device | Backend | Batch | p50 | p90 | p99 | p50 95% CI | CV | Items/s | vs CPU | Session | 1st run | Peak RSS |');
  out.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of reportRows(report)) {
    out.push(`| ${r.device} | ${r.backend} | ${r.batch} | ${r.p50}${r.noisy ? ' ⚠' : ''} | ${r.p90} | ${r.p99} | ${r.ci} | ${r.cv} | ${r.throughput} | ${r.speedup} | ${r.session} | ${r.firstRun} | ${r.peakRss} |`);
  }
  const summary = gateSummary(report);
  if (summary && report.gate) {
    out.push('', `**Gate** ${cell(summary)}`, '', '| Row | Baseline p50 | Now p50 | Change | Verdict | Why |', '|---|--:|--:|--:|---|---|');
    for (const v of gateRows(report.gate.rows)) {
      const mark = v.verdict === 'regressed' ? '❌ regressed' : v.verdict === 'improved' ? '✅ improved' : v.verdict === 'too-noisy' ? '⚠️ too noisy' : v.verdict;
      out.push(`| ${cell(v.key)} | ${v.baseline} | ${v.current} | ${v.change} | ${mark} | ${cell(v.reason)} |`);
    }
  }
  const extra = [...notes(report), ...report.warnings.map((w) => `warning: ${w}`)];
  if (extra.length > 0) out.push('', ...extra.map((n) => `- ${cell(n)}`));
  if (report.interrupted) out.push('', '_Interrupted: partial results._');
  return `${out.join('\n')}\n`;
}

function csvField(v: string | number | boolean | undefined): string {
  if (v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(Math.round(v * 10_000) / 10_000) : '') : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const CSV_COLUMNS = [
  'model', 'device', 'device_name', 'backend', 'target', 'batch', 'concurrency', 'runs',
  'p50_ms', 'p90_ms', 'p95_ms', 'p99_ms', 'min_ms', 'max_ms', 'mean_ms', 'stddev_ms', 'cv', 'p50_ci_low_ms', 'p50_ci_high_ms',
  'items_per_s', 'speedup_vs_cpu', 'session_ms', 'first_run_ms', 'peak_rss_bytes', 'noisy', 'cpu_fallback', 'gate_verdict', 'gate_change',
  'power_w', 'joules_per_item',
] as const;

export function renderBenchCsv(report: BenchReport): string {
  const gateRow = (r: BenchReport['rows'][number]) => report.gate?.rows.find((g) => g.model === r.model && g.device === r.device && g.backend === r.backend && g.batch === r.batch);
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of report.rows) {
    const g = gateRow(r);
    const s = r.stats;
    lines.push(
      [
        r.model, r.device, r.deviceName, r.backend, r.target, r.batch, r.concurrency, s.n,
        s.p50, s.p90, s.p95, s.p99, s.min, s.max, s.mean, s.stddev, s.cv, s.medianCi95[0], s.medianCi95[1],
        r.throughput.itemsPerSec, r.speedupVsCpu, r.sessionMs, r.firstRunMs, r.memory.peakRssBytes, r.noise.noisy, r.placement?.fallback,
        g?.comparison?.verdict, g?.comparison ? g.comparison.ratio - 1 : undefined,
        r.power?.watts, r.power?.joulesPerItem,
      ].map(csvField).join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
