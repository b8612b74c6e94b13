/** The CI gate on synthetic sample sets: no regression, a clear regression, pure noise, an improvement. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootstrapMedianRatio, compareSamples, mannWhitney, normalizeByReference } from '../../src/core/bench/compare.js';
import { seededRandom } from '../../src/core/random.js';

/** Latency-like samples: a base plus a long right tail (log-normal noise). */
function latencies(n: number, median: number, spread: number, seed: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    return median * Math.exp(spread * z);
  });
}

test('Mann–Whitney: fully separated sets give U = 0 and the hand-computed normal p-value', () => {
  const mw = mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
  assert.equal(mw.u, 0);
  // mean 12.5, var 25·11/12, continuity 0.5: z = (0 − 12.5 + 0.5)/4.787 = −2.5068
  assert.ok(Math.abs(mw.pLess - 0.00609) < 2e-4, String(mw.pLess));
  assert.ok(mw.pGreater > 0.99);
  const same = mannWhitney([3, 3, 3], [3, 3, 3]); // all tied: no evidence either way
  assert.equal(same.pGreater, 1);
  assert.equal(same.pLess, 1);
});

test('bootstrap interval of the median ratio covers the true ratio and is deterministic per seed', () => {
  const a = latencies(400, 12, 0.05, 1);
  const b = latencies(400, 10, 0.05, 2);
  const ci = bootstrapMedianRatio(a, b, 1000, 7);
  assert.ok(ci[0] < 1.2 && ci[1] > 1.2 && ci[1] - ci[0] < 0.05, String(ci));
  assert.deepEqual(bootstrapMedianRatio(a, b, 1000, 7), ci);
});

test('gate: the same distribution twice is unchanged (20 seeds, none flagged)', () => {
  for (let s = 0; s < 20; s++) {
    const c = compareSamples(latencies(500, 6, 0.1, 100 + s), latencies(500, 6, 0.1, 200 + s), { maxRegression: 0.05 });
    assert.equal(c.verdict, 'unchanged', c.reason);
  }
});

test('gate: a 10% slowdown is a regression at a 5% limit; a 20% speed-up is an improvement', () => {
  const base = latencies(500, 6, 0.1, 1);
  const slow = compareSamples(latencies(500, 6.6, 0.1, 2), base, { maxRegression: 0.05 });
  assert.equal(slow.verdict, 'regressed', slow.reason);
  assert.ok(slow.ratio > 1.05 && slow.ratioCi95[0] > 1);
  assert.match(slow.reason, /slower .*beyond the 5\.0% limit/);
  const fast = compareSamples(latencies(500, 4.8, 0.1, 3), base, { maxRegression: 0.05 });
  assert.equal(fast.verdict, 'improved', fast.reason);
});

test('gate: a real 2% shift is significant but within the 5% limit; pure noise with huge spread is not flagged', () => {
  const shift = compareSamples(latencies(20_000, 6.12, 0.05, 4), latencies(20_000, 6, 0.05, 5), { maxRegression: 0.05 });
  assert.equal(shift.verdict, 'unchanged');
  assert.equal(shift.significant, true);
  assert.match(shift.reason, /within the 5\.0% limit/);
  const noise = compareSamples(latencies(30, 6, 0.6, 6), latencies(30, 6, 0.6, 7), { maxRegression: 0.05 });
  assert.equal(noise.verdict, 'unchanged', noise.reason);
});

test('gate: a big slowdown with too few samples is not decided', () => {
  const c = compareSamples([10, 11, 12], [5, 5, 5], { maxRegression: 0.05 });
  assert.equal(c.verdict, 'unchanged');
  assert.match(c.reason, /too few samples/);
});

/**
 * A machine that flips between speed states within a run (as this project's CI VM does): a trace of
 * `n` model samples with a reference run after every 5, both scaled by the machine's state at the time.
 */
function driftingRun(n: number, modelMs: number, seed: number, slowShare: number) {
  const r = seededRandom(seed);
  const samples: number[] = [];
  const ref = { samples: [] as number[], at: [] as number[] };
  let slow = false;
  for (let i = 0; i < n; i++) {
    if (i % 20 === 0) slow = r() < slowShare; // state changes every 20 requests
    const speed = slow ? 1.4 : 1;
    samples.push(modelMs * speed * (1 + 0.03 * r()));
    if (i % 5 === 4) {
      ref.samples.push(6 * speed * (1 + 0.03 * r()));
      ref.at.push(i + 1);
    }
  }
  return { samples, ref };
}

test('reference normalisation: drift between runs is cancelled; a 9% heavier model is still caught', () => {
  const then = driftingRun(300, 6, 1, 0.1); // the baseline ran mostly in the fast state
  const nowA = driftingRun(300, 6, 2, 0.8); // today mostly slow: raw times ~30% up
  const nowB = driftingRun(300, 6 * 1.09, 3, 0.5);
  const raw = compareSamples(nowA.samples, then.samples, { maxRegression: 0.05 });
  assert.equal(raw.verdict, 'regressed', 'without the reference the drift looks like a regression');
  const aa = compareSamples(nowA.samples, then.samples, { maxRegression: 0.05 }, { current: nowA.ref, baseline: then.ref });
  assert.equal(aa.verdict, 'unchanged', aa.reason);
  assert.ok(Math.abs(aa.ratio - 1) < 0.02, String(aa.ratio));
  assert.ok((aa.normalized?.machineFactor ?? 0) > 1.2);
  assert.match(aa.reason, /after correcting for a machine .* slower than at the baseline/);
  const ab = compareSamples(nowB.samples, then.samples, { maxRegression: 0.05 }, { current: nowB.ref, baseline: then.ref });
  assert.equal(ab.verdict, 'regressed', ab.reason);
  assert.ok(ab.ratio > 1.07 && ab.ratio < 1.11, String(ab.ratio));
});

test('local normalisation uses the reference runs nearest in time', () => {
  const ref = { samples: [10, 10, 20, 20], at: [2, 4, 6, 8] };
  const n = normalizeByReference([10, 10, 10, 10, 20, 20, 20, 20], ref);
  assert.ok(n.slice(0, 2).every((x) => Math.abs(x - 1) < 1e-9), String(n));
  assert.ok(n.slice(6).every((x) => Math.abs(x - 1) < 1e-9), String(n));
});
