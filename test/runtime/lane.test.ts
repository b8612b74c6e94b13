/** The worker runtime for real: lanes on child processes and worker threads, real ONNX Runtime sessions. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CPU_TARGET, openSession } from '../../src/core/backends/registry.js';
import type { ElementType, HostTensor } from '../../src/core/backends/types.js';
import { embeddedModel } from '../../src/core/hub/embedded.js';
import { GraphBuilder } from '../../src/core/quantize/graph-builder.js';
import { encodeModel } from '../../src/core/quantize/onnx-writer.js';
import { Lane, type LaneExit } from '../../src/runtime/lane.js';

const mlp = embeddedModel('probe-mlp').build();
const x = (seed: number): HostTensor => ({ type: 'float32', dims: [1, 16], data: Float32Array.from({ length: 16 }, (_, i) => Math.sin(i * seed)) });

async function inProcess(model: Uint8Array, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const { session } = await openSession(CPU_TARGET, model);
  try {
    return await session.run(feeds);
  } finally {
    await session.dispose();
  }
}

/** One Identity per element type: every input comes back as an output, so the bytes must match exactly. */
const TYPES: ElementType[] = ['float32', 'float16', 'int64', 'int32', 'int8', 'uint8', 'bool'];
function identityModel(): Uint8Array {
  const b = new GraphBuilder(1);
  for (const t of TYPES) {
    const i = b.input({ name: `in_${t}`, dataType: t, shape: [5] });
    b.op('Identity', [i], [], `out_${t}`);
    b.output({ name: `out_${t}`, dataType: t, shape: [5] });
  }
  return encodeModel({ graph: b.graph('identity') });
}
function everyType(): Record<string, HostTensor> {
  const data: Record<ElementType, HostTensor['data']> = {
    float32: Float32Array.of(Number.NaN, -0, 1.5e-45, 3.4e38, -1),
    float16: Uint16Array.of(0x7e00, 0x8000, 0x0001, 0x7bff, 0xfc00),
    int64: BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 123456789012345n),
    int32: Int32Array.of(-(2 ** 31), 2 ** 31 - 1, 0, -1, 7),
    int8: Int8Array.of(-128, 127, 0, -1, 5),
    uint8: Uint8Array.of(0, 255, 1, 128, 9),
    bool: Uint8Array.of(1, 0, 1, 1, 0),
  };
  return Object.fromEntries(TYPES.map((t) => [`in_${t}`, { type: t, dims: [5], data: data[t] }]));
}
const bytes = (t: HostTensor | undefined): Buffer => Buffer.from(t ? new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) : []);

for (const host of ['process', 'thread'] as const) {
  test(`${host} lane: load, run, unload; outputs equal an in-process session's; two instances`, async () => {
    const lane = await Lane.start({ name: `test-${host}`, target: CPU_TARGET, host });
    try {
      const loaded = await lane.load('a', mlp, { warmup: true });
      assert.deepEqual(loaded.inputs.map((i) => i.name), ['x']);
      assert.deepEqual(loaded.outputs.map((o) => o.name), ['y']);
      assert.match(loaded.runtimeVersion, /^\d+\.\d+/);
      assert.ok(loaded.loadMs > 0);
      await lane.load('b', embeddedModel('mobilenetv2-seeded').build());
      const ref = await inProcess(mlp, { x: x(3) });
      const out = await lane.run('a', { x: x(3) });
      assert.ok(out.computeMs >= 0);
      assert.ok(out.outputs['y']?.data instanceof Float32Array, 'a typed array, not JSON');
      assert.deepEqual(bytes(out.outputs['y']), bytes(ref['y']));
      const img: HostTensor = { type: 'float32', dims: [1, 3, 224, 224], data: Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.cos(i)) };
      const [ra, rb] = await Promise.all([lane.run('a', { x: x(5) }), lane.run('b', { input: img })]);
      assert.deepEqual(ra.outputs['y']?.dims, [1, 16]);
      assert.deepEqual(rb.outputs['output']?.dims, [1, 1000]);
      const stats = await lane.stats();
      assert.deepEqual(stats.instances.sort(), ['a', 'b']);
      assert.ok(stats.rssBytes > 0);
      assert.equal(stats.pid === process.pid, host === 'thread');
      await lane.unload('b');
      assert.deepEqual((await lane.stats()).instances, ['a']);
      await assert.rejects(lane.run('b', { input: img }), (e: Error & { code?: string }) => e.code === 'NOT_FOUND' && /no instance 'b'/.test(e.message));
      await assert.rejects(lane.run('a', { wrong: x(1) }), (e: Error & { code?: string }) => typeof e.code === 'string' && e.code !== 'LANE_CRASHED');
      assert.equal(lane.alive, true, 'a failed request leaves the lane up');
    } finally {
      await lane.close();
    }
    assert.equal(lane.alive, false);
    await assert.rejects(lane.stats(), (e: Error & { code?: string }) => e.code === 'LANE_CRASHED');
  });

  test(`${host} lane: tensors of every element type round-trip bit-exactly`, async () => {
    const lane = await Lane.start({ name: `types-${host}`, target: CPU_TARGET, host });
    try {
      await lane.load('id', identityModel());
      const feeds = everyType();
      const out = await lane.run('id', feeds);
      for (const t of TYPES) {
        const o = out.outputs[`out_${t}`];
        assert.equal(o?.type, t);
        assert.equal(o?.data.constructor, feeds[`in_${t}`]?.data.constructor, t);
        assert.deepEqual(bytes(o), bytes(feeds[`in_${t}`]), t);
      }
    } finally {
      await lane.close();
    }
  });
}

