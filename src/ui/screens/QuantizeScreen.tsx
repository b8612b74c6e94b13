/** `aivmm quantize` on a terminal: what was written, fidelity (red when poor), size, latency, warnings. */
import React from 'react';
import { Box, Text } from 'ink';
import type { QuantizeReport } from '../../core/quantize/index.js';
import { quantizeLines, quantizeTitle, type Tone } from '../quantize-view.js';

const COLOR: Readonly<Record<Tone, { color?: string }>> = { good: { color: 'green' }, bad: { color: 'red' }, warn: { color: 'yellow' }, plain: {} };

export function QuantizeScreen({ report }: { report: QuantizeReport }): React.ReactElement {
  const lines = quantizeLines(report);
  const width = Math.max(...lines.map((l) => l.label.length)) + 2;
  return (
    <Box flexDirection="column">
      <Text bold>{quantizeTitle(report)}</Text>
      {lines.map((l, i) => (
        <Box key={`${l.label}-${i}`}>
          <Box width={width} flexShrink={0}>
            <Text dimColor>{l.label}</Text>
          </Box>
          <Text {...COLOR[l.tone]}>{l.value}</Text>
        </Box>
      ))}
      {report.warnings.map((w, i) => (
        <Text key={`w${i}`} color={w.startsWith('POOR') ? 'red' : 'yellow'} bold={w.startsWith('POOR')}>
          {`⚠ ${w}`}
        </Text>
      ))}
    </Box>
  );
}
