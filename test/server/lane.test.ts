/**
 * The server on a real worker lane (a child process): inference leaves the HTTP event loop, results
 * equal the in-process session, and a lane killed mid-request fails that request with LANE_CRASHED (503)
 * and comes back with its instances loaded, so later requests succeed.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { embeddedModel } from '../../src/core/models/embedded.js';
import { LaneExecutor } from '../../src/server/lane-executor.js';
import { postJson, referenceRun, seeded, startTestServer, tmp, TINY } from './helpers.js';

test('a lane-backed server answers like the in-process session, survives a lane crash, and keeps health fast', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tmp();
  const crashes: string[] = [];
  const restarts: number[] = [];
  const executor = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, onCrash: (e) => crashes.push(e.reason), onRestart: (e) => restarts.push(e.instances) });
  try {
    await writeFile(join(dir, 'tiny.onnx'), TINY);
    await writeFile(join(dir, 'mnv2.onnx'), embeddedModel('mobilenetv2-seeded').build());
    const t = await startTestServer({ executor, models: [{ name: 'tiny', path: join(dir, 'tiny.onnx') }, { name: 'mnv2', path: join(dir, 'mnv2.onnx') }] });
    try {
      const x = seeded(3072, 3);
      const ref = await referenceRun(TINY, { input: { type: 'float32', dims: [1, 3, 32, 32], data: x } });
      const req = { inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(x) }] };
      let r = await postJson(`${t.url}/v2/models/tiny/infer`, req);
      assert.equal(r.status, 200);
      assert.deepEqual(Float32Array.from(r.json.outputs[0].data), ref['probabilities']);

      // While the lane computes a large batch, the event loop still answers health at once.
      const big = seeded(8 * 3 * 224 * 224, 5);
      const header = { inputs: [{ name: 'input', shape: [8, 3, 224, 224], datatype: 'FP32', parameters: { binary_data_size: big.byteLength } }], outputs: [{ name: 'output', parameters: { binary_data: true } }] };
      const h = Buffer.from(JSON.stringify(header));
      const slow = fetch(`${t.url}/v2/models/mnv2/infer`, { method: 'POST', headers: { 'inference-header-content-length': String(h.length) }, body: Buffer.concat([h, Buffer.from(big.buffer)]) });
      const stats = () => t.registry.served('mnv2')[0]!.queue.stats;
      while (stats().running === 0) await new Promise((res) => setTimeout(res, 2));
      const t0 = performance.now();
      assert.equal((await fetch(`${t.url}/v2/health/ready`)).status, 200);
      const healthMs = performance.now() - t0;
      assert.equal(stats().running, 1, 'the batch was still computing when health answered');
      // the proof is the line above (health answered while the batch ran); the bound only catches a gross stall
      assert.ok(healthMs < 1000, `health took ${healthMs} ms during inference`);
      assert.equal((await slow).status, 200);

      // Kill the lane in the middle of a request.
      const pid = executor.pid as number;
      const doomed = fetch(`${t.url}/v2/models/mnv2/infer`, { method: 'POST', headers: { 'inference-header-content-length': String(h.length) }, body: Buffer.concat([h, Buffer.from(big.buffer)]) });
      while (stats().running === 0) await new Promise((res) => setTimeout(res, 2));
      process.kill(pid, 'SIGKILL');
      const dr = await doomed;
      assert.equal(dr.status, 503);
      const body = (await dr.json()) as { error: string; code: string };
      assert.equal(body.code, 'LANE_CRASHED');
      assert.match(body.error, /lane exited \(signal SIGKILL\) while running mnv2@1/);
      assert.equal(crashes.length, 1);

      // The lane restarts with both instances, and requests succeed again.
      r = await postJson(`${t.url}/v2/models/tiny/infer`, req);
      assert.equal(r.status, 200);
      assert.deepEqual(Float32Array.from(r.json.outputs[0].data), ref['probabilities']);
      assert.deepEqual(restarts, [2]);
      assert.notEqual(executor.pid, pid);
    } finally {
      await t.close();
    }
  } finally {
    await executor.close();
    await cleanup();
  }
});
