/** Screens render finished reports: an Ink frame and the plain table, from a fake multi-GPU machine. */
import assert from 'node:assert/strict';
import { stripVTControlCharacters } from 'node:util';
import { test } from 'node:test';
import React from 'react';
import { render } from 'ink-testing-library';
import { DevicesScreen } from '../../src/ui/screens/DevicesScreen.js';
import { renderDevicesPlain } from '../../src/ui/plain/devices.js';
import type { DevicesReport } from '../../src/core/devices/types.js';

const NOW = new Date('2026-11-26T12:00:00Z');

function report(): DevicesReport {
  return {
    host: { hostname: 'ws', platform: 'linux', arch: 'x64', release: '6.8', memoryBytes: 64 * 1024 ** 3, availableMemoryBytes: 40 * 1024 ** 3 },
    runtimes: [
      { name: 'onnxruntime-node', installed: true, version: '1.30.0' },
      { name: 'openvino-node', installed: false, reason: 'optional package not installed' },
    ],
    devices: [
      {
        id: 'CPU',
        kind: 'cpu',
        name: 'Intel(R) Xeon(R) Platinum 8480+',
        vendor: 'Intel',
        memoryBytes: 64 * 1024 ** 3,
        cpu: { model: 'Intel(R) Xeon(R) Platinum 8480+', vendor: 'Intel', arch: 'x64', sockets: 2, physicalCores: 56, logicalCores: 112, features: ['avx512_vnni', 'amx_int8'] },
        backends: [
          { backend: 'ort-cpu', available: true, verified: true, target: 'cpu', probe: { ok: true, at: '2026-11-26T10:00:00Z', cached: true, sessionMs: 30, runMs: 0.4 } },
          { backend: 'openvino', available: false, verified: false, reason: 'openvino-node is not installed', fix: 'npm install openvino-node' },
        ],
      },
      {
        id: 'GPU.0',
        kind: 'gpu',
        name: 'NVIDIA H100 80GB HBM3',
        vendor: 'NVIDIA',
        vendorId: '0x10de',
        pciAddress: '0000:17:00.0',
        driver: 'nvidia',
        driverVersion: '550.54.15',
        memoryBytes: 80 * 1024 ** 3,
        integrated: false,
        software: false,
        telemetry: { utilizationPct: 3, temperatureC: 31, powerW: 70, powerLimitW: 700 },
        backends: [
          { backend: 'ort-webgpu', available: true, verified: false, target: 'webgpu' },
          { backend: 'ort-cuda', available: false, verified: false, reason: 'CUDA provider libraries not installed', fix: 'aivmm setup cuda' },
          { backend: 'ort-tensorrt', available: true, verified: false, target: 'tensorrt:0', libraries: { stack: 'CUDA 13 / cuDNN 9 / TensorRT 10', dirs: ['/usr/local/cuda-13.0/targets/x86_64-linux/lib', '/usr/lib/x86_64-linux-gnu'] } },
        ],
      },
      {
        id: 'GPU.1',
        kind: 'gpu',
        name: 'llvmpipe (lavapipe, Mesa software Vulkan)',
        vendor: 'Mesa',
        software: true,
        backends: [{ backend: 'ort-webgpu', available: true, verified: true, target: 'webgpu', probe: { ok: true, at: NOW.toISOString(), cached: false, sessionMs: 80, runMs: 30, fallback: true, ranOnTarget: true }, reason: 'partial fallback: nodes ran on WebGpuExecutionProvider, CPUExecutionProvider' }],
      },
    ],
    ignored: [],
    probed: false,
    probeCache: { path: '/c/p.json', at: '2026-11-26T10:00:00Z', used: true },
    warnings: ['nvidia-smi was slow'],
    elapsedMs: 12,
  };
}

test('Ink screen: each device with its facts and every backend verdict, reason and fix', () => {
  const { lastFrame, unmount } = render(<DevicesScreen report={report()} now={NOW} />);
  const frame = stripVTControlCharacters(lastFrame() ?? '');
  unmount();
  assert.match(frame, /ws · linux-x64 · 64 GiB RAM \(40 GiB free\)/);
  assert.match(frame, /CPU {4}Intel\(R\) Xeon\(R\) Platinum 8480\+/);
  assert.match(frame, /56 cores \/ 112 threads, 2 sockets/);
  assert.match(frame, /✔ ort-cpu\s+cpu · session 30\.0 ms, run 400 µs · probed 2 h ago/);
  assert.match(frame, /✘ openvino\s+openvino-node is not installed\n\s+fix: npm install openvino-node/);
  assert.match(frame, /GPU\.0 {2}NVIDIA H100 80GB HBM3 {2}GPU · discrete/);
  assert.match(frame, /3% busy, 31 °C, 70 W of 700 W/);
  assert.match(frame, /○ ort-webgpu\s+webgpu · not verified \(run --probe\)/);
  assert.match(frame, /GPU\.1 {2}llvmpipe .* GPU · software/);
  assert.match(frame, /! ort-webgpu\s+webgpu · partial fallback/);
  assert.match(frame, /warning: nvidia-smi was slow/);
  assert.match(frame, /CUDA 13 \/ cuDNN 9 \/ TensorRT 10 libraries from\s+\/usr\/local\/cuda-13\.0/); // wrapped at the frame width
});

test('plain table: every device and backend, then the reasons with their fixes', () => {
  const text = renderDevicesPlain(report(), NOW);
  assert.match(text, /│ GPU\.0 │ NVIDIA H100 80GB HBM3/);
  assert.match(text, /ort-cpu: yes \(400 µs\)/);
  assert.match(text, /ort-webgpu: yes\?/);
  assert.match(text, /ort-webgpu: fallback/);
  assert.match(text, /GPU\.0 ort-cuda: CUDA provider libraries not installed\n {4}fix: aivmm setup cuda/);
  assert.match(text, /GPU\.0 ort-tensorrt: CUDA 13 \/ cuDNN 9 \/ TensorRT 10 libraries from \/usr\/local\/cuda-13\.0\/targets\/x86_64-linux\/lib, \/usr\/lib\/x86_64-linux-gnu/);
  assert.match(text, /probe results from 2 h ago/);
  assert.doesNotMatch(text, /\x1b\[/);
});
