/**
 * The dynamic batcher over real onnxruntime sessions (CPU EP): batched outputs equal unbatched ones,
 * requests of different batch sizes mixed, the size limit, preferred sizes, the queue delay, and the
 * adaptive choice learned from measured costs (fake clock where the timing is the thing under test).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import type { HostTensor } from '../../src/core/backends/types.js';
import { DynamicBatcher, batchable, candidateSizes, concatFeeds, padFeeds, splitOutputs, type BatcherClock } from '../../src/core/serve/batcher.js';
import { InProcessExecutor } from '../../src/core/serve/executor.js';
import { embeddedModel } from '../../src/core/models/embedded.js';
import { seeded } from './helpers.js';
import { assertClose } from '../helpers/assert-close.js';

const ex = new InProcessExecutor(CPU_TARGET);
let tinyIo: Awaited<ReturnType<InProcessExecutor['load']>>;
before(async () => {
  tinyIo = await ex.load('tiny', embeddedModel('tiny-convnet').build());
  await ex.load('mnv2', embeddedModel('mobilenetv2-seeded').build());
});
after(() => ex.close());

const img = (b: number, seed: number, side = 32): HostTensor => ({ type: 'float32', dims: [b, 3, side, side], data: seeded(b * 3 * side * side, seed) });

test('batchable: a dynamic first dim on every input and output', () => {
  assert.equal(batchable(tinyIo.inputs, tinyIo.outputs), true);
  assert.equal(batchable([{ name: 'x', type: 'float32', shape: [1, 3] }], tinyIo.outputs), false);
  assert.equal(batchable([{ name: 'x', type: 'float32', shape: ['N', 3] }], [{ name: 'y', type: 'float32', shape: ['N'] }]), true);
});

test('concat and split are inverse on typed data of each kind', () => {
  const a = { x: { type: 'int64' as const, dims: [1, 2], data: BigInt64Array.from([1n, 2n]) } };
  const b = { x: { type: 'int64' as const, dims: [2, 2], data: BigInt64Array.from([3n, 4n, 5n, 6n]) } };
  const c = concatFeeds([a, b]);
  assert.deepEqual([c['x']?.dims, Array.from(c['x']?.data as BigInt64Array)], [[3, 2], [1n, 2n, 3n, 4n, 5n, 6n]]);
  const [sa, sb] = splitOutputs(c, [1, 2]);
  assert.deepEqual(sa, a);
  assert.deepEqual(sb, b);
  assert.throws(() => splitOutputs({ y: { type: 'float32', dims: [1], data: new Float32Array(1) } }, [1, 2]), /cannot be split per request/);
});

for (const [model, side, sizes] of [['tiny', 32, [1, 3, 2, 1, 4]], ['mnv2', 224, [1, 2, 1]]] as const) {
  test(`${model}: batched outputs equal each request run alone (mixed sizes ${sizes.join(',')})`, { timeout: 120_000 }, async () => {
    const runs: number[] = [];
    // One instance, and a window long enough that everything submitted together joins one batch.
    const b = new DynamicBatcher(async (feeds) => {
      runs.push(feeds['input']?.dims[0] as number);
      return ex.run(model, feeds);
    }, { maxBatchSize: 16, maxQueueDelayMs: 200, concurrency: 1 });
    const reqs = sizes.map((n, i) => ({ input: img(n, 100 + i, side) }));
    const batched = await Promise.all(reqs.map((r) => b.submit(r)));
    assert.deepEqual(runs, [sizes.reduce((x, y) => x + y, 0)], 'one run for all of them');
    for (let i = 0; i < reqs.length; i++) {
      const alone = await ex.run(model, reqs[i] as Record<string, HostTensor>);
      const got = batched[i]!;
      const name = Object.keys(alone.outputs)[0] as string;
      assert.deepEqual(got.outputs[name]?.dims, alone.outputs[name]?.dims);
      // Batch size can change the kernels' blocking: equal within float tolerance, not always bit-for-bit.
      assertClose(got.outputs[name]?.data as Float32Array, alone.outputs[name]?.data as Float32Array, { atol: 1e-5, rtol: 1e-4 });
      assert.equal(got.batchSize, sizes.reduce((x, y) => x + y, 0));
    }
    assert.equal(b.stats().batches, 1);
    assert.equal(b.stats().meanBatchSize, sizes.reduce((x, y) => x + y, 0));
  });
}

test('a request larger than max_batch_size is refused (400); different trailing shapes never share a batch', async () => {
  const runs: number[][] = [];
  const b = new DynamicBatcher(async (feeds) => {
    runs.push([...(feeds['input']?.dims ?? [])]);
    return ex.run('tiny', feeds);
  }, { maxBatchSize: 4, maxQueueDelayMs: 50, concurrency: 1 });
  await assert.rejects(b.submit({ input: img(5, 1) }), (e: Error & { status?: number }) => e.status === 400 && /larger than this model's max_batch_size \(4\)/.test(e.message));
  // Two 32×32 and one 16×16: the 16×16 runs alone (the tiny convnet refuses it, and only that request fails).
  const rs = await Promise.allSettled([b.submit({ input: img(1, 2) }), b.submit({ input: img(1, 3, 16) }), b.submit({ input: img(2, 4) })]);
  assert.equal(rs[0]?.status, 'fulfilled');
  assert.equal(rs[2]?.status, 'fulfilled');
  assert.equal(rs[1]?.status, 'rejected');
  assert.deepEqual(runs.map((d) => d.join('x')).sort(), ['1x3x16x16', '3x3x32x32']);
});

test('padding: batches are padded to the next candidate size with copies of the last row; outputs equal unbatched runs', { timeout: 120_000 }, async () => {
  assert.deepEqual(candidateSizes(32), [1, 2, 4, 8, 16, 32]);
  assert.deepEqual(candidateSizes(12, [3, 6]), [1, 2, 3, 4, 6, 8, 12]);
  const p = padFeeds({ x: { type: 'float32', dims: [2, 2], data: Float32Array.from([1, 2, 3, 4]) } }, 2, 4);
  assert.deepEqual([p['x']?.dims, Array.from(p['x']?.data as Float32Array)], [[4, 2], [1, 2, 3, 4, 3, 4, 3, 4]]);
  const ran: number[] = [];
  const b = new DynamicBatcher(async (feeds) => {
    ran.push(feeds['input']?.dims[0] as number);
    return ex.run('tiny', feeds);
  }, { maxBatchSize: 8, maxQueueDelayMs: 20, concurrency: 1, pad: true });
  const reqs = [img(1, 11), img(2, 12), img(2, 13)];
  const got = await Promise.all(reqs.map((r) => b.submit({ input: r })));
  assert.deepEqual(ran, [8], '5 items padded to 8');
  for (const [k, r] of reqs.entries()) {
    const alone = await ex.run('tiny', { input: r });
    for (const name of tinyIo.outputs.map((o) => o.name)) {
      assert.deepEqual(got[k]?.outputs[name]?.dims, alone.outputs[name]?.dims, 'padding rows are dropped');
      assertClose(got[k]?.outputs[name]?.data as Float32Array, alone.outputs[name]?.data as Float32Array, { atol: 1e-5, rtol: 1e-4 });
    }
  }
  const s = b.stats();
  assert.deepEqual([s.sizes, s.paddedRows, s.candidates], [{ 5: 1 }, 3, [1, 2, 4, 8]]);
});

/** A manual clock: timers fire when the test advances time. */
function manualClock(): BatcherClock & { advance(ms: number): void } {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  return {
    now: () => now,
    setTimer(fn, ms) {
      const t = { at: now + ms, fn };
      timers.push(t);
      return () => {
        timers = timers.filter((x) => x !== t);
      };
    },
    advance(ms) {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.fn();
    },
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('fixed mode: waits max_queue_delay for a batch, sends at once at a preferred size', async () => {
  const clock = manualClock();
  const sent: number[] = [];
  const run = async (f: Record<string, HostTensor>): Promise<{ outputs: Record<string, HostTensor>; computeMs: number }> => {
    sent.push(f['x']?.dims[0] as number);
    return { outputs: { y: f['x'] as HostTensor }, computeMs: 1 };
  };
  const x = (n: number): Record<string, HostTensor> => ({ x: { type: 'float32', dims: [n, 2], data: new Float32Array(2 * n).fill(n) } });
  const b = new DynamicBatcher(run, { maxBatchSize: 8, preferredBatchSizes: [4], maxQueueDelayMs: 10, concurrency: 1, clock });
  const p1 = b.submit(x(1));
  const p2 = b.submit(x(1));
  await tick();
  assert.deepEqual(sent, [], 'waiting for the window');
  clock.advance(9);
  await tick();
  assert.deepEqual(sent, []);
  clock.advance(1);
  await Promise.all([p1, p2]);
  assert.deepEqual(sent, [2], 'the window closed: what was there went');
  const q = [b.submit(x(2)), b.submit(x(2))];
  await Promise.all(q);
  assert.deepEqual(sent, [2, 4], 'a preferred size is sent without waiting');
  const r = await q[1]!;
  assert.deepEqual(Array.from(r.outputs['y']?.data as Float32Array), [2, 2, 2, 2], 'each request gets its own rows');
});

test('adaptive mode: learns costs per size, picks the best items/ms that fits the target, exposes its choice', async () => {
  const clock = manualClock();
  // 2 ms + 0.1 ms per item: batching pays a lot; the latency target decides how far.
  const cost = (n: number): number => 2 + 0.1 * n;
  const run = async (f: Record<string, HostTensor>): Promise<{ outputs: Record<string, HostTensor>; computeMs: number }> => ({ outputs: { y: f['x'] as HostTensor }, computeMs: cost(f['x']?.dims[0] as number) });
  const x = (): Record<string, HostTensor> => ({ x: { type: 'float32', dims: [1, 1], data: new Float32Array(1) } });
  const b = new DynamicBatcher(run, { maxBatchSize: 64, maxQueueDelayMs: 0, concurrency: 1, clock, adaptive: { targetMs: 60, quantile: 0.95, seedCosts: { 1: cost(1), 8: cost(8) } } });
  // One arrival per ms: filling b items takes b − 1 ms.
  for (let i = 0; i < 400; i++) {
    void b.submit(x());
    clock.advance(1);
    await tick();
  }
  const s = b.stats();
  assert.equal(s.mode, 'adaptive');
  assert.equal(s.targetMs, 60);
  // fill + 2 × compute ≤ 60: 32 fits (31 + 10.4), 64 does not (63 + …); 32 has the best items/ms.
  assert.equal(s.targetBatchSize, 32, JSON.stringify(s));
  assert.ok(Math.abs(s.windowMs - 31) < 1, `window ${s.windowMs}`);
  // The batches that ran (the window closes as the 32nd arrives: 31 or 32 items) had their cost measured.
  const measured = Object.entries(s.costs).filter(([, c]) => c.n > 0).map(([k, c]) => [Number(k), c.ms] as const).filter(([k]) => k >= 16);
  assert.ok(measured.length > 0 && measured.every(([k, ms]) => Math.abs(ms - cost(k)) < 1e-9), JSON.stringify(s));
  assert.ok(s.meanBatchSize > 16, `mean batch ${s.meanBatchSize}`);
  assert.ok((s.observedMs ?? 99) <= 60, `p95 ${s.observedMs} within the target`);
  // A tighter target picks a smaller batch: 10 ms → 4 (3 + 4.8 fits, 8 would need 7 + 5.6).
  const tight = new DynamicBatcher(run, { maxBatchSize: 64, maxQueueDelayMs: 0, concurrency: 1, clock, adaptive: { targetMs: 10, quantile: 0.95, seedCosts: { 1: cost(1), 8: cost(8), 16: cost(16) } } });
  void tight.submit(x());
  clock.advance(1);
  void tight.submit(x());
  assert.equal(tight.stats().targetBatchSize, 4, JSON.stringify(tight.stats()));
});

test('a request past its deadline, or whose client left, is dropped before its batch runs', async () => {
  const clock = manualClock();
  const sent: number[] = [];
  const run = async (f: Record<string, HostTensor>): Promise<{ outputs: Record<string, HostTensor>; computeMs: number }> => {
    sent.push(f['x']?.dims[0] as number);
    return { outputs: { y: f['x'] as HostTensor }, computeMs: 1 };
  };
  const x = (): Record<string, HostTensor> => ({ x: { type: 'float32', dims: [1, 1], data: new Float32Array(1) } });
  const b = new DynamicBatcher(run, { maxBatchSize: 8, maxQueueDelayMs: 20, concurrency: 1, clock });
  const ac = new AbortController();
  const stale = b.submit(x(), { deadline: 10 });
  const gone = b.submit(x(), { signal: ac.signal });
  const ok = b.submit(x(), { deadline: 100 });
  ac.abort();
  clock.advance(20);
  await assert.rejects(stale, (e: Error & { status?: number }) => e.status === 504 && /deadline/.test(e.message));
  await assert.rejects(gone, (e: Error & { status?: number }) => e.status === 499);
  assert.equal((await ok).batchSize, 1);
  assert.deepEqual(sent, [1], 'only the live request reached the runtime');
});

test('costs: a shape\'s first run is never learned; the cost is the median of the last runs (one outlier does not move it)', async () => {
  const ms: number[] = [900, 10, 10, 11, 250, 10, 12];
  let k = 0;
  const run = async (f: Record<string, HostTensor>): Promise<{ outputs: Record<string, HostTensor>; computeMs: number }> => ({ outputs: { y: f['x'] as HostTensor }, computeMs: ms[k++] ?? 10 });
  const x = (): Record<string, HostTensor> => ({ x: { type: 'float32', dims: [1, 1], data: new Float32Array(1) } });
  const b = new DynamicBatcher(run, { maxBatchSize: 4, maxQueueDelayMs: 0, concurrency: 1, adaptive: { targetMs: 50, quantile: 0.95 } });
  await b.submit(x());
  assert.deepEqual(b.stats().costs, {}, 'the first run (900 ms: a cuDNN search on the GPU) is not learned');
  for (let i = 1; i < ms.length; i++) await b.submit(x());
  // Learned: 10, 10, 11, 250, 10, 12 → median 10.5 (an EWMA would sit near 57 after the 250).
  assert.deepEqual(b.stats().costs[1], { ms: 10.5, n: 6 });
  // Seeds from the warm-up count as warm: the next run of that size is learned and replaces the seed.
  const w = new DynamicBatcher(run, { maxBatchSize: 4, maxQueueDelayMs: 0, concurrency: 1, adaptive: { targetMs: 50, quantile: 0.95 } });
  w.seedCosts({ 1: 9, 2: 12, 4: 20 }, { warm: true });
  assert.deepEqual(w.stats().costs, { 1: { ms: 9, n: 0 }, 2: { ms: 12, n: 0 }, 4: { ms: 20, n: 0 } });
  k = 1;
  await w.submit(x());
  assert.deepEqual(w.stats().costs[1], { ms: 10, n: 1 });
});

test('closed loop of 4 on one instance: the window runs from when the instance frees, so batches do not alternate 1, 3, 1, 3', async () => {
  // Each run takes 10 ms; answered clients resend at once. Measured from each head's arrival, the request that
  // waited behind a running batch always left alone (the H200 run: sizes {1: 28, 3: 28}). On the manual clock,
  // advanced 1 ms at a time: with real timers a loaded machine fired them late and out of step (2,3,2,4,…).
  const clock = manualClock();
  const sleep = (ms: number): Promise<void> => new Promise((r) => clock.setTimer(r, ms));
  const sent: number[] = [];
  const run = async (f: Record<string, HostTensor>): Promise<{ outputs: Record<string, HostTensor>; computeMs: number }> => {
    sent.push(f['x']?.dims[0] as number);
    await sleep(10);
    return { outputs: { y: f['x'] as HostTensor }, computeMs: 10 };
  };
  const x = (v: number): Record<string, HostTensor> => ({ x: { type: 'float32', dims: [1, 1], data: Float32Array.of(v) } });
  const b = new DynamicBatcher(run, { maxBatchSize: 32, maxQueueDelayMs: 5, concurrency: 1, clock });
  let wrong = 0;
  // Clients start 3 ms apart and resend 1 ms after their answer (the round trip over HTTP).
  const client = async (id: number): Promise<void> => {
    await sleep(3 * id);
    for (let i = 0; i < 15; i++) {
      const r = await b.submit(x(id * 1000 + i));
      if ((r.outputs['y']?.data as Float32Array)[0] !== id * 1000 + i) wrong++;
      await sleep(1);
    }
  };
  let finished = false;
  const all = Promise.all(Array.from({ length: 4 }, (_, id) => client(id))).finally(() => (finished = true));
  for (let ms = 0; !finished; ms++) {
    assert.ok(ms < 60_000, 'the closed loop never finished');
    await tick(); // what the last millisecond's timers started settles (promise chains only) before the next
    clock.advance(1);
  }
  await all;
  assert.equal(wrong, 0, 'every request got its own row back');
  const later = sent.slice(2);
  assert.ok(later.filter((n) => n === 4).length >= later.length * 0.8, `batch sizes after the first two: ${later.join(',')}`);
});

test('adaptive at high concurrency (closed loop of 64): takes large batches; first slow runs of each shape do not pin it to 1', async () => {
  // H200-like ResNet-50 costs, with 800 ms for every shape's first run (cuDNN's search).
  const real = (b: number): number => 6 + 1 * b;
  const seen = new Set<number>();
  const sent: number[] = [];
  const run = async (f: Record<string, HostTensor>): Promise<{ outputs: Record<string, HostTensor>; computeMs: number }> => {
    const n = f['x']?.dims[0] as number;
    sent.push(n);
    const first = !seen.has(n);
    seen.add(n);
    return { outputs: { y: f['x'] as HostTensor }, computeMs: first ? 800 : real(n) };
  };
  const x = (v: number): Record<string, HostTensor> => ({ x: { type: 'float32', dims: [1, 1], data: Float32Array.of(v) } });
  const b = new DynamicBatcher(run, { maxBatchSize: 32, maxQueueDelayMs: 0, concurrency: 1, pad: true, adaptive: { targetMs: 50, quantile: 0.95 } });
  let wrong = 0;
  const client = async (id: number): Promise<void> => {
    for (let i = 0; i < 40; i++) {
      const r = await b.submit(x(id * 1000 + i));
      if ((r.outputs['y']?.data as Float32Array)[0] !== id * 1000 + i) wrong++;
    }
  };
  await Promise.all(Array.from({ length: 64 }, (_, id) => client(id)));
  assert.equal(wrong, 0, 'every request got its own row back');
  const s = b.stats();
  assert.ok(sent.every((n) => [1, 2, 4, 8, 16, 32].includes(n)), `only candidate sizes run: ${[...new Set(sent)].join(',')}`);
  assert.equal(s.maxTake, 32, JSON.stringify(s));
  assert.ok(s.costs[32] && Math.abs(s.costs[32].ms - real(32)) < 1e-9, JSON.stringify(s.costs));
  const tail = sent.slice(-20);
  assert.ok(tail.filter((n) => n === 32).length >= 15, `the last batches: ${tail.join(',')}`);
});

test('priority levels: while level-1 work is recent, a low-priority batch is capped to what costs about one run of one', async () => {
  const x = (n: number): Record<string, HostTensor> => ({ x: { type: 'float32', dims: [n, 2], data: new Float32Array(2 * n).fill(n) } });
  const scenario = async (costs: Record<number, number>) => {
    const clock = manualClock();
    const sent: { size: number; priority: number | undefined }[] = [];
    const gates: (() => void)[] = [];
    const run = (f: Record<string, HostTensor>, a?: { priority?: number | undefined }): Promise<{ outputs: Record<string, HostTensor>; computeMs: number }> => {
      const size = f['x']?.dims[0] as number;
      sent.push({ size, priority: a?.priority });
      return new Promise((r) => gates.push(() => r({ outputs: { y: f['x'] as HostTensor }, computeMs: costs[size] ?? 10 * size })));
    };
    const b = new DynamicBatcher(run, { maxBatchSize: 8, maxQueueDelayMs: 0, concurrency: 1, clock, scheduler: { levels: 2, defaultLevel: 2, fallback: { maxQueue: 100, timeoutAction: 'reject' } } });
    b.seedCosts(costs, { warm: true });
    const release = async (): Promise<void> => {
      gates.shift()?.();
      await tick();
      await tick();
    };
    const all: Promise<unknown>[] = [];
    const low = (k: number): void => {
      for (let i = 0; i < k; i++) all.push(b.submit(x(1), { priority: 2, client: `l${i}` }));
    };
    low(1);
    low(6);
    assert.equal(b.stats().lowCap, null, 'no level-1 request yet: no cap');
    await release();
    all.push(b.submit(x(1), { priority: 1, client: 'h' })); // waits for the batch of 6
    low(6);
    await release();
    const capNow = b.stats().lowCap;
    for (let i = 0; i < 3; i++) await release();
    clock.advance(2000); // level 1 quiet for longer than 1 s: no cap
    assert.equal(b.stats().lowCap, null);
    while (gates.length) await release();
    await Promise.all(all);
    return { sent, capNow, stats: b.stats() };
  };
  // CPU-like: a batch costs about b × one → cap 1: after the high request, lows go one at a time until level 1 has been quiet.
  const cpu = await scenario({ 1: 10, 2: 20, 4: 40, 8: 80 });
  // The high request runs alone (no low joins it past the cap), then lows one by one; once level 1 is quiet the last 3 together.
  assert.deepEqual(cpu.sent.map((s) => s.size), [1, 6, 1, 1, 1, 1, 3]);
  assert.deepEqual(cpu.sent.map((s) => s.priority), [2, 2, 1, 2, 2, 2, 2]);
  assert.equal(cpu.capNow, 1);
  assert.equal(cpu.stats.lowCappedBatches, 4, 'the high one and three lows were cut short');
  // GPU-like: batches barely cost more than one → cap 8, lows still batch together (with the high one).
  const gpu = await scenario({ 1: 10, 2: 10.5, 4: 11, 8: 12 });
  assert.deepEqual(gpu.sent.map((s) => s.size), [1, 6, 7]);
  assert.equal(gpu.capNow, 8);
  assert.equal(gpu.stats.lowCappedBatches, 0);
});
