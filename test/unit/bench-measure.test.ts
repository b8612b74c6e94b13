/** The timing loop with an injected clock: counts, durations, minimum runs, concurrency, abort. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measure, parseDuration } from '../../src/core/bench/measure.js';

/** A clock that advances only when the "request" runs: each takes `cost(i)` ms. */
function fakeWork(cost: (i: number) => number) {
  let t = 0;
  let i = 0;
  return { now: () => t, run: async () => void (t += cost(i++)), calls: () => i };
}

test('iterations: exactly N measured runs after the warm-up runs; samples are per-run times', async () => {
  const w = fakeWork((i) => (i < 3 ? 50 : 2)); // slow first runs are warm-up's to absorb
  const m = await measure(w.run, { warmup: { iterations: 3 }, iterations: 10, now: w.now });
  assert.equal(m.warmupIterations, 3);
  assert.equal(m.samples.length, 10);
  assert.ok(m.samples.every((s) => s === 2));
  assert.equal(m.wallMs, 20);
  assert.equal(w.calls(), 13);
});

test('duration: stops once the time is up, but not before the minimum count; maxMs caps a slow model', async () => {
  const fast = fakeWork(() => 1);
  const m = await measure(fast.run, { warmup: { ms: 10 }, durationMs: 100, minIterations: 20, now: fast.now });
  assert.equal(m.warmupIterations, 10);
  assert.equal(m.samples.length, 100);
  const slow = fakeWork(() => 40);
  const s = await measure(slow.run, { warmup: { iterations: 1 }, durationMs: 100, minIterations: 20, maxMs: 400, now: slow.now });
  assert.equal(s.samples.length, 10); // 400 ms cap at 40 ms a run, short of the 20 minimum
});

test('abort: the loop ends at the next run and returns what was measured, marked interrupted', async () => {
  const ac = new AbortController();
  const w = fakeWork(() => 1);
  const m = await measure(
    async () => {
      await w.run();
      if (w.calls() === 25) ac.abort();
    },
    { warmup: { iterations: 5 }, iterations: 1000, now: w.now, signal: ac.signal },
  );
  assert.equal(m.interrupted, true);
  assert.equal(m.samples.length, 20);
});

test('concurrency: N loops share the count; progress is reported with a fraction reaching 1', async () => {
  let t = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const run = async (): Promise<void> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setImmediate(r));
    t += 1;
    inFlight--;
  };
  const fractions: number[] = [];
  const m = await measure(run, { warmup: { iterations: 1 }, iterations: 40, concurrency: 4, now: () => t, onProgress: (p) => fractions.push(p.fraction), progressEveryMs: 0 });
  assert.equal(m.samples.length, 40);
  assert.equal(maxInFlight, 4);
  assert.equal(fractions[fractions.length - 1], 1);
});

test('durations: 10s, 500ms, 2m, 1.5 (seconds); junk is undefined', () => {
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1.5'), 1500);
  assert.equal(parseDuration('ten'), undefined);
  assert.equal(parseDuration('-1s'), undefined);
});

test('--repeat: each process gets its share; rows pool samples and reference positions in run order', async () => {
  const { mergeRepeats, splitSettings } = await import('../../src/core/bench/merge.js');
  const { describe, histogram, noiseVerdict } = await import('../../src/core/bench/stats.js');
  const base = { batches: [], shapes: [], inputFiles: [], seed: 1, concurrency: 1, warmup: { iterations: 3 }, iterations: 25, durationMs: 9000, maxMs: 30_000, minIterations: 20, epOptions: {}, reference: true, repeat: 3 };
  const part = splitSettings(base);
  assert.deepEqual([part.iterations, part.durationMs, part.maxMs, part.minIterations], [9, 3000, 10_000, 7]);
  const one = { ...base, repeat: 1 };
  assert.equal(splitSettings(one), one); // one process: the settings as given
  const row = (samples: number[], ref: number[], at: number[], wallMs: number) => {
    const stats = describe(samples);
    return {
      model: 'm', device: 'CPU', deviceName: 'c', backend: 'ort-cpu' as const, target: 'cpu', batch: 2, concurrency: 1, mode: 'latency' as const,
      shapes: {}, inputSource: 'random' as const, sessionMs: 10, firstRunMs: 2, warmup: { iterations: 3, ms: 5 }, stats,
      throughput: { itemsPerSec: 0, requestsPerSec: 0, wallMs }, noise: noiseVerdict(stats), histogram: histogram(samples),
      memory: { rssBytes: 100, peakRssBytes: 200 }, interrupted: false, samples, reference: { model: 'r', p50: 0, samples: ref, at },
    };
  };
  const [merged] = mergeRepeats([[row([1, 2, 3], [5, 5], [1, 3], 6)], [row([4, 5], [6], [2], 9)]]);
  assert.ok(merged);
  assert.deepEqual(merged.samples, [1, 2, 3, 4, 5]);
  assert.equal(merged.stats.n, 5);
  assert.equal(merged.repeats, 2);
  assert.deepEqual(merged.reference?.at, [1, 3, 5]); // second run's positions shifted by the first run's 3 samples
  assert.equal(merged.throughput.wallMs, 15);
  assert.equal(merged.throughput.itemsPerSec, (5 * 2 * 1000) / 15);
  assert.equal(merged.warmup.iterations, 6);
});
