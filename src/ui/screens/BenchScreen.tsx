/** `aivmm bench` on a terminal: the comparison table with a latency sparkline per row, then the gate. */
import React from 'react';
import { Box, Text } from 'ink';
import type { BenchReport } from '../../core/bench/types.js';
import { keepColumns } from '../format/fit.js';
import { gateRows, gateSummary, hostLine, notes, reportRows, titleLine } from '../bench-view.js';

const COLUMNS: readonly { title: string; width: number; get: (r: ReturnType<typeof reportRows>[number]) => string }[] = [
  { title: 'Device', width: 7, get: (r) => r.device },
  { title: 'Backend', width: 13, get: (r) => r.backend },
  { title: 'Batch', width: 6, get: (r) => r.batch },
  { title: 'p50', width: 9, get: (r) => r.p50 },
  { title: 'p90', width: 9, get: (r) => r.p90 },
  { title: 'p99', width: 9, get: (r) => r.p99 },
  { title: 'CV', width: 7, get: (r) => r.cv },
  { title: 'Items/s', width: 10, get: (r) => r.throughput },
  { title: 'vs CPU', width: 8, get: (r) => r.speedup },
];

const VERDICT_COLOR: Readonly<Record<string, string>> = { regressed: 'red', improved: 'green', unchanged: 'gray', 'too-noisy': 'yellow' };

function cellColor(column: string, r: ReturnType<typeof reportRows>[number]): { color?: string } {
  if (column === 'p50' && r.noisy) return { color: 'yellow' };
  if (column === 'vs CPU' && (r.raw.speedupVsCpu ?? 1) > 1.05) return { color: 'green' };
  return {};
}

/** Dropped first when the terminal is narrow: the sparkline keeps at least SPARK_MIN characters. */
const DROP_ORDER: readonly string[] = ['p90', 'CV', 'vs CPU', 'p99', 'Batch', 'Items/s'];
const SPARK_MIN = 8;

export function BenchScreen({ report, columns = 100 }: { report: BenchReport; columns?: number }): React.ReactElement {
  const rows = reportRows(report);
  const sparkLen = Math.max(0, ...rows.map((r) => [...r.spark].length));
  const widths = COLUMNS.map((c) => c.width);
  const keep = keepColumns(widths, columns, DROP_ORDER.map((t) => COLUMNS.findIndex((c) => c.title === t)), Math.min(sparkLen, SPARK_MIN) + 1);
  const shown = COLUMNS.filter((_, i) => keep[i]);
  const sparkWidth = Math.max(0, columns - shown.reduce((a, c) => a + c.width, 0) - 1);
  const spark = (s: string): string => [...s].slice(0, sparkWidth).join('');
  const summary = gateSummary(report);
  return (
    <Box flexDirection="column">
      <Text bold>{titleLine(report)}</Text>
      <Text dimColor>{hostLine(report)}</Text>
      <Box marginTop={1}>
        {shown.map((c) => (
          <Box key={c.title} width={c.width} flexShrink={0}>
            <Text bold>{c.title}</Text>
          </Box>
        ))}
        {sparkWidth >= SPARK_MIN ? <Text bold>{spark('p1 … p99')}</Text> : null}
      </Box>
      {rows.map((r) => (
        <Box key={`${r.device}-${r.backend}-${r.batch}`}>
          {shown.map((c) => (
            <Box key={c.title} width={c.width} flexShrink={0}>
              <Text {...cellColor(c.title, r)}>{c.get(r)}</Text>
            </Box>
          ))}
          {sparkWidth >= SPARK_MIN ? <Text color="cyan">{spark(r.spark)}</Text> : null}
        </Box>
      ))}
      {rows.map((r) => (
        <Text key={`${r.device}-${r.backend}-${r.batch}-detail`} dimColor>
          {`${r.device} ${r.backend} b${r.batch}: p50 95% CI ${r.ci} · ${r.runs} runs · session ${r.session} · first run ${r.firstRun} · peak RSS ${r.peakRss}${r.power ? ` · ${r.power}` : ''}${r.fallback ? ' · CPU fallback' : ''}`}
        </Text>
      ))}
      {summary && report.gate ? (
        <Box flexDirection="column" marginTop={1}>
          <Text bold>{`Gate ${summary}`}</Text>
          {gateRows(report.gate.rows).map((g) => (
            <Text key={g.key}>
              <Text color={VERDICT_COLOR[g.verdict] ?? 'yellow'}>{g.verdict.padEnd(10)}</Text>
              <Text>{` ${g.key}  ${g.baseline} → ${g.current} (${g.change})`}</Text>
              <Text dimColor>{g.reason ? `  ${g.reason}` : ''}</Text>
            </Text>
          ))}
        </Box>
      ) : null}
      {notes(report).length + report.warnings.length > 0 ? (
        <Box flexDirection="column" marginTop={1}>
          {notes(report).map((n) => (
            <Text key={n} dimColor>
              {n}
            </Text>
          ))}
          {report.warnings.map((w) => (
            <Text key={w} color="yellow">{`warning: ${w}`}</Text>
          ))}
        </Box>
      ) : null}
      {report.interrupted ? <Text color="yellow">interrupted: partial results</Text> : null}
    </Box>
  );
}
