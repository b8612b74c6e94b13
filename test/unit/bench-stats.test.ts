/** Statistics against known values (numpy's default percentiles, binomial median-CI tables, normal quantiles). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describe, histogram, logGamma, medianCiRanks, noiseVerdict, normalCdf, normalQuantile, quantileSorted } from '../../src/core/bench/stats.js';

const close = (a: number, b: number, tol = 1e-9): void => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('percentiles interpolate like numpy.percentile (linear); mean, sample stddev, CV', () => {
  const xs = [7, 1, 10, 3, 5, 2, 9, 4, 8, 6]; // 1..10, shuffled
  const s = describe(xs);
  assert.equal(s.n, 10);
  assert.equal(s.min, 1);
  assert.equal(s.max, 10);
  close(s.p50, 5.5);
  close(s.p90, 9.1);
  close(s.p95, 9.55);
  close(s.p99, 9.91);
  close(s.mean, 5.5);
  close(s.stddev, 3.0276503540974917); // numpy.std(ddof=1)
  close(s.cv, 3.0276503540974917 / 5.5);
  close(s.mad, 2.5);
  assert.deepEqual(s.medianCi95, [2, 9]); // ranks (2, 9) for n = 10
  close(quantileSorted([4], 0.99), 4);
});

test('median CI ranks match the binomial tables (n = 10, 20, 100) and the normal approximation for large n', () => {
  assert.deepEqual(medianCiRanks(10), [2, 9]);
  assert.deepEqual(medianCiRanks(20), [6, 15]);
  assert.deepEqual(medianCiRanks(100), [40, 61]);
  assert.deepEqual(medianCiRanks(5), [1, 5]); // too few samples: the full range
  const [j, k] = medianCiRanks(10_000);
  assert.ok(Math.abs(j - 4902) <= 1 && Math.abs(k - 5099) <= 1, `${j}, ${k}`);
});

test('special functions: logΓ, Φ and Φ⁻¹ against reference values', () => {
  close(logGamma(10), Math.log(362880), 1e-10);
  close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-10);
  close(normalQuantile(0.975), 1.959963984540054, 1e-8);
  close(normalQuantile(0.01), -2.3263478740408408, 1e-8);
  close(normalCdf(1.959963984540054), 0.975, 1e-6);
  close(normalCdf(-2.5068), 0.006092, 1e-5);
});

test('histogram spans p1..p99 with outliers clamped into the end bins; all counted', () => {
  const xs = Array.from({ length: 1000 }, (_, i) => 10 + (i % 100) / 10);
  xs.push(1000); // one huge outlier must not flatten the histogram
  const h = histogram(xs, 10);
  assert.equal(h.counts.length, 10);
  assert.equal(h.counts.reduce((a, b) => a + b, 0), xs.length);
  assert.ok(h.start >= 10 && h.start + h.width * 10 < 21);
  assert.deepEqual(histogram([5, 5, 5]).counts, [3]);
});

test('noise verdict: tight samples are stable; a wide spread or too few samples are flagged', () => {
  const tight = Array.from({ length: 500 }, (_, i) => 5 + Math.sin(i) * 0.05);
  assert.equal(noiseVerdict(describe(tight)).noisy, false);
  const wide = Array.from({ length: 500 }, (_, i) => 5 * (1 + ((i * 7919) % 100) / 100));
  const v = noiseVerdict(describe(wide));
  assert.equal(v.noisy, true);
  assert.match(v.reasons.join(), /spread/);
  assert.match(noiseVerdict(describe([1, 1, 1])).reasons.join(), /only 3 samples/);
});
