/** The rolling quantile window (dashboard p50/p95/p99) against a sorted reference, and its memory bound. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CountWindow, QuantileWindow } from '../../src/core/serve-metrics/series.js';
import { createServeMetrics } from '../../src/core/serve-metrics/index.js';
import { seededRandom } from '../../src/core/random.js';

/** The reference: the sorted observations' element at rank ⌊q·(n−1)⌋. */
const exact = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))] as number;
};
const QS = [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1];

for (const [name, draw] of [
  ['log-normal latencies (ms scale)', (r: () => number) => Math.exp(-6 + 1.2 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()))],
  ['uniform 0.1–40 ms', (r: () => number) => 1e-4 + r() * 0.04],
  ['bimodal: a warm 2 ms and a cold 900 ms tail', (r: () => number) => (r() < 0.97 ? 0.002 + r() * 1e-4 : 0.9 + r() * 0.1)],
] as const) {
  test(`quantiles are within the relative error of a sorted reference: ${name}`, () => {
    const rnd = seededRandom(7);
    const w = new QuantileWindow({ windowS: 60, relativeError: 0.01 });
    const xs: number[] = [];
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 20_000; i++) {
      const x = draw(rnd);
      xs.push(x);
      w.observe(x, t0 + Math.floor(i / 500) * 1000); // 40 s of traffic, 500 a second
    }
    const got = w.quantiles(QS, t0 + 39_500);
    assert.equal(got.count, xs.length);
    QS.forEach((q, i) => {
      const ref = exact(xs, q);
      const v = got.values[i] as number;
      assert.ok(Math.abs(v - ref) <= 0.01 * ref + 1e-12, `q=${q}: ${v} vs exact ${ref} (${((v / ref - 1) * 100).toFixed(3)}%)`);
    });
  });
}

test('the window slides: seconds older than windowS no longer count, and their slots are reused', () => {
  const w = new QuantileWindow({ windowS: 10 });
  const t0 = 5_000_000;
  for (let s = 0; s < 10; s++) w.observe(0.001, t0 + s * 1000); // 1 ms for 10 s
  for (let s = 10; s < 15; s++) w.observe(0.1, t0 + s * 1000); // then 100 ms for 5 s
  const now = t0 + 14_000;
  const live = [0.001, 0.001, 0.001, 0.001, 0.001, 0.1, 0.1, 0.1, 0.1, 0.1]; // seconds 5–14
  const got = w.quantiles([0.5, 0.4, 1], now);
  assert.equal(got.count, 10);
  [0.5, 0.4, 1].forEach((q, i) => assert.ok(Math.abs((got.values[i] as number) / exact(live, q) - 1) <= 0.01, `q=${q}: ${got.values[i]}`));
  // a minute later nothing is left, and an empty window answers NaN, not a stale value
  const later = w.quantiles([0.5], now + 60_000);
  assert.equal(later.count, 0);
  assert.ok(Number.isNaN(later.values[0]));
});

test('memory is bounded whatever the traffic: a spread of values fills at most maxBuckets', () => {
  const w = new QuantileWindow({ windowS: 5, relativeError: 0.02 });
  const rnd = seededRandom(3);
  for (let i = 0; i < 200_000; i++) w.observe(10 ** (-7 + 12 * rnd()), 1000 * Math.floor((i * 9) / 200_000)); // 1e-7 … 1e5 s, over 9 s into a 5 s ring
  assert.ok(w.buckets <= w.maxBuckets, `${w.buckets} > ${w.maxBuckets}`);
  assert.ok(w.maxBuckets < 5 * 700, `bound ${w.maxBuckets}`);
  // out-of-range values are clamped, never lost: the count holds them all for the live seconds
  assert.equal(w.quantiles([0.5], 8000).count, [...Array(200_000).keys()].filter((i) => Math.floor((i * 9) / 200_000) >= 4).length);
  assert.throws(() => w.observe(Number.NaN), /not a finite/);
  assert.throws(() => w.observe(-1), /non-negative/);
});

test('CountWindow sums keys over the live seconds only', () => {
  const c = new CountWindow(3);
  c.add('1', 2, 0);
  c.add('4', 1, 1000);
  c.add('1', 1, 2000);
  assert.deepEqual(c.totals(2000), { '1': 3, '4': 1 });
  assert.deepEqual(c.totals(3500), { '1': 1, '4': 1 });
  c.add('rejected', 1, 3000);
  assert.deepEqual(c.totals(3000), { '1': 1, '4': 1, rejected: 1 });
});

test('ServeMetrics.traffic: per model version p50/p95/p99 in ms, batch sizes and errors by reason; forgetModel drops them', async () => {
  const m = createServeMetrics();
  const MV = { model: 'tiny', version: '1' };
  const totals: number[] = [];
  for (let i = 1; i <= 100; i++) {
    const infer = i / 1000; // 1 … 100 ms
    m.recordRequest({ ...MV, outcome: 'success', queueS: 0.002, inferS: infer, batch: 1 });
    m.recordBatch({ ...MV, size: i % 10 === 0 ? 3 : 1 });
    totals.push(0.002 + infer);
  }
  m.recordRequest({ ...MV, outcome: 'failure', reason: 'timeout', queueS: 0.5 });
  m.recordRequest({ ...MV, outcome: 'failure', reason: 'rejected' });
  totals.push(0.5, 0);
  const [t] = m.traffic();
  assert.ok(t);
  assert.equal(t.model, 'tiny');
  assert.equal(t.windowS, 60);
  assert.equal(t.requests, 102);
  const near = (got: number | null, want: number): void => assert.ok(got !== null && Math.abs(got / want - 1) <= 0.011, `${got} vs ${want}`);
  near(t.computeMs.p50, 50);
  near(t.computeMs.p95, 95);
  near(t.computeMs.p99, 99);
  near(t.queueMs.p99, 2);
  near(t.requestMs.p99, exact(totals, 0.99) * 1000);
  assert.deepEqual(t.batchSizes, { '1': 90, '4': 10 });
  assert.deepEqual(t.errors, { timeout: 1, rejected: 1 });
  await m.forgetModel('tiny', '1');
  assert.deepEqual(m.traffic(), []);
});