test('process lane: SIGKILL with a job in flight rejects it with LANE_CRASHED and emits exit', async () => {
  const lane = await Lane.start({ name: 'doomed', target: CPU_TARGET });
  const exits: LaneExit[] = [];
  lane.on('exit', (e: LaneExit) => exits.push(e));
  const pid = lane.pid;
  assert.ok(pid && pid !== process.pid);
  // a probe on the big model takes long enough to be killed mid-way
  const inFlight = lane.job('probe', { target: CPU_TARGET, model: 'mobilenetv2-seeded' });
  setTimeout(() => process.kill(pid, 'SIGKILL'), 200);
  await assert.rejects(inFlight, (e: Error & { code?: string }) => {
    assert.equal(e.code, 'LANE_CRASHED');
    assert.match(e.message, /^the doomed lane exited \(signal SIGKILL\) while running job probe/);
    return true;
  });
  assert.equal(exits.length, 1);
  assert.equal(exits[0]?.signal, 'SIGKILL');
  assert.match(exits[0]?.reason ?? '', /exited \(signal SIGKILL\)/);
  assert.equal(lane.alive, false);
  await lane.close(); // a dead lane closes at once
});

test('process lane: a job over its time limit is stopped, with "timed out after N ms"', async () => {
  const lane = await Lane.start({ name: 'slow', target: CPU_TARGET });
  let exited = false;
  lane.on('exit', () => (exited = true));
  const t0 = Date.now();
  await assert.rejects(lane.job('probe', { target: CPU_TARGET, model: 'mobilenetv2-seeded' }, undefined, { timeoutMs: 100 }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'LANE_CRASHED');
    assert.match(e.message, /the slow lane timed out after 100 ms while running job probe/);
    return true;
  });
  assert.ok(Date.now() - t0 < 10_000);
  assert.equal(exited, true);
  assert.equal(lane.alive, false);

  // a run with a time limit, the same way
  const again = await Lane.start({ name: 'slow-run', target: CPU_TARGET });
  await again.load('m', embeddedModel('mobilenetv2-seeded').build());
  const big: HostTensor = { type: 'float32', dims: [16, 3, 224, 224], data: new Float32Array(16 * 3 * 224 * 224) };
  await assert.rejects(again.run('m', { input: big }, { timeoutMs: 30 }), (e: Error & { code?: string }) => e.code === 'LANE_CRASHED' && /^the slow-run lane timed out after 30 ms while running m; it was stopped$/.test(e.message));
  assert.equal(again.alive, false);
});

