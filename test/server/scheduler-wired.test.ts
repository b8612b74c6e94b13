/**
 * The priority / fair-share scheduler wired into the server: the model's only instance is held by a job
 * through its real admission queue (so what is queued is deterministic), requests go over real HTTP to
 * real onnxruntime sessions, and the order in which they are answered shows the order they ran in.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServeConfig, type ModelSettings } from '../../src/core/serve/config.js';
import { occupy, postJson, seeded, until, withTiny } from './helpers.js';

const tinyReq = (extra: Record<string, unknown> = {}): unknown => ({ ...extra, inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(3072)) }] });

const config = (yaml: string): Partial<ModelSettings> => {
  const { name: _n, ...own } = parseServeConfig(`models:\n  tiny:\n${yaml}`, 'aivmm.yaml').models[0]!;
  return own;
};

/** Sends `label`'s request and, once answered, appends the label to `order`. */
function send(t: { url: string }, order: string[], label: string, headers: Record<string, string>, body: unknown = tinyReq()): Promise<{ status: number; json: any }> {
  return postJson(`${t.url}/v2/models/tiny/infer`, body, headers).then((r) => {
    order.push(label);
    return r;
  });
}

test('config: Triton-named priority keys are parsed and checked', () => {
  const s = config('    priority_levels: 3\n    default_priority_level: 2\n    priority_queue_policy:\n      1: {max_queue_size: 4, timeout: 200ms, timeout_action: reject}\n      3: {timeout: 1s, timeout_action: delay}\n');
  assert.deepEqual(s.priorities, { levels: 3, defaultLevel: 2, perLevel: { 1: { maxQueue: 4, timeoutMs: 200, timeoutAction: 'reject' }, 3: { timeoutMs: 1000, timeoutAction: 'delay' } } });
  assert.throws(() => config('    priority_levels: 2\n    default_priority_level: 3\n'), /default_priority_level 3 is above priority_levels \(2\)/);
  assert.throws(() => config('    priority_levels: 2\n    priority_queue_policy: {4: {max_queue_size: 1}}\n'), /'4' is not a priority level/);
  assert.throws(() => config('    priority_levels: 2\n    priority_queue_policy: {1: {timeout_action: drop}}\n'), /must be reject or delay/);
  assert.throws(() => config('    priority_levels: 2\n    priority_queue_policy: {1: {max_queue: 1}}\n'), /unknown key 'max_queue'/);
});

test('a high-priority request overtakes the low-priority ones queued before it', { timeout: 60_000 }, async () => {
  await withTiny(config('    priority_levels: 2\n    default_priority_level: 2\n'), async (t) => {
    const stats = () => t.registry.served('tiny')[0]!.queue.stats;
    const busy = await occupy(t.registry, 'tiny');
    const order: string[] = [];
    const sent: Promise<{ status: number }>[] = [];
    for (const [i, label] of ['low-1', 'low-2', 'low-3'].entries()) {
      sent.push(send(t, order, label, { 'aivmm-priority': '2' }));
      await until(() => stats().pending === i + 1, `${label} queued`);
    }
    sent.push(send(t, order, 'high', {}, tinyReq({ parameters: { priority: 1 } })));
    await until(() => stats().pending === 4, 'high queued');
    busy.release();
    await busy.done;
    assert.deepEqual((await Promise.all(sent)).map((r) => r.status), [200, 200, 200, 200]);
    assert.deepEqual(order, ['high', 'low-1', 'low-2', 'low-3']);
    const st = (await (await fetch(`${t.url}/v2/models/tiny/stats`)).json()) as { model_stats: { scheduling: { perLevel: Record<string, { dispatched: number }> } }[] };
    assert.equal(st.model_stats[0]!.scheduling.perLevel['1']!.dispatched, 1);
    assert.equal(st.model_stats[0]!.scheduling.perLevel['2']!.dispatched, 3);
    const bad = await postJson(`${t.url}/v2/models/tiny/infer`, tinyReq(), { 'aivmm-priority': 'urgent' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /invalid priority 'urgent'/);
  });
});

test("a full priority level answers 503 while another level still admits", { timeout: 60_000 }, async () => {
  await withTiny(config('    priority_levels: 2\n    default_priority_level: 2\n    priority_queue_policy: {2: {max_queue_size: 1}}\n'), async (t) => {
    const stats = () => t.registry.served('tiny')[0]!.queue.stats;
    const busy = await occupy(t.registry, 'tiny');
    const order: string[] = [];
    const queued = send(t, order, 'low-1', { 'aivmm-client': 'a' });
    await until(() => stats().pending === 1, 'low-1 queued');
    const refused = await postJson(`${t.url}/v2/models/tiny/infer`, tinyReq(), { 'aivmm-client': 'a' });
    assert.equal(refused.status, 503);
    assert.match(refused.json.error, /priority 2 queue is full \(1 waiting\)/);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    const high = send(t, order, 'high', { 'aivmm-priority': '1', 'aivmm-client': 'a' });
    await until(() => stats().pending === 2, 'high queued');
    busy.release();
    await busy.done;
    assert.equal((await queued).status, 200);
    assert.equal((await high).status, 200);
    assert.deepEqual(order, ['high', 'low-1']);
    assert.equal(stats().rejected, 1);
  });
});

test('past its level timeout (reject) a queued request is dropped before compute: 504, counted as timeout', { timeout: 60_000 }, async () => {
  await withTiny(config('    priority_levels: 2\n    default_priority_level: 2\n    priority_queue_policy: {2: {timeout: 150ms, timeout_action: reject}}\n'), async (t) => {
    const stats = () => t.registry.served('tiny')[0]!.queue.stats;
    const busy = await occupy(t.registry, 'tiny');
    const t0 = performance.now();
    const r = await postJson(`${t.url}/v2/models/tiny/infer`, tinyReq());
    const waited = performance.now() - t0;
    assert.equal(r.status, 504);
    assert.match(r.json.error, /past priority 2's timeout \(150 ms\)/);
    assert.ok(waited >= 140 && waited < 5000, `answered after ${waited} ms`);
    assert.equal(stats().timedOut, 1);
    assert.equal(stats().pending, 0);
    const successBefore = stats().success;
    busy.release();
    await busy.done;
    assert.equal(stats().success, successBefore + 1, 'only the holding job ran; the dropped request never reached the session');
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /aivmm_inference_request_failure_total\{[^}]*reason="timeout"[^}]*\} 1/);
  });
});

