/** `aivmm devices` on a terminal: one block per device with its backends, colour-coded. */
import React from 'react';
import { Box, Text } from 'ink';
import type { DevicesReport } from '../../core/devices/types.js';
import { deviceRows, hostLine, probeLine, runtimeLine, type ReachState } from '../devices-view.js';

const STATE: Readonly<Record<ReachState, { mark: string; color: string }>> = {
  ok: { mark: '✔', color: 'green' },
  unverified: { mark: '○', color: 'yellow' },
  fallback: { mark: '!', color: 'magenta' },
  unavailable: { mark: '✘', color: 'red' },
};

export function DevicesScreen({ report, now }: { report: DevicesReport; now?: Date }): React.ReactElement {
  const rows = deviceRows(report, now);
  return (
    <Box flexDirection="column">
      <Text bold>{hostLine(report)}</Text>
      <Text dimColor>{runtimeLine(report)}</Text>
      {rows.map((r) => (
        <Box key={r.id} flexDirection="column" marginTop={1}>
          <Text>
            <Text bold color="cyan">
              {r.id.padEnd(7)}
            </Text>
            <Text bold>{r.name}</Text>
            <Text dimColor>{`  ${r.tags.join(' · ')}`}</Text>
          </Text>
          {r.facts.map((f) => (
            <Text key={f} dimColor>{`       ${f}`}</Text>
          ))}
          {r.notes.map((n) => (
            <Text key={n} color="yellow">{`       note: ${n}`}</Text>
          ))}
          {r.backends.map((b) => (
            <Box key={b.backend} flexDirection="column" marginLeft={7}>
              <Box>
                <Box width={16} flexShrink={0}>
                  <Text>
                    <Text color={STATE[b.state].color}>{STATE[b.state].mark}</Text>
                    {` ${b.backend}`}
                  </Text>
                </Box>
                {b.state === 'unavailable' ? <Text color="red">{b.detail}</Text> : <Text dimColor>{b.detail}</Text>}
              </Box>
              {b.fix ? (
                <Box marginLeft={16}>
                  <Text dimColor>{`fix: ${b.fix}`}</Text>
                </Box>
              ) : null}
              {b.libraries ? (
                <Box marginLeft={16}>
                  <Text dimColor>{b.libraries}</Text>
                </Box>
              ) : null}
            </Box>
          ))}
          {r.backends.length === 0 ? <Text dimColor>{'       no backend reaches this device'}</Text> : null}
        </Box>
      ))}
      <Box marginTop={1}>
        <Text dimColor>{`✔ verified  ○ reachable, not verified  ! fell back to CPU  ✘ unavailable · ${probeLine(report, now)}`}</Text>
      </Box>
      {report.warnings.map((w) => (
        <Text key={w} color="yellow">{`warning: ${w}`}</Text>
      ))}
    </Box>
  );
}
