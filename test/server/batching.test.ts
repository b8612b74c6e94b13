/**
 * Dynamic batching in the server: requests sent at once are run as one batch on the instance, and each
 * client gets exactly the outputs its request alone would give (checked against an in-process session).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CPU_TARGET, openSession } from '../../src/core/backends/registry.js';
import { parseServeConfig } from '../../src/core/serve/config.js';
import { startTestServer, tmp, TINY } from './helpers.js';

for (const perSize of [false, true]) {
  test(
    `dynamic_batching in the config file${perSize ? ', a session per batch size' : ''}: concurrent requests share batches, each answer equals its unbatched run`,
    { timeout: 60_000 },
    async () => {
      const d = await tmp();
      await writeFile(join(d.dir, 'tiny.onnx'), TINY);
      const cfg = parseServeConfig(
        `models:\n  tiny:\n    dynamic_batching: {max_batch_size: 8, max_queue_delay: 50ms${perSize ? ', session_per_batch_size: true' : ''}}\n`,
        'aivmm.yaml',
      );
      const batching = cfg.models[0]!.batching!;
      assert.deepEqual(batching, { maxBatchSize: 8, maxQueueDelayMs: 50, ...(perSize ? { sessionPerBatchSize: true } : {}) });
      const t = await startTestServer({ models: [{ name: 'tiny', path: join(d.dir, 'tiny.onnx'), settings: { batching } }] });
      const { session } = await openSession(CPU_TARGET, TINY);
      try {
        const meta = (await (await fetch(`${t.url}/v2/models/tiny`)).json()) as { inputs: { name: string; shape: number[] }[] };
        const [input] = meta.inputs;
        const dims = input!.shape.map((x) => (x < 0 ? 1 : x));
        const n = dims.reduce((a, b) => a * b, 1);
        const bodies = Array.from({ length: 6 }, (_, r) => Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + r)));
        const answers = await Promise.all(
          bodies.map(async (data) => {
            const res = await fetch(`${t.url}/v2/models/tiny/infer`, {
              method: 'POST',
              body: JSON.stringify({ inputs: [{ name: input!.name, shape: dims, datatype: 'FP32', data }] }),
            });
            assert.equal(res.status, 200, await res.clone().text());
            return (await res.json()) as { outputs: { name: string; data: number[] }[] };
          }),
        );
        for (const [r, a] of answers.entries()) {
          const alone = await session.run({ [input!.name]: { type: 'float32', dims, data: Float32Array.from(bodies[r]!) } });
          for (const o of a.outputs) {
            const want = Array.from(alone[o.name]!.data as Float32Array);
            assert.equal(o.data.length, want.length);
            o.data.forEach((x, i) => assert.ok(Math.abs(x - want[i]!) <= 1e-5 + 1e-4 * Math.abs(want[i]!), `request ${r} ${o.name}[${i}]: ${x} vs ${want[i]}`));
          }
        }
        const stats = (await (await fetch(`${t.url}/v2/models/tiny/stats`)).json()) as {
          model_stats: { batching?: { requests: number; batches: number; meanBatchSize: number } }[];
        };
        const b = stats.model_stats[0]!.batching!;
        assert.equal(b.requests, 6);
        assert.ok(b.batches < 6 && b.meanBatchSize > 1, `6 requests at once ran in ${b.batches} batches (mean size ${b.meanBatchSize})`);
        // The CPU EP keeps one session unless asked (auto = CUDA and TensorRT only); placement says which.
        const placement = JSON.stringify(await (await fetch(`${t.url}/v1/placement/tiny`)).json());
        assert.equal(placement.includes('"sessionPerBatchSize":16'), perSize, placement);
      } finally {
        await session.dispose();
        await t.close();
        await d.cleanup();
      }
    },
  );
}

test('dynamic_batching config errors are one line naming the key', () => {
  assert.throws(
    () => parseServeConfig('models:\n  m:\n    dynamic_batching: {max_batch: 8}\n', 'a.yaml'),
    /a\.yaml: models\.m\.dynamic_batching: unknown key 'max_batch'/,
  );
  assert.throws(
    () => parseServeConfig('models:\n  m:\n    dynamic_batching: {max_batch_size: 4, preferred_batch_sizes: [8]}\n', 'a.yaml'),
    /a size above max_batch_size 4/,
  );
  assert.throws(() => parseServeConfig('models:\n  m:\n    dynamic_batching: {latency_target: {p90: 10ms}}\n', 'a.yaml'), /latency_target must be/);
  assert.throws(
    () => parseServeConfig('models:\n  m:\n    dynamic_batching: {session_per_batch_size: yes please}\n', 'a.yaml'),
    /session_per_batch_size must be true, false or auto/,
  );
  assert.deepEqual(parseServeConfig('models:\n  m:\n    dynamic_batching: {latency_target: {p99: 20ms}}\n', 'a.yaml').models[0]!.batching, {
    maxBatchSize: 32,
    maxQueueDelayMs: 2,
    latencyTarget: { quantile: 0.99, ms: 20 },
  });
});
