/**
 * The gate's decision statistics (issue #21): Student's t, Welch on per-process log-medians, the paired
 * block ratios of --against, the three-way rule with "too noisy", and the measurement-mode check.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide, pairedRatio, signTest, studentTQuantile, welchLogRatio, wilcoxonSignedRank } from '../../src/core/bench/gate-stats.js';
import { compareRepeats, comparePaired } from '../../src/core/bench/baseline.js';
import { checkModes, measurementOf } from '../../src/core/bench/mode.js';
import { seededRandom } from '../../src/core/random.js';
import type { BenchSettings } from '../../src/core/bench/types.js';

const close = (a: number, b: number, tol: number): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

/** Standard normal by Box–Muller from a seeded uniform source. */
function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

test("Student's t quantiles match the tables", () => {
  close(studentTQuantile(0.975, 1), 12.706, 0.002);
  close(studentTQuantile(0.975, 4), 2.776, 0.001);
  close(studentTQuantile(0.975, 30), 2.042, 0.001);
  close(studentTQuantile(0.99, 10), 2.764, 0.001);
  close(studentTQuantile(0.5, 7), 0, 1e-6);
});

test('Wilcoxon signed-rank: five positive differences give the hand-computed normal p-value', () => {
  const w = wilcoxonSignedRank([1, 2, 3, 4, 5]);
  // W+ = 15, mean 7.5, sd √13.75; continuity-corrected z = 7/3.708 = 1.888 → p = 0.0295.
  close(w.pGreater, 0.0295, 0.0005);
  assert.ok(w.pLess > 0.95);
  // The paired gate's exact sign test: 5 of 5 positive is 1/32; 4 of 5 is 6/32.
  close(signTest([1, 2, 3, 4, 5]).pGreater, 1 / 32, 1e-12);
  close(signTest([1, 2, -3, 4, 5]).pGreater, 6 / 32, 1e-12);
});

test('three-way rule: an interval spanning both 1 and 1 + limit is too noisy, never a guess', () => {
  assert.equal(decide({ ratio: 1.03, ci95: [0.98, 1.09], pSlower: 0.1, pFaster: 0.9 }, 0.05).verdict, 'too-noisy');
  assert.equal(decide({ ratio: 1.01, ci95: [0.99, 1.03], pSlower: 0.2, pFaster: 0.8 }, 0.05).verdict, 'unchanged');
  assert.equal(decide({ ratio: 1.09, ci95: [1.06, 1.12], pSlower: 0.001, pFaster: 0.999 }, 0.05).verdict, 'regressed');
  assert.equal(decide({ ratio: 1.03, ci95: [1.01, 1.05], pSlower: 0.001, pFaster: 0.999 }, 0.05).verdict, 'unchanged'); // real, within the limit
  assert.equal(decide({ ratio: 0.8, ci95: [0.75, 0.85], pSlower: 0.999, pFaster: 0.001 }, 0.05).verdict, 'improved');
  // Beyond the limit with the interval above 1, but the test not confirming it: not "unchanged" either.
  assert.equal(decide({ ratio: 1.099, ci95: [1.01, 1.2], pSlower: 0.02, pFaster: 0.98 }, 0.05).verdict, 'too-noisy');
});

test('per-process medians at a 1.5% process spread (3 vs 3): A/A false alarms ≤ 1%; +10% caught ≥ 90%, the rest too noisy, never passed', () => {
  const rand = seededRandom(21);
  const procs = (factor: number, sd: number): number[] => Array.from({ length: 3 }, () => 10 * factor * Math.exp(sd * gauss(rand)));
  let alarms = 0;
  let caught = 0;
  let noisyAA = 0;
  let missed = 0;
  const trials = 1000;
  for (let i = 0; i < trials; i++) {
    const aa = compareRepeats(procs(1, 0.015), procs(1, 0.015), 0.05).verdict;
    if (aa === 'regressed') alarms++;
    if (aa === 'too-noisy') noisyAA++;
    const ab = compareRepeats(procs(1.1, 0.015), procs(1, 0.015), 0.05).verdict;
    if (ab === 'regressed') caught++;
    if (ab === 'unchanged' || ab === 'improved') missed++;
  }
  assert.equal(missed, 0); // a +10% row is caught or called too noisy, never passed
  assert.ok(alarms <= trials * 0.01, `${alarms} false alarms in ${trials}`);
  assert.ok(caught >= trials * 0.9, `${caught} of ${trials} caught`);
  // df ≈ 4: the interval is ±3.4% on average, and for about a quarter of A/A pairs too wide to resolve 5%:
  // those say "too noisy" (exit 13) rather than guess. More processes (--repeat 5) narrow it.
  assert.ok(noisyAA < trials * 0.3, `${noisyAA} too noisy`);
});

test('per-process medians: a spread too large for the limit is "too noisy", and one process is never enough', () => {
  const wide = compareRepeats([10, 13, 8.5], [10.5, 8, 12], 0.05);
  assert.equal(wide.verdict, 'too-noisy');
  assert.match(wide.reason, /too noisy to decide/);
  const one = compareRepeats([20], [10], 0.05);
  assert.equal(one.verdict, 'too-noisy');
  assert.match(one.reason, /--repeat 3/);
  const e = welchLogRatio([11, 11.11, 10.89], [10, 10.1, 9.9]);
  assert.ok(e);
  close(e.ratio, 1.1, 0.001);
  assert.ok(e.ci95[0] > 1.07 && e.ci95[1] < 1.13, String(e.ci95));
});

