/**
 * Batching that holds on a GPU (issue #17), checked on the CPU with real sessions: at load, before READY,
 * the registry runs every batch size the batcher can form twice on each instance and seeds the batcher's
 * cost table from the second runs; /v2/models/{m}/stats reports the warm-up. A CPU instance placed beside
 * an accelerator lane leaves cores to the server (threads = cores − 2 − accelerator lanes), shown in
 * /v1/placement's placement.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import type { OpenOptions } from '../../src/core/backends/registry.js';
import { DEFAULT_SETTINGS, parseServeConfig, settingsFor } from '../../src/core/serve/config.js';
import { InProcessExecutor } from '../../src/core/serve/executor.js';
import { ModelRegistry, cpuThreadsBeside } from '../../src/core/serve/registry.js';
import { TINY, tmp } from './helpers.js';

/** An in-process CPU executor that records the options each instance was opened with and the batch sizes run. */
class Recording extends InProcessExecutor {
  readonly opened: OpenOptions[] = [];
  readonly ran: number[] = [];
  constructor() {
    super(CPU_TARGET);
  }
  override load(instance: string, model: string | Uint8Array, options: OpenOptions = {}) {
    this.opened.push(options);
    return super.load(instance, model, options);
  }
  override run(instance: string, feeds: Parameters<InProcessExecutor['run']>[1]) {
    this.ran.push(Object.values(feeds)[0]?.dims[0] as number);
    return super.run(instance, feeds);
  }
}

async function registryOver(executors: Record<string, { ex: Recording; device: string }>, yaml: string, cores?: number) {
  const { dir, cleanup } = await tmp();
  const path = join(dir, 'tiny.onnx');
  await writeFile(path, TINY);
  const { name: _n, ...own } = parseServeConfig(`models:\n  tiny:\n${yaml}`, 'aivmm.yaml').models[0]!;
  const registry = new ModelRegistry({
    executorFor: async (d) => ({ executor: executors[d]!.ex, placement: { device: executors[d]!.device, backend: 'ort-cpu', reason: 'test' } }),
    defaults: settingsFor(DEFAULT_SETTINGS, {}),
    ...(cores !== undefined ? { cores } : {}),
  });
  registry.add({ name: 'tiny', kind: 'file', path, settings: settingsFor(DEFAULT_SETTINGS, own) });
  return {
    registry,
    close: async () => {
      await registry.close();
      await Promise.all(Object.values(executors).map((e) => e.ex.close()));
      await cleanup();
    },
  };
}

test('batching warm-up at load: every candidate size runs twice; the cost table has a measured entry for each; stats report it', { timeout: 60_000 }, async () => {
  const ex = new Recording();
  const r = await registryOver({ CPU: { ex, device: 'CPU' } }, '    dynamic_batching: {max_batch_size: 12, preferred_batch_sizes: [6], latency_target: {p95: 500ms}}\n');
  try {
    await r.registry.load('tiny');
    // Before READY (after the plain batch-1 warm-up, `warmup: true` by default): 1, 2, 4, 6, 8, 12, each twice.
    assert.deepEqual(ex.ran, [1, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 12, 12]);
    const st = r.registry.stats('tiny')[0]!;
    assert.deepEqual(st.warmup?.sizes, [1, 2, 4, 6, 8, 12]);
    assert.ok((st.warmup?.ms ?? 0) > 0, JSON.stringify(st.warmup));
    const costs = st.batching!.costs;
    assert.deepEqual(Object.keys(costs).map(Number), [1, 2, 4, 6, 8, 12]);
    for (const [b, c] of Object.entries(costs)) {
      assert.ok(c.ms > 0 && c.n === 0, `size ${b}: ${JSON.stringify(c)}`);
      assert.equal(c.ms, st.warmup!.costs[Number(b)], 'seeded from the second warm-up run');
    }
    assert.deepEqual(st.batching!.candidates, [1, 2, 4, 6, 8, 12]);
    // Warmed shapes are learned from their next run (no first-run skip): one request of 1 → n = 1.
    const { version, release } = await r.registry.acquire('tiny');
    try {
      const dims = version.inputs[0]!.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
      await version.run({ [version.inputs[0]!.name]: { type: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) } });
    } finally {
      release();
    }
    assert.equal(r.registry.stats('tiny')[0]!.batching!.costs[1]?.n, 1);
    assert.equal(r.registry.stats('tiny')[0]!.inference_stats.success, 1, 'warm-ups run outside the queue');
  } finally {
    await r.close();
  }
});

test('a CPU instance beside a GPU lane gets cores − 2 − GPU lanes intra-op threads unless threads is given; placement shows it', { timeout: 60_000 }, async () => {
  assert.equal(cpuThreadsBeside(16, 1), 13);
  assert.equal(cpuThreadsBeside(2, 1), 1);
  assert.equal(cpuThreadsBeside(16, 0), undefined, 'the CPU alone: the runtime decides');
  const gpu = new Recording();
  const cpu = new Recording();
  const r = await registryOver({ 'GPU.0': { ex: gpu, device: 'GPU.0' }, CPU: { ex: cpu, device: 'CPU' } }, '    instances: {GPU.0: 1, CPU: 1}\n', 16);
  try {
    await r.registry.load('tiny');
    assert.deepEqual(gpu.opened, [{}]);
    assert.deepEqual(cpu.opened, [{ threads: 13 }]);
    const pl = r.registry.served('tiny')[0]!.placement;
    assert.deepEqual(pl.map((p) => [p.device, p.threads]), [['GPU.0', undefined], ['CPU', 13]]);
  } finally {
    await r.close();
  }
  const cpu2 = new Recording();
  const given = await registryOver({ 'GPU.0': { ex: new Recording(), device: 'GPU.0' }, CPU: { ex: cpu2, device: 'CPU' } }, '    instances: {GPU.0: 1, CPU: 1}\n    threads: 4\n', 16);
  try {
    await given.registry.load('tiny');
    assert.deepEqual(cpu2.opened, [{ threads: 4 }]);
  } finally {
    await given.close();
  }
});
