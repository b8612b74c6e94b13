/** Probes run for real: a worker process per (device, backend) pair, results cached per host. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { processProbeRunner } from '../../src/cli/probe-runner.js';
import { targetFor } from '../../src/core/backends/ep-map.js';
import { discoverDevices } from '../../src/core/devices/discover.js';
import { nodeHost } from '../../src/core/devices/host.js';
import { listDevices } from '../../src/core/devices/index.js';
import { applyProbeCache, probeDevices, type ProbeRunner } from '../../src/core/devices/probe.js';
import { webgpuDevice } from '../helpers/webgpu.js';
import { cpuOnlyOpModel } from '../helpers/cpu-only-op.js';
import { CPU_TARGET } from '../../src/core/backends/ep-map.js';

const runner = processProbeRunner({ ...process.env, XDG_RUNTIME_DIR: process.env['XDG_RUNTIME_DIR'] ?? '/tmp' });

test('--probe verifies every reachable pair on this machine and caches the results per host', async () => {
  const cacheDir = mkdtempSync(join(os.tmpdir(), 'aivmm-cache-'));
  try {
    const events: string[] = [];
    const report = await listDevices({
      host: nodeHost(process.env),
      cacheDir,
      probe: { runner, timeoutMs: 120_000, onProgress: (e) => events.push(`${e.kind} ${e.device} ${e.backend}`) },
    });
    assert.equal(report.probed, true);
    const cpu = report.devices.find((d) => d.id === 'CPU')?.backends.find((b) => b.backend === 'ort-cpu');
    assert.equal(cpu?.verified, true);
    assert.equal(cpu?.available, true);
    assert.equal(cpu?.probe?.ok, true);
    assert.deepEqual(Object.keys(cpu?.probe?.executedOn ?? {}), ['CPUExecutionProvider']);
    assert.ok(events.includes('probe-start CPU ort-cpu') && events.includes('probe-done CPU ort-cpu'));
    const ort = report.runtimes.find((r) => r.name === 'onnxruntime-node');
    assert.ok(ort?.builtWith?.some((b) => b.name === 'cpu' && b.bundled), 'listSupportedBackends() reported after a probe');

    const gpu = report.devices.find((d) => d.software);
    if (gpu) {
      const w = gpu.backends.find((b) => b.backend === 'ort-webgpu');
      assert.equal(w?.available, true, w?.reason);
      assert.equal(w?.probe?.fallback, false);
      assert.ok((w?.probe?.executedOn?.['WebGpuExecutionProvider'] ?? 0) > 0);
      assert.ok((w?.probe?.maxAbsDiff ?? 1) < 1e-4);
    } else if (process.env['AIVMM_REQUIRE_WEBGPU'] === '1') {
      assert.fail('AIVMM_REQUIRE_WEBGPU=1 but there is no WebGPU adapter to probe');
    }

    // A later plain run shows the cached verdicts, marked as cached.
    const files = readdirSync(join(cacheDir, 'probes'));
    assert.equal(files.length, 1);
    const plain = await listDevices({ host: nodeHost(process.env), cacheDir });
    assert.equal(plain.probed, false);
    assert.equal(plain.probeCache?.used, true);
    const cached = plain.devices[0]?.backends.find((b) => b.backend === 'ort-cpu');
    assert.equal(cached?.verified, true);
    assert.equal(cached?.probe?.cached, true);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
});

test('a cache written for other hardware is not applied', async () => {
  const cacheDir = mkdtempSync(join(os.tmpdir(), 'aivmm-cache-'));
  try {
    const report = await discoverDevices(nodeHost(process.env));
    const fake: ProbeRunner = async () => ({ ok: true, sessionMs: 1, runMs: 1, executedOn: { CPUExecutionProvider: 1 }, maxAbsDiff: 0 });
    await probeDevices(report, { runner: fake, cacheDir, deviceIds: ['CPU'] });
    const [file] = readdirSync(join(cacheDir, 'probes'));
    // same host name, different hardware: rename the file under the fingerprint of a changed report
    const changed = await discoverDevices(nodeHost(process.env));
    changed.devices[0]!.name = 'Some Other CPU';
    await applyProbeCache(changed, cacheDir);
    assert.equal(changed.probeCache?.used, false);
    assert.equal(changed.devices[0]?.backends[0]?.verified, false);
    assert.ok(file);
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
});

test('silent fallback: a GPU request whose nodes ran on the CPU is reported as such, not as a working GPU', async () => {
  const report = await discoverDevices(nodeHost(process.env));
  // what a runtime that quietly ignored the GPU would report
  const ignoredGpu: ProbeRunner = async () => ({ ok: true, sessionMs: 2, runMs: 1, executedOn: { CPUExecutionProvider: 2 }, maxAbsDiff: 0 });
  const gpu = report.devices.find((d) => d.kind === 'gpu');
  if (!gpu) return;
  await probeDevices(report, { runner: ignoredGpu, deviceIds: [gpu.id] });
  const w = gpu.backends.find((b) => b.backend === 'ort-webgpu');
  assert.equal(w?.probe?.fallback, true);
  assert.equal(w?.probe?.ranOnTarget, false);
  assert.equal(w?.available, false);
  assert.match(w?.reason ?? '', /silent fallback/);
});

test('real worker: a model with a node WebGPU cannot run is flagged as partial fallback', async (t) => {
  const { device, skip } = await webgpuDevice();
  if (skip || !device) return t.skip(skip || 'no device');
  const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-fallback-'));
  try {
    const path = join(dir, 'mod.onnx');
    writeFileSync(path, cpuOnlyOpModel());
    const target = targetFor([device], device, 'ort-webgpu');
    const outcome = await runner({ target, model: path }, target.runtime === 'onnxruntime' ? target.env : {}, 120_000);
    assert.equal(outcome.ok, true, outcome.error);
    assert.equal(outcome.strictFailed, true);
    assert.ok((outcome.executedOn?.['CPUExecutionProvider'] ?? 0) >= 1, JSON.stringify(outcome.executedOn));
    assert.equal(outcome.maxAbsDiff, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a worker that cannot run is a failed probe with the reason, not a crash of aivmm', async () => {
  const outcome = await runner(
    { target: CPU_TARGET, model: '/nonexistent/model.onnx' },
    {},
    60_000,
  );
  assert.equal(outcome.ok, false);
  assert.match(outcome.error ?? '', /ENOENT|no such file/);
  const timedOut = await runner({ target: CPU_TARGET, model: 'mobilenetv2-seeded' }, {}, 50);
  assert.equal(timedOut.ok, false);
  assert.match(timedOut.error ?? '', /timed out/);
});
