/** Live progress of `aivmm bench` on stderr: one line per (device, backend), a bar for the one running. */
import React from 'react';
import { Box, Text } from 'ink';
import { formatMs } from '../format/units.js';

export interface PairProgress {
  label: string;
  state: 'pending' | 'running' | 'done' | 'failed';
  /** "session", "warm-up", "measuring batch 8" */
  phase?: string;
  fraction?: number;
  runs?: number;
  lastMs?: number;
  /** Finished: "p50 6.1 ms"; failed: the error. */
  result?: string;
}

const MARK = { pending: '·', running: '▶', done: '✔', failed: '✘' } as const;
const COLOR = { pending: 'gray', running: 'cyan', done: 'green', failed: 'red' } as const;

function bar(fraction: number, width = 20): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

/**
 * Every line is cut to the terminal's width (a wrapped line is one the live redraw does not erase, which
 * left stale copies above the report); `notice` (e.g. "stopping…" after Ctrl-C) is part of the view for
 * the same reason, not written beside it.
 */
export function BenchProgress({ pairs, title, notice }: { pairs: readonly PairProgress[]; title: string; notice?: string }): React.ReactElement {
  return (
    <Box flexDirection="column">
      <Text dimColor wrap="truncate">
        {title}
      </Text>
      {pairs.map((p) => (
        <Text key={p.label} wrap="truncate">
          <Text color={COLOR[p.state]}>{`${MARK[p.state]} `}</Text>
          <Text>{p.label.padEnd(22)}</Text>
          {p.state === 'running' ? (
            <Text>
              <Text color="cyan">{` ${bar(p.fraction ?? 0)}`}</Text>
              <Text dimColor>{` ${p.phase ?? ''}${p.runs !== undefined ? ` · ${p.runs} runs` : ''}${p.lastMs !== undefined ? ` · last ${formatMs(p.lastMs)}` : ''}`}</Text>
            </Text>
          ) : (
            <Text dimColor>{p.result ? ` ${p.result}` : ''}</Text>
          )}
        </Text>
      ))}
      {notice ? (
        <Text color="yellow" wrap="truncate">
          {notice}
        </Text>
      ) : null}
    </Box>
  );
}
