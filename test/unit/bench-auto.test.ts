/** --device auto: requirement parsing and checks, the choice and its explanation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { choose, parseRequire, unmet } from '../../src/core/bench/auto.js';
import type { AutoCandidate } from '../../src/core/bench/auto.js';
import type { Device } from '../../src/core/devices/types.js';
import { UsageError, BackendUnavailableError } from '../../src/core/errors.js';

const cpu = (features: string[]): Device => ({ id: 'CPU', kind: 'cpu', name: 'Xeon', vendor: 'Intel', memoryBytes: 64e9, backends: [], cpu: { model: 'Xeon', vendor: 'Intel', arch: 'x64', sockets: 1, physicalCores: 8, logicalCores: 16, features } });
const gpu: Device = { id: 'GPU.0', kind: 'gpu', name: 'NVIDIA H200', vendor: 'NVIDIA', vendorId: '0x10de', memoryBytes: 141e9, backends: [] };

test('requirements parse with units and refuse what they do not know', () => {
  assert.deepEqual(parseRequire('memory>=4GB, fp16'), [
    { text: 'memory>=4GB', key: 'memory', op: '>=', value: 4e9 },
    { text: 'fp16', key: 'fp16', op: 'has' },
  ]);
  assert.equal(parseRequire('memory<=512MiB')[0]?.value, 512 * 1024 ** 2);
  assert.deepEqual(parseRequire('kind=GPU')[0], { text: 'kind=GPU', key: 'kind', op: '=', value: 'gpu' });
  assert.deepEqual(parseRequire(undefined), []);
  assert.throws(() => parseRequire('speed>=fast'), UsageError);
});

test('requirements are checked against each device and backend, with the reason', () => {
  assert.equal(unmet(gpu, 'ort-webgpu', parseRequire('memory>=80GB,fp16,kind=gpu,vendor=nvidia')), undefined);
  assert.match(unmet(gpu, 'ort-webgpu', parseRequire('memory>=200GB')) ?? '', /GPU\.0 has 141\.0 GB/);
  assert.match(unmet(gpu, 'ort-webgpu', parseRequire('int8')) ?? '', /ort-webgpu has no int8 kernels/);
  assert.equal(unmet(gpu, 'ort-cuda', parseRequire('int8')), undefined);
  assert.match(unmet(cpu(['avx2']), 'ort-cpu', parseRequire('fp16')) ?? '', /no float16 arithmetic/);
  assert.equal(unmet(cpu(['avx512_fp16', 'avx512_vnni']), 'ort-cpu', parseRequire('fp16,int8')), undefined);
  assert.match(unmet(cpu(['avx2']), 'ort-cpu', parseRequire('kind=gpu')) ?? '', /is a cpu/);
});

test('the choice: lowest batch-1 p50 for latency, highest items/s for throughput, explained', () => {
  const at = '2026-11-26T10:00:00Z';
  const candidates: AutoCandidate[] = [
    { device: 'CPU', deviceName: 'Xeon', backend: 'ort-cpu', measured: { latencyMs: 1.7, itemsPerSec: 1132, batch: 32, at }, source: 'cache' },
    { device: 'GPU.0', deviceName: 'H200', backend: 'ort-webgpu', measured: { latencyMs: 2.3, itemsPerSec: 2592, batch: 32, at }, source: 'probe' },
    { device: 'GPU.1', deviceName: 'lavapipe', backend: 'ort-webgpu', excluded: 'software rasteriser' },
  ];
  const l = choose(candidates, 'latency', []);
  assert.equal(l.device, 'CPU');
  assert.equal(l.reason, 'CPU ort-cpu 1.70 ms (measured 2026-11-26, cached) beats GPU.0 ort-webgpu 2.30 ms for batch-1 latency');
  const t = choose(candidates, 'throughput', parseRequire('kind=gpu'));
  assert.equal(t.device, 'GPU.0');
  assert.match(t.reason, /^GPU\.0 ort-webgpu 2592 items\/s \(batch 32\) \(probed now\) beats CPU ort-cpu 1132 items\/s \(batch 32\) for throughput; required: kind=gpu$/);
  assert.throws(() => choose(candidates.map((c) => ({ ...c, excluded: 'x' })), 'latency', []), BackendUnavailableError);
});
