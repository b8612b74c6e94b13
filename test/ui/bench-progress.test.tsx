/**
 * Live bench progress (#15): Ctrl-C's "stopping…" line is part of the view and every line is cut to the
 * terminal width (written beside the view, or wrapped, lines were left stale above the report); stop()
 * erases the view before the report.
 */
import '../helpers/not-ci.js'; // before Ink loads: it reads CI once
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { stripVTControlCharacters } from 'node:util';
import { test } from 'node:test';
import React from 'react';
import { BenchProgress } from '../../src/ui/screens/BenchProgress.js';
import { startBenchProgress } from '../../src/cli/bench-progress.js';
import { makeContext } from '../../src/cli/context.js';
import { loadConfig } from '../../src/core/config/load.js';

const pairs = [
  { label: 'CPU ort-cpu', state: 'running' as const, phase: 'measuring batch 1', fraction: 0.4, runs: 1234, lastMs: 1.2 },
  { label: 'GPU.0 ort-webgpu', state: 'pending' as const },
];

test('every progress line fits 60 columns; the notice is a line of the view', async () => {
  const { renderToString } = await import('ink');
  const title = 'benchmarking a-model-with-a-long-name on 2 device/backend pair(s) (Ctrl-C stops and keeps what was measured)';
  const out = stripVTControlCharacters(renderToString(<BenchProgress pairs={pairs} title={title} notice="aivmm: stopping: finishing the current measurement (Ctrl-C again to quit at once)" />, { columns: 60 }));
  const lines = out.split('\n');
  assert.equal(lines.length, 4, out);
  for (const l of lines) assert.ok(l.length <= 60, `${l.length}: ${l}`);
  assert.match(lines[3] ?? '', /^aivmm: stopping/);
});

class FakeTty extends EventEmitter {
  isTTY = true;
  columns = 80;
  rows = 24;
  chunks: string[] = [];
  write(s: string): boolean {
    this.chunks.push(s);
    return true;
  }
}

test('stop() erases the live view: nothing of it is left above the report', async () => {
  const stream = new FakeTty();
  const io = { stdout: { write: () => true, isTTY: true, columns: 80 }, stderr: { write: () => true, isTTY: true, columns: 80 }, env: {} };
  const ctx = makeContext(io, { json: false, verbose: false, color: false }, loadConfig({}));
  assert.ok(ctx.progress);
  const p = await startBenchProgress(ctx, stream as unknown as NodeJS.WriteStream);
  p.update({ kind: 'plan', jobs: [{ model: { name: 'm', path: '/m' }, device: { id: 'CPU', name: 'x' }, backend: 'ort-cpu' }] } as never);
  p.update({ kind: 'pair-start', index: 0 } as never);
  p.notice('aivmm: stopping: finishing the current measurement');
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(stream.chunks.some((c) => /stopping/.test(c)), 'the notice was drawn in the view');
  const before = stream.chunks.length;
  p.stop();
  await new Promise((r) => setTimeout(r, 50));
  const after = stream.chunks.slice(before).join('');
  assert.match(after, /\u001b\[2K/, 'erase sequences');
  assert.ok(!/CPU ort-cpu|stopping/.test(stripVTControlCharacters(after)), `the view is not drawn again: ${JSON.stringify(after)}`);
});