test('past its level timeout (delay) a request is demoted behind every level', { timeout: 60_000 }, async () => {
  await withTiny(config('    priority_levels: 3\n    default_priority_level: 2\n    priority_queue_policy: {2: {timeout: 50ms, timeout_action: delay}}\n'), async (t) => {
    const stats = () => t.registry.served('tiny')[0]!.queue.stats;
    const busy = await occupy(t.registry, 'tiny');
    const order: string[] = [];
    const mid = send(t, order, 'mid-delayed', {});
    await until(() => stats().pending === 1, 'mid queued');
    await new Promise((r) => setTimeout(r, 80));
    const low = send(t, order, 'low', { 'aivmm-priority': '3' });
    await until(() => stats().pending === 2, 'low queued');
    busy.release();
    await busy.done;
    assert.equal((await mid).status, 200);
    assert.equal((await low).status, 200);
    assert.deepEqual(order, ['low', 'mid-delayed']);
  });
});

test('fair share: two clients at one level take turns; a flood adds to its own wait', { timeout: 60_000 }, async () => {
  await withTiny({}, async (t) => {
    const stats = () => t.registry.served('tiny')[0]!.queue.stats;
    const busy = await occupy(t.registry, 'tiny');
    const order: string[] = [];
    const sent: Promise<{ status: number }>[] = [];
    let n = 0;
    for (const label of ['a1', 'a2', 'a3', 'a4']) {
      sent.push(send(t, order, label, { 'aivmm-client': 'flood' }));
      const want = ++n;
      await until(() => stats().pending === want, `${label} queued`);
    }
    for (const label of ['b1', 'b2']) {
      sent.push(send(t, order, label, { 'aivmm-client': 'steady' }));
      const want = ++n;
      await until(() => stats().pending === want, `${label} queued`);
    }
    busy.release();
    await busy.done;
    assert.ok((await Promise.all(sent)).every((r) => r.status === 200));
    assert.deepEqual(order, ['a1', 'b1', 'a2', 'b2', 'a3', 'a4']);
  });
});

test('the batcher takes the most urgent waiting requests first', { timeout: 60_000 }, async () => {
  await withTiny(config('    priority_levels: 2\n    default_priority_level: 2\n    dynamic_batching: {max_batch_size: 2, max_queue_delay: 0ms}\n'), async (t) => {
    const v = t.registry.served('tiny')[0]!;
    assert.ok(v.batcher, 'batching is on');
    const busy = await occupy(t.registry, 'tiny'); // the instance is busy: batches wait for it
    const order: string[] = [];
    const sent: Promise<{ status: number }>[] = [];
    // One batch forms at once (the batcher may run one in flight), so wait for it, then queue the rest.
    sent.push(send(t, order, 'first', {}));
    await until(() => v.queue.stats.pending === 1, 'the first batch waits for the instance');
    for (const [i, label] of ['low-1', 'low-2', 'low-3'].entries()) {
      sent.push(send(t, order, label, {}));
      await until(() => v.batcher!.stats().pending === i + 1, `${label} waits for a batch`);
    }
    sent.push(send(t, order, 'high', { 'aivmm-priority': '1' }));
    await until(() => v.batcher!.stats().pending === 4, 'high waits for a batch');
    busy.release();
    await busy.done;
    assert.ok((await Promise.all(sent)).every((r) => r.status === 200));
    // Batches of 2: [first], then [high, low-1], then [low-2, low-3].
    assert.equal(order[0], 'first');
    assert.deepEqual(new Set(order.slice(1, 3)), new Set(['high', 'low-1']));
    assert.deepEqual(new Set(order.slice(3)), new Set(['low-2', 'low-3']));
  });
});
