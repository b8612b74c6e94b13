/** Real onnxruntime-node benchmarks of the generated models: CPU EP always, WebGPU EP where an adapter exists (CI: lavapipe). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import os from 'node:os';
import { benchPair, type PairEvent } from '../../src/core/bench/run-pair.js';
import { addSpeedups, planPairs, runBench, type PairRunner } from '../../src/core/bench/index.js';
import type { BenchJob, BenchSettings } from '../../src/core/bench/types.js';
import { targetFor } from '../../src/core/backends/ep-map.js';
import { ensureEmbeddedModel } from '../../src/core/models/embedded.js';
import { UsageError } from '../../src/core/errors.js';
import type { Device, DevicesReport } from '../../src/core/devices/types.js';
import { webgpuDevice } from '../helpers/webgpu.js';
import { cpuOnlyOpModel } from '../helpers/cpu-only-op.js';
import { CPU_DEVICE, quickSettings } from '../helpers/bench-job.js';
import { threadPoolOpener } from '../../src/runtime/session-pool.js';

const dir = await mkdtemp(join(os.tmpdir(), 'aivmm-bench-'));
const tiny = await ensureEmbeddedModel('tiny-convnet', dir);

const settings = quickSettings;

const job = (device: Device, backend: BenchJob['backend'], s: BenchSettings, path = tiny.path): BenchJob => ({
  model: { path, name: 'tiny-convnet' },
  device: { id: device.id, name: device.name },
  backend,
  target: targetFor([device], device, backend),
  settings: s,
});

test('CPU EP: one row per batch with real timings, shapes, throughput, memory and raw samples', async () => {
  const events: PairEvent['kind'][] = [];
  const rows = await benchPair(job(CPU_DEVICE, 'ort-cpu', settings({ batches: [1, 4] })), { onEvent: (e) => events.push(e.kind) });
  assert.equal(rows.length, 2);
  const [b1, b4] = rows as [(typeof rows)[0], (typeof rows)[0]];
  assert.deepEqual(b1.shapes, { input: [1, 3, 32, 32] });
  assert.deepEqual(b4.shapes, { input: [4, 3, 32, 32] });
  for (const r of rows) {
    assert.equal(r.stats.n, 25);
    assert.equal(r.samples.length, 25);
    assert.equal(r.warmup.iterations, 3);
    assert.ok(r.stats.p50 > 0 && r.stats.p50 < 1000);
    assert.ok(r.stats.min <= r.stats.p50 && r.stats.p50 <= r.stats.p99 && r.stats.p99 <= r.stats.max);
    assert.ok(r.sessionMs > 0 && r.firstRunMs > 0);
    assert.ok(r.memory.peakRssBytes >= r.memory.rssBytes * 0.5 && r.memory.rssBytes > 10_000_000);
    assert.equal(r.placement, undefined); // CPU target: no fallback question
  }
  // batch-aware throughput: items per second = batch × requests per second
  assert.ok(Math.abs(b4.throughput.itemsPerSec - 4 * b4.throughput.requestsPerSec) < 1e-6);
  assert.equal(events[0], 'session');
  assert.ok(events.includes('progress') && events.filter((e) => e === 'row').length === 2);
});

test('--concurrency 2: two sessions on two threads with requests overlapping; throughput mode', async () => {
  const rows = await benchPair(job(CPU_DEVICE, 'ort-cpu', settings({ concurrency: 2, iterations: 40, batches: [2] })), { openPool: threadPoolOpener });
  const r = rows[0];
  assert.ok(r);
  assert.equal(r.mode, 'throughput');
  assert.equal(r.concurrency, 2);
  assert.equal(r.stats.n, 40);
  assert.ok(r.throughput.itemsPerSec > 0);
  // with two requests in flight the wall time is shorter than the sum of request times
  const sum = r.samples.reduce((a, b) => a + b, 0);
  assert.ok(r.throughput.wallMs < sum, `wall ${r.throughput.wallMs} vs sum ${sum}`);
});

test('reference workload: interleaved in bursts, positions recorded, excluded from the row\'s samples and wall time', async () => {
  const rows = await benchPair(job(CPU_DEVICE, 'ort-cpu', settings({ reference: true, iterations: 60 })));
  const r = rows[0];
  assert.ok(r?.reference);
  assert.equal(r.reference.model, 'mobilenetv2-seeded');
  assert.ok(r.reference.samples.length >= 3 && r.reference.samples.length % 3 === 0, String(r.reference.samples.length));
  assert.equal(r.reference.at.length, r.reference.samples.length);
  assert.ok(r.reference.at.every((x, i, a) => x >= 1 && x <= 60 && (i === 0 || x >= (a[i - 1] ?? 0))));
  assert.equal(r.samples.length, 60);
  const sum = r.samples.reduce((a, b) => a + b, 0);
  assert.ok(r.throughput.wallMs < sum + r.reference.samples.reduce((a, b) => a + b, 0) * 0.5, 'reference time is not in the wall time');
});

test('a bad --shape or a fixed batch fails the pair with a usage error, and the session is released', async () => {
  await assert.rejects(benchPair(job(CPU_DEVICE, 'ort-cpu', settings({ shapes: [{ name: 'input', dims: [1, 3, 16] }] }))), UsageError);
  const probe = await ensureEmbeddedModel('probe-mlp', dir);
  await assert.rejects(benchPair(job(CPU_DEVICE, 'ort-cpu', settings({ batches: [8] }), probe.path)), /fixed batch of 1/);
});

test('abort: a pair stopped mid-run returns the samples it has, marked interrupted', async () => {
  const ac = new AbortController();
  let seen = 0;
  const rows = await benchPair(job(CPU_DEVICE, 'ort-cpu', settings({ iterations: 1_000_000, warmup: { iterations: 1 } })), {
    signal: ac.signal,
    onEvent: (e) => {
      if (e.kind === 'progress' && e.progress.phase === 'measure' && ++seen === 3) ac.abort();
    },
  });
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.interrupted, true);
  assert.ok((rows[0]?.stats.n ?? 0) > 0 && (rows[0]?.stats.n ?? 0) < 1_000_000);
});

test('runBench: pairs planned from the device list, failures recorded per pair, speed-up against the CPU row', async () => {
  const devices: DevicesReport = {
    host: { hostname: 'h', platform: 'linux', arch: 'x64', release: '', memoryBytes: 0, availableMemoryBytes: 0 },
    runtimes: [],
    devices: [
      { ...CPU_DEVICE, backends: [...CPU_DEVICE.backends, { backend: 'openvino', available: false, verified: false, reason: 'openvino-node is not installed' }] },
      { id: 'GPU.0', kind: 'gpu', name: 'lavapipe', vendor: 'Mesa', software: true, backends: [{ backend: 'ort-webgpu', available: true, verified: false }] },
    ],
    ignored: [],
    probed: false,
    warnings: [],
    elapsedMs: 0,
  };
  const plan = planPairs(devices, 'all', [], { path: tiny.path, name: 'tiny-convnet' }, settings());
  assert.deepEqual(plan.jobs.map((j) => `${j.device.id} ${j.backend}`), ['CPU ort-cpu']);
  assert.deepEqual(plan.skipped.map((s) => s.device), ['CPU', 'GPU.0']); // openvino unavailable, software GPU left out of `all`
  assert.deepEqual(planPairs(devices, 'GPU.0', [], { path: tiny.path, name: 'tiny-convnet' }, settings()).jobs.map((j) => j.backend), ['ort-webgpu']);

  const c2 = planPairs(devices, 'GPU.0', [], { path: tiny.path, name: 'tiny-convnet' }, settings({ concurrency: 2 }));
  assert.equal(c2.jobs.length, 0, 'WebGPU sessions on several threads crash onnxruntime-node 1.30: refused up front');
  assert.match(c2.skipped.map((x) => x.reason).join(), /crashes with WebGPU sessions on several threads/);

  // An in-process runner (the real benchPair) for CPU; the GPU pair fails as a crashed worker would.
  const runner: PairRunner = async (j, hooks) => {
    if (j.device.id === 'GPU.0') throw new UsageError('simulated worker failure');
    return benchPair(j, hooks);
  };
  const report = await runBench({
    model: { path: tiny.path, name: 'tiny-convnet', embedded: true },
    devices,
    device: 'all',
    backends: ['cpu', 'webgpu'],
    settings: settings({ iterations: 10 }),
    runner,
    aivmmVersion: 'test',
  });
  assert.equal(report.rows.length, 1);
  assert.equal(report.failed.length, 1);
  assert.equal(report.failed[0]?.error.code, 'USAGE');
  assert.equal(report.rows[0]?.speedupVsCpu, 1);
  assert.match(report.model.sha256, /^[0-9a-f]{64}$/);
  assert.equal(report.runtimes['onnxruntime-node'], '1.30.0');
  assert.ok(report.warnings.some((w) => /GPU.0 ort-webgpu failed: simulated/.test(w)));

  const twice = [{ ...report.rows[0]! }, { ...report.rows[0]!, device: 'GPU.0', backend: 'ort-webgpu' as const, stats: { ...report.rows[0]!.stats, p50: report.rows[0]!.stats.p50 / 2 } }];
  addSpeedups(twice);
  assert.ok(Math.abs((twice[1]?.speedupVsCpu ?? 0) - 2) < 1e-9);
});

test('WebGPU EP (lavapipe in CI): a bench row with every node on WebGPU; a CPU-only op is reported as fallback', async (t) => {
  const { device, skip } = await webgpuDevice();
  if (skip || !device) return t.skip(skip || 'no WebGPU device');
  const rows = await benchPair(job(device, 'ort-webgpu', settings({ iterations: 10, warmup: { iterations: 2 } })));
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.target, 'webgpu');
  assert.equal(rows[0]?.placement?.fallback, false);
  assert.equal(rows[0]?.stats.n, 10);

  const modPath = join(dir, 'mod.onnx');
  await writeFile(modPath, cpuOnlyOpModel());
  const fb = await benchPair(job(device, 'ort-webgpu', settings({ iterations: 5, warmup: { iterations: 1 } }), modPath));
  assert.equal(fb[0]?.placement?.fallback, true);
  assert.match(fb[0]?.placement?.note ?? '', /some nodes ran on the CPU/);
});
