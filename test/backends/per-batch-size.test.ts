/**
 * One session per batch size (per-batch-size.ts) on real CPU sessions: each size gets its own session up to
 * the cap, sizes beyond it share the first, and every run's outputs equal one plain session's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CPU_TARGET, openSession } from '../../src/core/backends/registry.js';
import { PerBatchSizeSession, batchSizeOf } from '../../src/core/backends/per-batch-size.js';
import type { HostTensor } from '../../src/core/backends/types.js';
import { embeddedModel } from '../../src/core/models/embedded.js';

const feedsOf = (name: string, dims: number[], seed: number): Record<string, HostTensor> => {
  const n = dims.reduce((a, b) => a * b, 1);
  return { [name]: { type: 'float32', dims, data: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.13 + seed)) } };
};

test('sessionPerBatchSize: a session per size up to the cap, the rest on the first, outputs equal a plain session', { timeout: 60_000 }, async () => {
  const bytes = embeddedModel('tiny-convnet').build();
  const plain = (await openSession(CPU_TARGET, bytes)).session;
  const opened = await openSession(CPU_TARGET, bytes, { sessionPerBatchSize: 3 });
  try {
    const per = opened.session;
    assert.ok(per instanceof PerBatchSizeSession);
    assert.deepEqual(per.inputs, plain.inputs);
    const input = per.inputs[0]!;
    const shape = (b: number): number[] => input.shape.map((d, i) => (i === 0 ? b : typeof d === 'number' && d > 0 ? d : 1));
    for (const [k, b] of [1, 4, 1, 2, 8, 4, 8].entries()) {
      const feeds = feedsOf(input.name, shape(b), k);
      assert.equal(batchSizeOf(feeds), b);
      const got = await per.run(feeds);
      const want = await plain.run(feeds);
      for (const [name, t] of Object.entries(want))
        assert.deepEqual(Array.from(got[name]!.data as Float32Array), Array.from(t.data as Float32Array), `batch ${b} ${name}`);
    }
    // 1, 4 and 2 got sessions (the cap is 3); 8 ran on the first.
    assert.deepEqual(per.sizes(), [1, 2, 4]);
  } finally {
    await opened.session.dispose();
    await plain.dispose();
  }
});

test('sessionPerBatchSize: a size whose session cannot be opened runs on the first one', async () => {
  const bytes = embeddedModel('tiny-convnet').build();
  const first = (await openSession(CPU_TARGET, bytes)).session;
  const per = new PerBatchSizeSession(first, () => Promise.reject(new Error('out of device memory')), 4);
  try {
    const input = first.inputs[0]!;
    const dims = (b: number): number[] => input.shape.map((d, i) => (i === 0 ? b : typeof d === 'number' && d > 0 ? d : 1));
    await per.run(feedsOf(input.name, dims(1), 0));
    const out = await per.run(feedsOf(input.name, dims(2), 1));
    assert.ok(Object.keys(out).length > 0);
  } finally {
    await per.dispose();
  }
});
