/** Routing decisions from given measurements: preference by throughput, spill-over on the latency target, crashes, new devices. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Router } from '../../src/core/serve/router.js';

const gpu = { id: 'gpu0', device: 'GPU.0', backend: 'ort-cuda', seedCostMs: 2 };
const cpu = { id: 'cpu', device: 'CPU', backend: 'ort-cpu', seedCostMs: 10 };

test('the fastest instance takes requests while its predicted latency meets the target, then they spill to the next', () => {
  const r = new Router([cpu, gpu], { latencyTargetMs: 9 });
  const picks: string[] = [];
  for (let i = 0; i < 6; i++) picks.push(r.route().instance);
  // GPU: request k waits k × 2 ms and takes 2 → 2, 4, 6, 8 fit; the 5th (10 ms) breaks 9 ms; the CPU (10 ms) breaks it too.
  assert.deepEqual(picks.slice(0, 4), ['gpu0', 'gpu0', 'gpu0', 'gpu0']);
  const d = new Router([cpu, gpu], { latencyTargetMs: 12 });
  const seq = Array.from({ length: 7 }, () => d.route());
  assert.deepEqual(seq.map((x) => x.instance), ['gpu0', 'gpu0', 'gpu0', 'gpu0', 'gpu0', 'gpu0', 'cpu'], 'the 7th would wait 12 + 2 on the GPU: spilled to the CPU (10 ms)');
  assert.equal(seq[6]?.spilled, true);
  assert.match(seq[6]?.reason ?? '', /gpu0 \(GPU\.0\) would take 14\.0 ms > the 12 ms target; spilled to cpu \(CPU, 10\.0 ms\)/);
  assert.equal(seq[0]?.spilled, false);
});

test('when nothing meets the target, the lowest predicted latency wins and the decision says so', () => {
  const r = new Router([cpu, gpu], { latencyTargetMs: 1 });
  const d = r.route();
  assert.deepEqual([d.instance, d.overTarget], ['gpu0', true]);
  assert.match(d.reason, /no instance meets the 1 ms target/);
});

test('without a target: join the shortest expected delay, weighted by measured speed and slots', () => {
  const r = new Router([{ ...cpu, slots: 4 }, gpu]);
  const counts: Record<string, number> = {};
  for (let i = 0; i < 100; i++) {
    const id = r.route().instance;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  // Throughput: GPU 500/s, CPU 4 × 100/s = 400/s: the shares follow (within rounding of the queue steps).
  assert.ok((counts['gpu0'] ?? 0) > (counts['cpu'] ?? 0), JSON.stringify(counts));
  assert.ok(Math.abs((counts['gpu0'] ?? 0) / 100 - 5 / 9) < 0.06, JSON.stringify(counts));
});

test('measurements are learned online; the queue shrinks as requests finish', () => {
  const r = new Router([{ id: 'a', device: 'GPU.0', backend: 'ort-webgpu' }, { id: 'b', device: 'CPU', backend: 'ort-cpu' }], { latencyTargetMs: 50 });
  // Neither is measured: each idle one gets a request to be measured.
  const first = r.route();
  const second = r.route();
  assert.deepEqual([first.instance, second.instance].sort(), ['a', 'b']);
  assert.match(first.reason, /no measurement yet/);
  for (const id of ['a', 'b']) r.started(id);
  r.finished('a', 30);
  r.finished('b', 5);
  const e = r.explain();
  assert.deepEqual(e.instances.map((i) => [i.id, i.costMs, i.queued, i.running]), [['a', 30, 0, 0], ['b', 5, 0, 0]]);
  assert.equal(r.route().instance, 'b', 'b turned out 6× faster');
  r.finished('b', 15); // EWMA: 0.8 × 5 + 0.2 × 15
  assert.equal(r.explain().instances[1]?.costMs, 7);
});

test('a crashed lane gets nothing until it is up again; a new device joins; everything down is a 503', () => {
  const r = new Router([cpu, gpu], { latencyTargetMs: 100 });
  r.route();
  r.markDown('gpu0', 'lane crashed (SIGSEGV)');
  assert.equal(r.route().instance, 'cpu');
  const ex = r.explain();
  assert.equal(ex.instances.find((i) => i.id === 'gpu0')?.downReason, 'lane crashed (SIGSEGV)');
  assert.equal(ex.instances.find((i) => i.id === 'gpu0')?.queued, 0, 'what the crashed lane held is forgotten');
  assert.equal(ex.lastDecision?.instance, 'cpu');
  r.add({ id: 'gpu1', device: 'GPU.1', backend: 'ort-cuda', seedCostMs: 1 });
  assert.equal(r.route().instance, 'gpu1');
  r.markDown('cpu', 'x');
  r.markDown('gpu1', 'y');
  assert.throws(() => r.route(), (e: Error & { status?: number }) => e.status === 503 && /every instance is down/.test(e.message));
  r.markUp('gpu0');
  assert.equal(r.route().instance, 'gpu0');
  const shares = r.explain().instances.reduce((a, i) => a + i.share, 0);
  assert.ok(Math.abs(shares - 1) < 1e-9);
});
