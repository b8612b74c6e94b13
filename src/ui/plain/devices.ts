/** `aivmm devices` as plain text for pipes and logs: a cli-table3 table, then the reasons. */
import Table from 'cli-table3';
import type { DevicesReport } from '../../core/devices/types.js';
import { formatMs } from '../format/units.js';
import { deviceRows, hostLine, probeLine, runtimeLine, type ReachState } from '../devices-view.js';

const MARK: Readonly<Record<ReachState, string>> = { ok: 'yes', unverified: 'yes?', fallback: 'fallback', unavailable: 'no' };

export function renderDevicesPlain(report: DevicesReport, now: Date = new Date()): string {
  const rows = deviceRows(report, now);
  const table = new Table({
    head: ['ID', 'Device', 'Kind', 'Details', 'Backends'],
    style: { head: [], border: [], compact: true },
    wordWrap: true,
    colWidths: [7, 30, 12, 44, 26],
  });
  for (const r of rows) {
    table.push([r.id, r.name, r.tags.join(', '), r.facts.join('\n'), r.backends.map((b) => `${b.backend}: ${MARK[b.state]}${b.runMs !== undefined ? ` (${formatMs(b.runMs)})` : ''}`).join('\n') || '(none)']);
  }
  const lines = [hostLine(report), runtimeLine(report), table.toString()];
  const why: string[] = [];
  for (const r of rows) {
    for (const b of r.backends) {
      if (b.state === 'ok' || b.state === 'unverified') {
        if (b.libraries) why.push(`${r.id} ${b.backend}: ${b.libraries}`);
        continue;
      }
      why.push(`${r.id} ${b.backend}: ${b.detail}${b.fix ? `\n    fix: ${b.fix}` : ''}`);
    }
    for (const n of r.notes) why.push(`${r.id}: ${n}`);
  }
  if (why.length > 0) lines.push('', ...why);
  lines.push('', `yes? = reachable by cheap checks, not yet verified · ${probeLine(report, now)}`);
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}
