/** Routing decisions from given measurements: earliest predicted completion, the target as a flag, crashes, new devices. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Router } from '../../src/core/serve/router.js';

const gpu = { id: 'gpu0', device: 'GPU.0', backend: 'ort-cuda', seedCostMs: 2 };
const cpu = { id: 'cpu', device: 'CPU', backend: 'ort-cpu', seedCostMs: 10 };

test('earliest predicted completion: the slower instance gets a request only when it would finish it first', () => {
  const r = new Router([cpu, gpu], { latencyTargetMs: 12 });
  const seq = Array.from({ length: 7 }, () => r.route());
  // GPU with n ahead finishes at (n + 1) × 2 ms; the idle CPU at 10: GPU for n = 0..4 (10 ties: the faster),
  // then the CPU (10 < 12), then the GPU again (12 < 20 on the CPU).
  assert.deepEqual(seq.map((x) => x.instance), ['gpu0', 'gpu0', 'gpu0', 'gpu0', 'gpu0', 'cpu', 'gpu0']);
  assert.deepEqual(seq.map((x) => x.predictedLatencyMs), [2, 4, 6, 8, 10, 10, 12]);
  assert.equal(seq[5]?.spilled, true);
  assert.equal(seq[0]?.spilled, false);
  assert.match(seq[5]?.reason ?? '', /cpu \(CPU\) finishes first: 10\.0 ms predicted vs 12\.0 ms on the fastest, gpu0 \(GPU\.0\)/);
  // The target does not push work to a device that would finish later: a GPU queue breaking 9 ms stays on the GPU while it is still earlier.
  const t = new Router([{ ...cpu, seedCostMs: 30 }, gpu], { latencyTargetMs: 9 });
  const picks = Array.from({ length: 10 }, () => t.route());
  assert.ok(picks.every((d) => d.instance === 'gpu0'), picks.map((d) => d.instance).join(','));
  assert.equal(picks[9]?.overTarget, true, '20 ms predicted > 9 ms');
});

test('when nothing meets the target, the earliest completion wins and the decision says so', () => {
  const r = new Router([cpu, gpu], { latencyTargetMs: 1 });
  const d = r.route();
  assert.deepEqual([d.instance, d.overTarget], ['gpu0', true]);
  assert.match(d.reason, /no instance meets the 1 ms target/);
});

/** A closed loop of `clients` over the router, each instance one FIFO slot of fixed cost; requests done in `ms`. */
function closedLoop(instances: { id: string; cost: number }[], clients: number, ms: number, target?: number): { done: number; byId: Record<string, number> } {
  const r = new Router(instances.map((i) => ({ id: i.id, device: i.id, backend: 'b', seedCostMs: i.cost })), target !== undefined ? { latencyTargetMs: target } : {});
  const queues = new Map(instances.map((i) => [i.id, [] as number[]]));
  const busyUntil = new Map<string, number>(instances.map((i) => [i.id, -1]));
  const cost = new Map(instances.map((i) => [i.id, i.cost]));
  const byId: Record<string, number> = {};
  let done = 0;
  const submit = (): void => {
    const id = r.route().instance;
    (queues.get(id) as number[]).push(1);
  };
  for (let c = 0; c < clients; c++) submit();
  let now = 0;
  const start = (id: string): void => {
    const q = queues.get(id) as number[];
    if ((busyUntil.get(id) as number) >= 0 || q.length === 0) return;
    q.shift();
    r.started(id);
    busyUntil.set(id, now + (cost.get(id) as number));
  };
  for (const i of instances) start(i.id);
  while (now < ms) {
    // The next instance to finish.
    const [id, t] = [...busyUntil].filter(([, t]) => t >= 0).reduce((a, b) => (b[1] < a[1] ? b : a));
    now = t;
    busyUntil.set(id, -1);
    r.finished(id, cost.get(id) as number);
    done++;
    byId[id] = (byId[id] ?? 0) + 1;
    submit();
    for (const i of instances) start(i.id);
  }
  return { done, byId };
}

test('H200 costs (GPU 6.9 ms, CPU 21.9 ms), c = 64: GPU+CPU is never below the GPU alone', () => {
  const gpuAlone = closedLoop([{ id: 'gpu', cost: 6.9 }], 64, 10_000).done;
  for (const target of [undefined, 100]) {
    const both = closedLoop([{ id: 'gpu', cost: 6.9 }, { id: 'cpu', cost: 21.9 }], 64, 10_000, target);
    // Ideal: 1/6.9 + 1/21.9 per ms → ×1.31 the GPU alone.
    assert.ok(both.done >= gpuAlone * 1.25, `together ${both.done} vs GPU alone ${gpuAlone} (${JSON.stringify(both.byId)})`);
  }
  // A CPU 40× slower: at c = 4 the GPU always finishes first, so the CPU gets nothing.
  const slow = closedLoop([{ id: 'gpu', cost: 6.9 }, { id: 'cpu', cost: 280 }], 4, 5_000, 100);
  assert.equal(slow.byId['cpu'] ?? 0, 0, JSON.stringify(slow.byId));
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
