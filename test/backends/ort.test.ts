/** Real onnxruntime-node inference on the generated models: CPU EP always, WebGPU EP where an adapter exists. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ortBackend } from '../../src/core/backends/ort.js';
import { targetFor } from '../../src/core/backends/ep-map.js';
import type { HostTensor } from '../../src/core/backends/types.js';
import { embeddedModel } from '../../src/core/models/embedded.js';
import { InferenceError, UsageError } from '../../src/core/errors.js';
import { assertClose } from '../helpers/assert-close.js';
import { webgpuDevice } from '../helpers/webgpu.js';
import { cpuOnlyOpModel } from '../helpers/cpu-only-op.js';
import os from 'node:os';
import { CPU_TARGET } from '../../src/core/backends/ep-map.js';

const CPU = CPU_TARGET;

function image(batch: number, size: number, seed = 1): HostTensor {
  const n = batch * 3 * size * size;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.37 + seed) * 1.5;
  return { type: 'float32', dims: [batch, 3, size, size], data };
}

test('CPU EP: tiny conv net gives a probability distribution per item, with a dynamic batch', async () => {
  const s = await ortBackend.load(embeddedModel('tiny-convnet').build(), CPU);
  try {
    assert.deepEqual(s.inputs.map((i) => [i.name, i.shape]), [['input', ['batch_size', 3, 32, 32]]]);
    const out = (await s.run({ input: image(3, 32) }))['probabilities'];
    assert.ok(out);
    assert.deepEqual(out.dims, [3, 10]);
    const p = out.data as Float32Array;
    for (let b = 0; b < 3; b++) {
      const row = p.subarray(b * 10, b * 10 + 10);
      assert.ok(Math.abs(row.reduce((x, y) => x + y, 0) - 1) < 1e-5);
    }
    // different inputs, different outputs: the network computes something
    const other = (await s.run({ input: image(1, 32, 5) }))['probabilities']?.data as Float32Array;
    assert.notDeepEqual(Array.from(other), Array.from(p.subarray(0, 10)));
  } finally {
    await s.dispose();
  }
});

test('CPU EP: the MobileNetV2-architecture default model runs, 1000 finite logits, deterministic', async () => {
  const s = await ortBackend.load(embeddedModel('mobilenetv2-seeded').build(), CPU, { threads: os.availableParallelism() });
  try {
    const x = image(1, 224);
    const a = (await s.run({ input: x }))['output'];
    const b = (await s.run({ input: x }))['output'];
    assert.deepEqual(a?.dims, [1, 1000]);
    const logits = a?.data as Float32Array;
    assert.ok(logits.every(Number.isFinite), 'finite logits');
    const spread = Math.max(...logits) - Math.min(...logits);
    assert.ok(spread > 1e-3, `logits vary (spread ${spread})`);
    assert.deepEqual(Array.from(logits), Array.from(b?.data as Float32Array));
  } finally {
    await s.dispose();
  }
});

test('CPU EP: a wrong input shape is an InferenceError naming the problem', async () => {
  const s = await ortBackend.load(embeddedModel('tiny-convnet').build(), CPU);
  try {
    await assert.rejects(s.run({ input: image(1, 16) }), (e: unknown) => e instanceof InferenceError && /inference failed/.test(e.message));
  } finally {
    await s.dispose();
  }
});

test('not an ONNX model: an InferenceError, not a crash', async () => {
  await assert.rejects(ortBackend.load(new TextEncoder().encode('hello, not a model'), CPU), InferenceError);
});

test('WebGPU EP (lavapipe in CI): same outputs as the CPU EP, every node placed on WebGPU', async (t) => {
  const { device, skip } = await webgpuDevice();
  if (skip || !device) return t.skip(skip || 'no device');
  const target = targetFor([device], device, 'ort-webgpu');
  const bytes = embeddedModel('tiny-convnet').build();
  const x = image(2, 32);
  const cpu = await ortBackend.load(bytes, CPU);
  const gpu = await ortBackend.load(bytes, target, { strictPlacement: true, profile: { dir: os.tmpdir() } });
  try {
    const ref = (await cpu.run({ input: x }))['probabilities']?.data as Float32Array;
    const got = (await gpu.run({ input: x }))['probabilities']?.data as Float32Array;
    assertClose(got, ref, { atol: 1e-5, rtol: 1e-4 });
    const placement = await gpu.placement();
    assert.ok((placement?.['WebGpuExecutionProvider'] ?? 0) > 0, JSON.stringify(placement));
    assert.equal(placement?.['CPUExecutionProvider'] ?? 0, 0, JSON.stringify(placement));
  } finally {
    await cpu.dispose();
    await gpu.dispose();
  }
});

test('WebGPU EP: the MobileNetV2-architecture model matches the CPU EP', async (t) => {
  const { device, skip } = await webgpuDevice();
  if (skip || !device) return t.skip(skip || 'no device');
  const bytes = embeddedModel('mobilenetv2-seeded').build();
  const x = image(1, 224, 3);
  const cpu = await ortBackend.load(bytes, CPU);
  const gpu = await ortBackend.load(bytes, targetFor([device], device, 'ort-webgpu'));
  try {
    const ref = (await cpu.run({ input: x }))['output']?.data as Float32Array;
    const got = (await gpu.run({ input: x }))['output']?.data as Float32Array;
    const scale = Math.max(...Array.from(ref, Math.abs));
    assertClose(got, ref, { atol: 1e-4 * scale, rtol: 1e-3 });
  } finally {
    await cpu.dispose();
    await gpu.dispose();
  }
});

test('placement shows a node the WebGPU EP cannot run falling back to the CPU; strict placement refuses it', async (t) => {
  const { device, skip } = await webgpuDevice();
  if (skip || !device) return t.skip(skip || 'no device');
  const bytes = cpuOnlyOpModel();
  const target = targetFor([device], device, 'ort-webgpu');
  const s = await ortBackend.load(bytes, target, { profile: { dir: os.tmpdir() } });
  try {
    await s.run({ x: { type: 'float32', dims: [1, 16], data: new Float32Array(16).fill(1) } });
    const placement = await s.placement();
    assert.ok((placement?.['CPUExecutionProvider'] ?? 0) >= 1, JSON.stringify(placement));
  } finally {
    await s.dispose();
  }
  await assert.rejects(ortBackend.load(bytes, target, { strictPlacement: true }), /fallback|CPU EP/i);
});