test('paired blocks: drift that moves both models alike cancels; +8% is caught under ±50% machine drift, A/A is not flagged', () => {
  const rand = seededRandom(8);
  const blocks = (slowdown: number): { current: number[]; old: number[] } => {
    const current: number[] = [];
    const old: number[] = [];
    for (let k = 0; k < 40; k++) {
      const machine = 1 + rand(); // the machine's speed state: 1×…2× slower
      current.push(10 * slowdown * machine * Math.exp(0.02 * gauss(rand)));
      old.push(10 * machine * Math.exp(0.02 * gauss(rand)));
    }
    return { current, old };
  };
  let alarms = 0;
  let caught = 0;
  for (let i = 0; i < 200; i++) {
    if (comparePaired({ model: 'b', blockSize: 5, ...blocks(1), oldP50: 10, oldSamples: [10] }, 0.05).verdict === 'regressed') alarms++;
    if (comparePaired({ model: 'b', blockSize: 5, ...blocks(1.08), oldP50: 10, oldSamples: [10] }, 0.05).verdict === 'regressed') caught++;
  }
  assert.equal(alarms, 0);
  assert.ok(caught >= 190, `${caught}/200`);
  // The same drift across the per-process medians of a baseline file: the gate cannot resolve 5% and says so.
  const r = blocks(1.08);
  assert.equal(compareRepeats(r.current.slice(0, 3), r.old.slice(3, 6), 0.05).verdict, 'too-noisy');
  const p = pairedRatio([1.1, 1.08, 1.09, 1.07, 1.1, 1.08]);
  assert.ok(p && p.ci95[0] >= 1.07 && p.ci95[1] <= 1.1);
});

const settings = (over: Partial<BenchSettings> = {}): BenchSettings => ({ batches: [], shapes: [], inputFiles: [], seed: 42, concurrency: 1, warmup: { ms: 1000 }, durationMs: 9000, minIterations: 20, epOptions: {}, repeat: 3, reference: false, ...over });

test('measurement modes: a --json baseline (no reference) vs a run with the reference is refused; a repeat count may differ', () => {
  const now = measurementOf(settings({ reference: true }), '0.2.0', {});
  const oldJson = { settings: settings(), aivmmVersion: '0.1.0', runtimes: {} }; // an old report: settings, no measurement
  const c = checkModes(now, oldJson);
  assert.deepEqual(c.modeDiffs, ['reference: baseline false, now true']);
  assert.ok(c.warnings.some((w) => /no measurement mode or host fingerprint/.test(w)));
  assert.ok(c.warnings.some((w) => /aivmm 0\.1\.0/.test(w)));
  // 9 s over 3 processes = 3 s each, like 15 s over 5: the per-process work is what must match.
  const five = checkModes(measurementOf(settings({ repeat: 5, durationMs: 15000 }), '0.2.0', {}), { settings: settings(), measurement: measurementOf(settings(), '0.2.0', {}), aivmmVersion: '0.2.0', runtimes: {} });
  assert.deepEqual(five.modeDiffs, []);
  const threads = checkModes(measurementOf(settings({ threads: 2 }), '0.2.0', {}), { settings: settings(), measurement: measurementOf(settings(), '0.2.0', {}), aivmmVersion: '0.2.0', runtimes: {} });
  assert.deepEqual(threads.modeDiffs, ['threads: baseline unset, now 2']);
});

test('host fingerprint: another machine type is a host difference; another hostname of the same type only a warning', () => {
  const base = measurementOf(settings(), '0.2.0', {});
  const otherCpu = { ...base, host: { ...base.host, cpu: 'Some Other CPU', logicalCores: base.host.logicalCores * 2 } };
  const c = checkModes(otherCpu, { settings: settings(), measurement: base, aivmmVersion: '0.2.0', runtimes: {} });
  assert.equal(c.hostDiffs.length, 2);
  const otherName = { ...base, host: { ...base.host, hostnameSha256: '0000000000000000' } };
  const d = checkModes(otherName, { settings: settings(), measurement: base, aivmmVersion: '0.2.0', runtimes: {} });
  assert.deepEqual(d.hostDiffs, []);
  assert.ok(d.warnings.some((w) => /another host/.test(w)));
});

test('measurePaired: blocks alternate ABBA, one median per block, A and B get as many requests', async () => {
  const { measurePaired } = await import('../../src/core/bench/measure.js');
  let t = 0;
  const order: string[] = [];
  // A takes 2 ms, B 1 ms, on a clock that only moves when a model runs.
  const m = await measurePaired(
    async () => {
      order.push('A');
      t += 2;
    },
    async () => {
      order.push('B');
      t += 1;
    },
    { warmup: { iterations: 1 }, iterations: 8, blockSize: 2, now: () => t },
  );
  assert.deepEqual(order.slice(2).join(''), 'AABBBBAAAABBBBAA');
  assert.deepEqual(m.aBlocks, [2, 2, 2, 2]);
  assert.deepEqual(m.bBlocks, [1, 1, 1, 1]);
  assert.equal(m.a.length, 8);
  assert.equal(m.b.length, 8);
});

test('--against: both sessions are opened with idle threads that sleep (a spinning pool steals the other model\'s cores); a plain run keeps ORT\'s default', async () => {
  const { loadOptions } = await import('../../src/core/bench/run-pair.js');
  const job = (against?: { path: string; name: string }) =>
    ({ model: { path: 'a.onnx', name: 'a' }, device: { id: 'CPU', name: 'CPU' }, backend: 'ort-cpu', settings: { threads: 2, epOptions: {} }, ...(against ? { against } : {}) }) as unknown as Parameters<typeof loadOptions>[0];
  assert.equal(loadOptions(job({ path: 'b.onnx', name: 'b' })).spinning, false);
  assert.equal(loadOptions(job({ path: 'b.onnx', name: 'b' })).threads, 2);
  assert.equal(loadOptions(job()).spinning, undefined);
});
