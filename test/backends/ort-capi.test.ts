/**
 * onnxruntime's C API through koffi (src/core/backends/ort-capi.ts): the path that carries CUDA/TensorRT provider
 * options and CUDA graphs. Here it runs real inference on the CPU EP — plain and with inputs/outputs bound to
 * buffers of ours, the mode CUDA graphs use — against onnxruntime-node's own binding on the same model.
 * The CUDA side ran on the H200 (scripts/gpu-cuda-graph.sh, docs/performance.md).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadCapiSession, needsCapi, ortMessage } from '../../src/core/backends/ort-capi.js';
import { ortBackend } from '../../src/core/backends/ort.js';
import { ortPackage } from '../../src/core/backends/packages.js';
import type { HostTensor, Session } from '../../src/core/backends/types.js';
import { embeddedModel } from '../../src/core/models/embedded.js';
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
import { BackendUnavailableError, UsageError } from '../../src/core/errors.js';
import { CPU_TARGET } from '../../src/core/backends/ep-map.js';

const CPU = CPU_TARGET;
const CUDA = { runtime: 'onnxruntime', provider: 'cuda', deviceId: 0, env: {}, profileName: 'CUDAExecutionProvider' } as const;

function image(batch: number, seed: number): HostTensor {
  const n = batch * 3 * 32 * 32;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.37 + seed) * 1.5;
  return { type: 'float32', dims: [batch, 3, 32, 32], data };
}

async function outputsAgree(capi: Session, reference: Session, batches: readonly number[]): Promise<void> {
  for (const [i, batch] of batches.entries()) {
    const feeds = { input: image(batch, i) };
    const a = (await capi.run(feeds))['probabilities'];
    const b = (await reference.run(feeds))['probabilities'];
    assert.ok(a && b);
    assert.deepEqual(a.dims, [batch, 10]);
    assert.equal(a.type, 'float32');
    // the same runtime, model and thread count: the same numbers, bit for bit
    assert.deepEqual(Array.from(a.data as Float32Array), Array.from(b.data as Float32Array), `batch ${batch}`);
  }
}

test('C API session: the same inputs/outputs and the same numbers as onnxruntime-node, batch changing between runs', async () => {
  const bytes = embeddedModel('tiny-convnet').build();
  const capi = await loadCapiSession(bytes, CPU, { threads: 1 });
  const reference = await ortBackend.load(bytes, CPU, { threads: 1 });
  try {
    assert.deepEqual(capi.inputs, reference.inputs);
    assert.deepEqual(capi.outputs, reference.outputs);
    await outputsAgree(capi, reference, [1, 3, 1, 2]);
    const long = { type: 'float32', dims: [1, 3, 32, 32], data: new Float32Array(2 * 3 * 32 * 32) } as HostTensor;
    await assert.rejects(capi.run({ input: long }), /24576 bytes of data for dims \[1, 3, 32, 32\]/);
  } finally {
    await capi.dispose();
    await reference.dispose();
  }
});

test('C API bound session (the CUDA graph mode): buffers bound once per shape, a new shape reopens the session', async () => {
  const bytes = embeddedModel('tiny-convnet').build();
  const capi = await loadCapiSession(bytes, CPU, { threads: 1 }, { bound: true });
  const reference = await ortBackend.load(bytes, CPU, { threads: 1 });
  try {
    // repeated shapes reuse the bound buffers: their contents must be rewritten each run, not stale
    await outputsAgree(capi, reference, [2, 2, 2, 1, 4, 1]);
    await assert.rejects(capi.run({ image: image(1, 0) }), /no input 'image'/);
    // data that does not match its dims is refused before onnxruntime copies past its end
    const short = { type: 'float32', dims: [2, 3, 32, 32], data: new Float32Array(3 * 32 * 32) } as HostTensor;
    await assert.rejects(capi.run({ input: short }), /input 'input': 12288 bytes of data for dims \[2, 3, 32, 32\] \(float32: 24576 bytes\)/);
    await outputsAgree(capi, reference, [2]);
  } finally {
    await capi.dispose();
    await reference.dispose();
  }
  await assert.rejects(capi.run({ input: image(1, 0) }), /disposed/);
});

test('C API bound session: an output whose shape does not follow from the inputs is refused in one line', async () => {
  const b = new GraphBuilder(13);
  const x = b.input({ name: 'x', dataType: 'float32', shape: ['n'] });
  b.op('NonZero', [x], [], 'idx');
  b.output({ name: 'idx', dataType: 'int64', shape: [1, 'count'] });
  const bytes = encodeModel({ graph: b.graph('nonzero') });
  const plain = await loadCapiSession(bytes, CPU);
  const bound = await loadCapiSession(bytes, CPU, {}, { bound: true });
  try {
    const feeds = { x: { type: 'float32', dims: [5], data: Float32Array.of(0, 2, 0, 3, 1) } as HostTensor };
    const out = (await plain.run(feeds))['idx'];
    assert.deepEqual(out?.dims, [1, 3]);
    assert.deepEqual(Array.from(out?.data as BigInt64Array), [1n, 3n, 4n]);
    await assert.rejects(bound.run(feeds), (err: unknown) => err instanceof UsageError && /output 'idx' has shape \[1, count\]/.test(err.message) && !err.message.includes('\n'));
  } finally {
    await plain.dispose();
    await bound.dispose();
  }
});

test('C API session: profiling counts the nodes each provider ran, and removes its file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aivmm-capi-'));
  try {
    const s = await loadCapiSession(embeddedModel('tiny-convnet').build(), CPU, { profile: { dir } });
    await s.run({ input: image(1, 0) });
    const placement = await s.placement();
    await s.dispose();
    assert.ok((placement?.['CPUExecutionProvider'] ?? 0) >= 3, JSON.stringify(placement));
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('which sessions go through the C API: CUDA/TensorRT with a provider option other than deviceId', () => {
  assert.equal(needsCapi(CUDA, { epOptions: { enable_cuda_graph: '1' } }), true);
  assert.equal(needsCapi({ ...CUDA, provider: 'tensorrt' }, { epOptions: { trt_fp16_enable: '1' } }), true);
  assert.equal(needsCapi(CUDA, { epOptions: { deviceId: '0', 'session.x': '1' } }), false);
  assert.equal(needsCapi(CUDA, {}), false);
  assert.equal(needsCapi({ ...CUDA, provider: 'webgpu' }, { epOptions: { preferredLayout: 'NHWC' } }), false);
});

test("onnxruntime's messages lose their source location and code prefix", () => {
  assert.equal(
    ortMessage('/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1988 onnxruntime::Provider& f() [ONNXRuntimeError] : 1 : FAIL : Failed to load library x.so\n with error: y'),
    'Failed to load library x.so with error: y',
  );
  assert.equal(ortMessage('plain message'), 'plain message');
});

test(
  'CUDA provider options without the CUDA provider installed: BackendUnavailableError naming the missing library and `aivmm setup cuda`',
  { skip: ortPackage().cudaProvider ? 'the CUDA provider is installed here' : false },
  async () => {
    const bytes = embeddedModel('tiny-convnet').build();
    for (const provider of ['cuda', 'tensorrt'] as const) {
      await assert.rejects(ortBackend.load(bytes, { ...CUDA, provider }, { epOptions: { enable_cuda_graph: '1' } }), (err: unknown) => {
        assert.ok(err instanceof BackendUnavailableError, String(err));
        assert.match(err.message, new RegExp(`^${provider} execution provider failed: Failed to load library .*libonnxruntime_providers_shared`));
        assert.ok(!err.message.includes('[ONNXRuntimeError]') && !err.message.includes('\n'), err.message);
        assert.match(err.hint ?? '', /aivmm setup cuda/);
        return true;
      });
    }
  },
);
