/** `aivmm bench` as plain text for pipes and logs: a cli-table3 table, the gate, skipped pairs, warnings. */
import Table from 'cli-table3';
import type { BenchReport } from '../../core/bench/types.js';
import { gateRows, gateSummary, hostLine, notes, reportRows, titleLine } from '../bench-view.js';

export function renderBenchPlain(report: BenchReport): string {
  const table = new Table({
    head: ['Device', 'Backend', 'Batch', 'p50', 'p90', 'p99', 'p50 95% CI', 'CV', 'Items/s', 'vs CPU', 'Session', '1st run', 'Peak RSS', 'Runs'],
    style: { head: [], border: [], compact: true },
  });
  for (const r of reportRows(report)) {
    table.push([r.device, r.backend, r.batch, r.p50 + (r.noisy ? ' ~' : ''), r.p90, r.p99, r.ci, r.cv, r.throughput, r.speedup, r.session, r.firstRun, r.peakRss, r.runs]);
  }
  const lines = [titleLine(report), hostLine(report), table.toString()];
  if (report.rows.some((r) => r.noise.noisy)) lines.push('~ = unstable measurement (see warnings)');
  const energy = reportRows(report).filter((r) => r.power);
  if (energy.length > 0) lines.push('', 'Energy:', ...energy.map((r) => `  ${r.device} ${r.backend} b${r.batch}: ${r.power}`));
  const summary = gateSummary(report);
  if (summary && report.gate) {
    const g = new Table({ head: ['Row', 'Baseline p50', 'Now p50', 'Change', 'Verdict'], style: { head: [], border: [], compact: true } });
    const views = gateRows(report.gate.rows);
    for (const v of views) g.push([v.key, v.baseline, v.current, v.change, v.verdict]);
    lines.push('', `Gate ${summary}`, g.toString());
    for (const v of views) if (v.reason) lines.push(`  ${v.key}: ${v.verdict}: ${v.reason}`);
  }
  const extra = notes(report);
  if (extra.length > 0) lines.push('', ...extra);
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  if (report.interrupted) lines.push('interrupted: partial results');
  return `${lines.join('\n')}\n`;
}
