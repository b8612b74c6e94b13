/** Bench on the runtime: a fresh process lane per pair, cancel through the protocol, --concurrency on the thread host. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { targetFor } from '../../src/core/backends/ep-map.js';
import { benchPair, type PairEvent } from '../../src/core/bench/run-pair.js';
import type { BenchJob, BenchRow, BenchSettings } from '../../src/core/bench/types.js';
import { ensureEmbeddedModel } from '../../src/core/models/embedded.js';
import { processBenchRunner } from '../../src/runtime/bench-runner.js';
import { threadPoolOpener } from '../../src/runtime/session-pool.js';
import { Lane } from '../../src/runtime/lane.js';
import { CPU_DEVICE, quickSettings } from '../helpers/bench-job.js';

const dir = await mkdtemp(join(os.tmpdir(), 'aivmm-bench-lane-'));
test.after(() => rm(dir, { recursive: true, force: true }));
const tiny = await ensureEmbeddedModel('tiny-convnet', dir);
const settings = quickSettings;
const job = (s: BenchSettings): BenchJob => ({ model: { path: tiny.path, name: 'tiny-convnet' }, device: { id: 'CPU', name: 'test cpu' }, backend: 'ort-cpu', target: targetFor([CPU_DEVICE], CPU_DEVICE, 'ort-cpu'), settings: s });

test('process runner: one pair in its own process, events streamed, an aborted signal stops the loop through cancel', async () => {
  const runner = processBenchRunner(process.env);
  const ac = new AbortController();
  const kinds: string[] = [];
  let measured = 0;
  const rows = await runner(job(settings({ iterations: 1_000_000, warmup: { iterations: 1 } })), {
    signal: ac.signal,
    onEvent: (e: PairEvent) => {
      kinds.push(e.kind);
      if (e.kind === 'progress' && e.progress.phase === 'measure' && ++measured === 3) ac.abort();
    },
  });
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.interrupted, true);
  assert.ok((rows[0]?.stats.n ?? 0) > 0 && (rows[0]?.stats.n ?? 0) < 1_000_000);
  assert.equal(kinds[0], 'session');
  // peak RSS is the worker's, not this test process's
  assert.ok((rows[0]?.memory.peakRssBytes ?? 0) > 0);
});

test('a pair lane killed mid-measurement rejects its job with LANE_CRASHED, worded by the lane', async () => {
  // kill the pair's lane from the outside while it measures
  const lane = await Lane.start({ name: 'CPU ort-cpu', target: job(settings()).target });
  const pending = lane.job<BenchRow[]>('bench-pair', job(settings({ iterations: 1_000_000 })), (e) => {
    if ((e as PairEvent).kind === 'progress' && lane.pid) process.kill(lane.pid, 'SIGKILL');
  });
  await assert.rejects(pending, (e: Error & { code?: string }) => e.code === 'LANE_CRASHED' && /^the CPU ort-cpu lane exited \(signal SIGKILL\) while running job bench-pair/.test(e.message));
  await lane.close();
});

test('--concurrency 2 on the runtime thread host: two sessions with requests overlapping', async () => {
  const rows = await benchPair(job(settings({ concurrency: 2, iterations: 40, batches: [2] })), { openPool: threadPoolOpener });
  const r = rows[0];
  assert.ok(r);
  assert.equal(r.mode, 'throughput');
  assert.equal(r.stats.n, 40);
  const sum = r.samples.reduce((a, b) => a + b, 0);
  assert.ok(r.throughput.wallMs < sum, `wall ${r.throughput.wallMs} vs sum ${sum}`);
});
