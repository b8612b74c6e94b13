/**
 * The Router wired into admission and the registry: one model's instances on two lanes. The queue-level
 * test drives the real AdmissionQueue + Router with jobs the test releases (each reporting the compute
 * time it stands for), so every routing decision is deterministic; the server tests run real sessions on
 * two executors (in-process, then two real worker lanes, one of which is killed).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { DEFAULT_SETTINGS, parseServeConfig, settingsFor } from '../../src/core/serve/config.js';
import { InProcessExecutor, type ModelExecutor } from '../../src/core/serve/executor.js';
import { AdmissionQueue } from '../../src/core/serve/queue.js';
import { ModelRegistry } from '../../src/core/serve/registry.js';
import { Router } from '../../src/core/serve/router.js';
import { EventHub } from '../../src/server/events.js';
import { LaneExecutor } from '../../src/server/lane-executor.js';
import { startServer } from '../../src/server/start.js';
import { postJson, seeded, tmp, TINY, until } from './helpers.js';

const tinyReq = { inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(3072)) }] };

test('queue + router: the fast instance takes requests (waiting for it) until the slow one would finish first; a down instance gets none', async () => {
  const router = new Router(
    [
      { id: 'gpu', device: 'GPU.0', backend: 'ort-cuda', seedCostMs: 2 },
      { id: 'cpu', device: 'CPU', backend: 'ort-cpu', seedCostMs: 10 },
    ],
    { latencyTargetMs: 12 },
  );
  // A clock that stands still: each job's service time is the compute time it reports.
  const q = new AdmissionQueue({ instances: ['gpu', 'cpu'], maxQueue: 100, router, clock: () => 0 });
  const gates: (() => void)[] = [];
  const ran: string[] = [];
  const cost = { gpu: 2, cpu: 10 } as Record<string, number>;
  const submit = (): Promise<string> =>
    q
      .run(async (id) => {
        ran.push(id);
        await new Promise<void>((r) => gates.push(r));
        return { value: id, computeMs: cost[id] as number };
      })
      .then((r) => r.instance);
  const results = Array.from({ length: 7 }, submit);
  await until(() => ran.length === 2, 'one running on each instance');
  // Earliest predicted completion: GPU running 1 + k ahead → (1 + k) × 2 + 2; the CPU (idle) 10. The GPU
  // takes k = 0..3 (a tie at 10 goes to the faster), the next finishes first on the CPU (10 < 12).
  assert.deepEqual([...ran].sort(), ['cpu', 'gpu']);
  const ex = router.explain();
  assert.equal(ex.instances.find((i) => i.id === 'gpu')?.queued, 4, JSON.stringify(ex));
  assert.equal(ex.lastDecision?.instance, 'cpu');
  assert.equal(ex.lastDecision?.spilled, true);
  assert.equal(ex.lastDecision?.overTarget, false);
  assert.match(ex.lastDecision?.reason ?? '', /cpu \(CPU\) finishes first: 10\.0 ms predicted vs 12\.0 ms on the fastest, gpu \(GPU\.0\)/);
  assert.equal(q.stats.pending, 5);
  // The GPU's lane goes down: the five routed ahead to it are routed again, to the CPU.
  router.markDown('gpu', 'lane crashed');
  q.instanceDown('gpu');
  while (gates.length) (gates.shift() as () => void)();
  for (let i = 0; i < 50 && (q.busy || gates.length); i++) {
    while (gates.length) (gates.shift() as () => void)();
    await new Promise((r) => setTimeout(r, 5));
  }
  const where = await Promise.all(results);
  assert.equal(where.filter((w) => w === 'gpu').length, 1, `only the request already running on the GPU finished there: ${where.join(',')}`);
  assert.equal(where.filter((w) => w === 'cpu').length, 6);
  router.markUp('gpu');
  q.instanceUp('gpu');
  const again = submit();
  await until(() => gates.length === 1, 'the next request runs');
  (gates.shift() as () => void)();
  assert.equal(await again, 'gpu', 'marked up: the fastest takes requests again');
});

async function serverOver(executors: Record<string, ModelExecutor>, yaml: string, seeds: Record<string, number>) {
  const { dir, cleanup } = await tmp();
  const path = join(dir, 'tiny.onnx');
  await writeFile(path, TINY);
  const { name: _n, ...own } = parseServeConfig(`models:\n  tiny:\n${yaml}`, 'aivmm.yaml').models[0]!;
  const registry = new ModelRegistry({
    executorFor: async (d) => ({ executor: executors[d] as ModelExecutor, placement: { device: d, backend: 'ort-cpu', reason: 'test' } }),
    defaults: settingsFor(DEFAULT_SETTINGS, {}),
    seedCostMs: async (_p, device) => seeds[device],
  });
  registry.add({ name: 'tiny', kind: 'file', path, settings: settingsFor(DEFAULT_SETTINGS, own) });
  await registry.load('tiny');
  const server = await startServer(registry, { host: '127.0.0.1', port: 0, maxBodyBytes: 8 << 20, requestTimeoutMs: 0, serverVersion: 'test', events: new EventHub() }, { ready: true, closing: false });
  return {
    registry,
    url: server.url,
    placement: async () => ((await (await fetch(`${server.url}/v1/placement/tiny`)).json()) as { models: { routing?: any; instances: number }[] }).models[0]!,
    close: async () => {
      await server.close(1000);
      await Promise.all(Object.values(executors).map((e) => e.close()));
      await cleanup();
    },
  };
}

test('one model on two lanes: routing by seeded and measured cost; /v1/placement shows routing', { timeout: 60_000 }, async () => {
  const s = await serverOver({ CPU: new InProcessExecutor(CPU_TARGET), 'CPU@ort-cpu': new InProcessExecutor(CPU_TARGET) }, '    instances: {CPU: 1, CPU@ort-cpu: 1}\n    latency_target: {p95: 500ms}\n', { CPU: 1, 'CPU@ort-cpu': 5000 });
  try {
    for (let i = 0; i < 5; i++) assert.equal((await postJson(`${s.url}/v2/models/tiny/infer`, tinyReq)).status, 200);
    const p = await s.placement();
    assert.equal(p.instances, 2);
    const routing = p.routing as { latencyTargetMs: number; instances: { device: string; routed: number; samples: number; costMs: number; up: boolean }[]; lastDecision: { reason: string } };
    assert.equal(routing.latencyTargetMs, 500);
    const byDev = Object.fromEntries(routing.instances.map((i) => [i.device, i]));
    assert.equal(byDev['CPU']?.routed, 5, JSON.stringify(routing));
    assert.equal(byDev['CPU']?.samples, 5, 'each run measured');
    assert.equal(byDev['CPU@ort-cpu']?.routed, 0, 'its seeded 5 s cost never finishes first');
    assert.equal(byDev['CPU@ort-cpu']?.costMs, 5000);
    assert.match(routing.lastDecision.reason, /has the earliest predicted completion/);
    // The per-model stats still count every request once.
    const st = s.registry.stats('tiny')[0]!;
    assert.equal(st.inference_stats.success, 5, 'warm-ups run outside the queue');
  } finally {
    await s.close();
  }
});

test('batching on two lanes: the warm-up seeds each instance\'s cost per batch size; the router learns per size and counts batches and items', { timeout: 60_000 }, async () => {
  const s = await serverOver({ CPU: new InProcessExecutor(CPU_TARGET), 'CPU@ort-cpu': new InProcessExecutor(CPU_TARGET) }, '    instances: {CPU: 1, CPU@ort-cpu: 1}\n    dynamic_batching: {max_batch_size: 4, max_queue_delay: 20ms}\n', {});
  try {
    const before = (await s.placement()).routing as { instances: { device: string; costs?: Record<string, number> }[] };
    for (const i of before.instances) assert.deepEqual(Object.keys(i.costs ?? {}), ['1', '2', '4'], `${i.device}: warm-up costs for every candidate size (${JSON.stringify(i)})`);
    const codes = await Promise.all(Array.from({ length: 12 }, () => postJson(`${s.url}/v2/models/tiny/infer`, tinyReq).then((r) => r.status)));
    assert.deepEqual([...new Set(codes)], [200]);
    const routing = (await s.placement()).routing as { instances: { device: string; routed: number; routedItems: number; samples: number }[]; lastDecision: { items: number } };
    const st = s.registry.stats('tiny')[0]!;
    const batching = st.batching!;
    assert.equal(routing.instances.reduce((a, i) => a + i.routed, 0), batching.batches, 'one routing decision per batch');
    // Items routed are the padded rows: the 12 requests plus the padding.
    assert.equal(routing.instances.reduce((a, i) => a + i.routedItems, 0), 12 + (batching.paddedRows ?? 0), JSON.stringify({ routing, batching }));
    assert.ok([1, 2, 4].includes(routing.lastDecision.items), JSON.stringify(routing.lastDecision));
    assert.equal(routing.instances.reduce((a, i) => a + i.samples, 0), batching.batches, 'each batch measured once, at its size');
  } finally {
    await s.close();
  }
});

test('a crashed lane marks its instances down (requests go to the other lane); the restart marks them up', { timeout: 120_000 }, async () => {
  const a = new LaneExecutor({ name: 'lane-a', target: CPU_TARGET });
  const b = new LaneExecutor({ name: 'lane-b', target: CPU_TARGET });
  const s = await serverOver({ A: a, B: b }, '    instances: {A: 1, B: 1}\n', { A: 1, B: 50 });
  try {
    assert.equal((await postJson(`${s.url}/v2/models/tiny/infer`, tinyReq)).status, 200);
    const v = s.registry.served('tiny')[0]!;
    assert.match(v.routing()?.lastDecision?.instance ?? '', /\/A\//, 'the faster lane A serves while both are up');
    const feeds = { input: { type: 'float32' as const, dims: [1, 3, 32, 32], data: seeded(3072) } };
    let atDown: ReturnType<typeof v.routing>;
    let during: Promise<{ value: string }> | undefined;
    let upSeen = false;
    // Registered after the registry's listener: it sees the routing as the crash left it, and routes a
    // real request at that moment (before the restart can finish).
    a.onHealth((e) => {
      if (e.up) upSeen = true;
      else if (!atDown) {
        atDown = v.routing();
        during = v.queue.run(async (id) => {
          const r = await (v.instances.get(id) as ModelExecutor).run(id, feeds);
          return { value: id, computeMs: r.computeMs };
        });
      }
    });
    process.kill(a.pid as number, 'SIGKILL');
    await until(() => during !== undefined, 'lane A reported down');
    const aDown = atDown?.instances.find((i) => i.device === 'A');
    assert.equal(aDown?.up, false);
    assert.match(aDown?.downReason ?? '', /the lane-a lane crashed/);
    assert.match((await during!).value, /\/B\//, 'routed to lane B while A is down');
    await until(() => upSeen, 'lane A restarted');
    const up = (await s.placement()).routing as { instances: { device: string; up: boolean; downReason?: string }[] };
    assert.equal(up.instances.find((i) => i.device === 'A')?.up, true);
    assert.equal(up.instances.find((i) => i.device === 'A')?.downReason, undefined);
    assert.equal((await postJson(`${s.url}/v2/models/tiny/infer`, tinyReq)).status, 200);
  } finally {
    await s.close();
  }
});
