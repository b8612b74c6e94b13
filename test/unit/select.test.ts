import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectDevices } from '../../src/core/devices/select.js';
import type { Device } from '../../src/core/devices/types.js';
import { NotFoundError, UsageError } from '../../src/core/errors.js';
import { targetFor, describeTarget } from '../../src/core/backends/ep-map.js';

const dev = (id: string, kind: Device['kind'], extra: Partial<Device> = {}): Device => ({ id, kind, name: id, vendor: 'x', backends: [], ...extra });
const devices = [
  dev('CPU', 'cpu'),
  dev('GPU.0', 'gpu', { vendorId: '0x8086', integrated: true }),
  dev('GPU.1', 'gpu', { vendorId: '0x10de' }),
  dev('GPU.2', 'gpu', { vendorId: '0x10de' }),
  dev('GPU.3', 'gpu', { software: true, vulkanIcd: '/usr/share/vulkan/icd.d/lvp_icd.json' }),
  dev('NPU', 'npu', { vendorId: '0x8086' }),
];

test('selectors: CPU, GPU = GPU.0, GPU.2, npu, all; case-insensitive', () => {
  assert.deepEqual(selectDevices('cpu', devices).map((d) => d.id), ['CPU']);
  assert.deepEqual(selectDevices('GPU', devices).map((d) => d.id), ['GPU.0']);
  assert.deepEqual(selectDevices('gpu.2', devices).map((d) => d.id), ['GPU.2']);
  assert.deepEqual(selectDevices('NPU', devices).map((d) => d.id), ['NPU']);
  assert.equal(selectDevices('all', devices).length, devices.length);
});

test('bad selectors are usage errors; absent devices are not-found errors', () => {
  assert.throws(() => selectDevices('TPU', devices), UsageError);
  assert.throws(() => selectDevices('GPU.-1', devices), UsageError);
  assert.throws(() => selectDevices('CPU.1', devices), UsageError);
  assert.throws(() => selectDevices('GPU.9', devices), NotFoundError);
});

test('one map from (device, backend) to runtime targets: CUDA and OpenVINO ordinals count their own GPUs', () => {
  const [cpu, intel, nv1, nv2, lvp, npu] = devices as [Device, Device, Device, Device, Device, Device];
  assert.equal(describeTarget(targetFor(devices, cpu, 'ort-cpu')), 'cpu');
  assert.equal(describeTarget(targetFor(devices, nv1, 'ort-cuda')), 'cuda:0');
  assert.equal(describeTarget(targetFor(devices, nv2, 'ort-tensorrt')), 'tensorrt:1');
  assert.equal(describeTarget(targetFor(devices, intel, 'openvino')), 'openvino:GPU.0');
  assert.equal(describeTarget(targetFor(devices, npu, 'openvino')), 'openvino:NPU');
  assert.equal(describeTarget(targetFor(devices, cpu, 'openvino')), 'openvino:CPU');
  const w = targetFor(devices, lvp, 'ort-webgpu');
  assert.deepEqual(w.runtime === 'onnxruntime' ? w.env : {}, { VK_DRIVER_FILES: '/usr/share/vulkan/icd.d/lvp_icd.json' });
  assert.throws(() => targetFor(devices, intel, 'ort-cuda'), UsageError);
  assert.throws(() => targetFor(devices, nv1, 'openvino'), UsageError);
  assert.throws(() => targetFor(devices, cpu, 'ort-webgpu'), UsageError);
});
