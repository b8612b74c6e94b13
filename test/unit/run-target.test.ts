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