test('process lane: the target environment pins the host; a bad job kind is a typed error', async () => {
  const target = { ...CPU_TARGET, env: { AIVMM_LANE_TEST: 'pinned' } } as typeof CPU_TARGET;
  const lane = await Lane.start({ name: 'env', target, jobModules: [new URL('./echo-job.ts', import.meta.url).href] });
  try {
    assert.deepEqual(await lane.job('env', 'AIVMM_LANE_TEST'), 'pinned');
    const events: unknown[] = [];
    const feeds = everyType();
    const back = await lane.job<Record<string, HostTensor>>('echo', feeds, (e) => events.push(e));
    assert.deepEqual(events, ['echoing']);
    for (const t of TYPES) assert.deepEqual(bytes(back[`in_${t}`]), bytes(feeds[`in_${t}`]), t);
    await assert.rejects(lane.job('nope', {}), (e: Error & { code?: string }) => e.code === 'USAGE' && /unknown job kind 'nope'/.test(e.message));
  } finally {
    await lane.close();
  }
});

test('process lane with instancesConcurrent: each instance on its own thread, same outputs', async () => {
  const lane = await Lane.start({ name: 'multi', target: CPU_TARGET, instancesConcurrent: true });
  try {
    await Promise.all([lane.load('a', mlp), lane.load('b', mlp, { warmup: true })]);
    assert.deepEqual((await lane.stats()).instances.sort(), ['a', 'b']);
    const ref = await inProcess(mlp, { x: x(2) });
    const outs = await Promise.all([lane.run('a', { x: x(2) }), lane.run('b', { x: x(2) })]);
    for (const o of outs) assert.deepEqual(bytes(o.outputs['y']), bytes(ref['y']));
    await lane.unload('a');
    assert.deepEqual((await lane.stats()).instances, ['b']);
  } finally {
    await lane.close();
  }
});

test('a host that dies while starting rejects start() with LANE_CRASHED and its stderr line', async () => {
  await assert.rejects(Lane.start({ name: 'broken', target: CPU_TARGET, jobModules: ['file:///nonexistent/job.js'] }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'LANE_CRASHED');
    assert.match(e.message, /^the broken lane exited \(code 1\) while starting: .*nonexistent/);
    return true;
  });
});

test('crash wording: a SIGSEGV with an instance run in flight names the lane, the signal, the instance and the stderr line', async () => {
  // instances on their own threads, so the run is still computing when the job faults
  const lane = await Lane.start({ name: 'GPU.0 ort-webgpu', target: CPU_TARGET, instancesConcurrent: true, jobModules: [new URL('./echo-job.ts', import.meta.url).href] });
  const exits: LaneExit[] = [];
  lane.on('exit', (e: LaneExit) => exits.push(e));
  await lane.load('resnet', embeddedModel('mobilenetv2-seeded').build());
  const img: HostTensor = { type: 'float32', dims: [8, 3, 224, 224], data: new Float32Array(8 * 3 * 224 * 224) };
  const run = lane.run('resnet', { input: img });
  const job = lane.job('segfault', null);
  for (const p of [run, job]) {
    await assert.rejects(p, (e: Error & { code?: string }) => {
      assert.equal(e.code, 'LANE_CRASHED');
      assert.match(e.message, /^the GPU\.0 ort-webgpu lane exited \(signal SIGSEGV\) while running (resnet|job segfault): fatal: simulated driver fault$/);
      return true;
    });
  }
  assert.equal(exits.length, 1);
  assert.match(exits[0]?.stderrTail ?? '', /simulated driver fault/);
});

test('thread lane: a host stopped mid-run rejects the run with LANE_CRASHED at once, emits exit, and does not abort the process', async () => {
  const lane = await Lane.start({ name: 'cpu-thread', target: CPU_TARGET, host: 'thread' });
  const exits: LaneExit[] = [];
  lane.on('exit', (e: LaneExit) => exits.push(e));
  await lane.load('m', embeddedModel('mobilenetv2-seeded').build());
  const run = lane.run('m', { input: { type: 'float32', dims: [8, 3, 224, 224], data: new Float32Array(8 * 3 * 224 * 224) } });
  setTimeout(() => lane.kill(), 20);
  await assert.rejects(run, (e: Error & { code?: string }) => e.code === 'LANE_CRASHED' && /^the cpu-thread lane exited \(stopped\) while running m/.test(e.message));
  assert.equal(exits.length, 1);
  assert.equal(lane.alive, false);
});
