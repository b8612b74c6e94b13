/** Flag → (device, backend, target) in core (backends/target.ts), and the installer's environment rules (backends/installer-env.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installerEnv } from '../../src/core/backends/installer-env.js';
import { resolveTarget } from '../../src/core/backends/target.js';
import type { DevicesReport } from '../../src/core/devices/types.js';
import { BackendUnavailableError, UsageError } from '../../src/core/errors.js';

const devices: DevicesReport = {
  host: { hostname: 'h', platform: 'linux', arch: 'x64', release: '6', memoryBytes: 8e9, availableMemoryBytes: 4e9 },
  runtimes: [],
  devices: [
    { id: 'CPU', kind: 'cpu', name: 'cpu', vendor: 'intel', backends: [{ backend: 'ort-cpu', available: true, verified: false }, { backend: 'openvino', available: true, verified: false }] },
    { id: 'GPU.0', kind: 'gpu', name: 'H200', vendor: 'nvidia', vendorId: '0x10de', backends: [{ backend: 'ort-cuda', available: false, verified: false, reason: 'no provider libraries' }, { backend: 'ort-webgpu', available: true, verified: false }] },
  ],
  ignored: [],
  probed: false,
  warnings: [],
  elapsedMs: 1,
};

test('resolveTarget: the first available preferred backend; named backends; refusals as typed errors', () => {
  assert.deepEqual(resolveTarget(devices, { command: 'run', device: 'cpu' }).target, { runtime: 'onnxruntime', provider: 'cpu', env: {}, profileName: 'CPUExecutionProvider' });
  const gpu = resolveTarget(devices, { command: 'run', device: 'GPU.0' });
  assert.equal(gpu.backend, 'ort-webgpu');
  assert.throws(() => resolveTarget(devices, { command: 'run', device: 'all' }), (e: unknown) => e instanceof UsageError && /runs on one device/.test(e.message));
  assert.throws(() => resolveTarget(devices, { command: 'run', device: 'NPU' }), /NPU/);
  assert.throws(() => resolveTarget(devices, { command: 'run', device: 'GPU.0', backend: 'ort-cuda' }), (e: unknown) => e instanceof BackendUnavailableError && /through ort-cuda/.test(e.message) && /no provider libraries/.test(e.hint ?? ''));
  // OpenVINO: refused where the command runs through onnxruntime only (quantize), a target where it opens sessions through the registry (run)
  assert.throws(() => resolveTarget(devices, { command: 'quantize', device: 'CPU', backend: 'openvino' }), (e: unknown) => e instanceof UsageError && /quantize runs through onnxruntime/.test(e.message));
  assert.deepEqual(resolveTarget(devices, { command: 'run', device: 'CPU', backend: 'openvino', runtimes: ['onnxruntime', 'openvino'] }).target, { runtime: 'openvino', device: 'CPU' });
});

test('installerEnv: npm\'s install switches and prefix out, ONNXRUNTIME_NODE_INSTALL=true in, the rest kept', () => {
  const env = installerEnv({ PATH: '/bin', npm_config_onnxruntime_node_install: 'skip', ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip', npm_config_local_prefix: '/p', npm_package_json: '/p/package.json', npm_config_cache: '/c', UNSET: undefined });
  assert.deepEqual(env, { PATH: '/bin', npm_config_cache: '/c', ONNXRUNTIME_NODE_INSTALL: 'true' });
});

test('interrupt: the first Ctrl-C aborts with a CancelledError, the second aborts `forced` and lets go; no exit', async () => {
  const { EventEmitter } = await import('node:events');
  const { onInterrupt } = await import('../../src/cli/interrupt.js');
  const { CancelledError } = await import('../../src/core/errors.js');
  const source = new EventEmitter();
  const said: string[] = [];
  const i = onInterrupt({ source, signals: ['SIGINT', 'SIGTERM'], first: 'one\n', second: 'two\n', write: (t) => said.push(t) });
  assert.equal(source.listenerCount('SIGINT'), 1);
  source.emit('SIGINT');
  assert.ok(i.signal.aborted && !i.forced.aborted);
  assert.ok(i.signal.reason instanceof CancelledError);
  source.emit('SIGTERM');
  assert.ok(i.forced.aborted);
  assert.deepEqual(said, ['one\n', 'two\n']);
  assert.equal(source.listenerCount('SIGINT') + source.listenerCount('SIGTERM'), 0, 'a third signal gets the default action');
  const j = onInterrupt({ source });
  j.dispose();
  assert.equal(source.listenerCount('SIGINT'), 0);
});

test('flag parsers: one UsageError naming the flag', async () => {
  const f = await import('../../src/cli/flags.js');
  assert.equal(f.positiveInt('--batch', '8'), 8);
  assert.throws(() => f.positiveInt('--batch', '0'), (e: unknown) => e instanceof UsageError && e.message === "invalid --batch '0'" && e.hint === 'give an integer ≥ 1');
  assert.throws(() => f.fraction('--conf', '2'), /invalid --conf '2'/);
  assert.deepEqual(f.numberList('--mean', '1, 2,3', 3), [1, 2, 3]);
  assert.equal(f.numberList('--mean', undefined, 3), undefined);
  assert.throws(() => f.numberList('--mean', '1,2', 3), /invalid --mean '1,2'/);
  assert.throws(() => f.integer('--seed', '1.5'), /invalid --seed/);
  assert.equal(f.oneOf('--prefer', 'latency', ['latency', 'throughput'] as const), 'latency');
  assert.throws(() => f.oneOf('--prefer', 'fast', ['latency', 'throughput']), (e: unknown) => e instanceof UsageError && e.hint === 'give latency or throughput');
  assert.throws(() => f.numberIn('--temperature', '11', 0, 10, 'give 0 (greedy) to 10'), /invalid --temperature '11'/);
});
