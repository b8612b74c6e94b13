/**
 * Shedding under overload (issue #17): a refused request carries Retry-After computed from its level's
 * predicted wait (the real AdmissionQueue, with jobs that report their compute time), and over real HTTP a
 * request whose level is full is answered 503 + Retry-After from its headers alone, before its body is
 * read — also on the batcher's path, which sent no Retry-After with several levels before.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { parseServeConfig, type ModelSettings } from '../../src/core/serve/config.js';
import { QueueFullError } from '../../src/core/serve/errors.js';
import { AdmissionQueue } from '../../src/core/serve/queue.js';
import { occupy, postJson, seeded, until, withTiny } from './helpers.js';

const tinyReq = (extra: Record<string, unknown> = {}): unknown => ({ ...extra, inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(3072)) }] });

const config = (yaml: string): Partial<ModelSettings> => {
  const { name: _n, ...own } = parseServeConfig(`models:\n  tiny:\n${yaml}`, 'aivmm.yaml').models[0]!;
  return own;
};

/** A job the test releases; it reports `computeMs` of compute. */
function gated(computeMs: number): { job: () => Promise<{ value: undefined; computeMs: number }>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  return { job: async () => (await gate, { value: undefined, computeMs }), release };
}

test("Retry-After is the refused request's level wait: levels up to its own × mean compute ÷ instances, rounded up", async () => {
  const q = new AdmissionQueue({ instances: ['a'], maxQueue: 100, clock: () => 0, scheduler: { levels: 3, defaultLevel: 2, perLevel: { 1: { maxQueue: 4 }, 2: { maxQueue: 3 } }, fallback: { maxQueue: 100, timeoutAction: 'reject' } } });
  await q.run(async () => ({ value: undefined, computeMs: 400 })); // mean compute 400 ms
  const busy = gated(400);
  const running = q.run(busy.job);
  const waiting: Promise<unknown>[] = [];
  for (let i = 0; i < 2; i++) waiting.push(q.run(gated(400).job, { priority: 1, client: 'h' }));
  for (let i = 0; i < 3; i++) waiting.push(q.run(async () => ({ value: undefined, computeMs: 400 }), { priority: 2, client: 'a' }));
  for (let i = 0; i < 4; i++) waiting.push(q.run(async () => ({ value: undefined, computeMs: 400 }), { priority: 3, client: 'z' }));
  // Level 2 is full: 2 + 3 requests ahead, itself: 6 × 400 ms = 2.4 s → 3; level 3 (never full here) waits behind 9 → 4.
  assert.equal(q.retryAfterS(2), 3);
  assert.equal(q.retryAfterS(3), 4);
  assert.equal(q.retryAfterS(1), 2, '2 ahead + itself: 1.2 s → 2');
  await assert.rejects(q.run(async () => ({ value: undefined, computeMs: 1 }), { priority: 2, client: 'a' }), (e: QueueFullError) => e instanceof QueueFullError && e.retryAfterS === 3 && /priority 2 queue is full \(3 waiting\)/.test(e.message));
  // Asked before the body is read: the same refusal, counted; a level with room, or a client a fair share would admit, is not refused.
  const early = q.refuseEarly({ priority: 2, client: 'a' });
  assert.ok(early instanceof QueueFullError);
  assert.equal(early.retryAfterS, 3);
  assert.equal(early.status, 503);
  assert.equal(q.refuseEarly({ priority: 1, client: 'h' }), undefined);
  assert.equal(q.refuseEarly({ priority: 2, client: 'newcomer' }), undefined, 'a holds 3, a newcomer 0: it would evict');
  assert.equal(q.stats.rejected, 2);
  assert.equal(q.schedulerStats().perLevel[2]!.rejected, 2);
  busy.release();
  await running;
});

test('the first request, with nothing queued, is never refused early (a free instance takes it)', () => {
  const q = new AdmissionQueue({ instances: ['a'], maxQueue: 0 });
  assert.equal(q.refuseEarly({}), undefined);
});

/** POST over one keep-alive socket; resolves with status, Retry-After, body and whether the socket was reused. */
function rawPost(agent: http.Agent, url: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; retryAfter: string | undefined; json: any; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, json: JSON.parse(Buffer.concat(chunks).toString('utf8')), reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a full level is refused from the headers, before the body is read: 503 + Retry-After, counted; the connection is kept', { timeout: 60_000 }, async () => {
  await withTiny(config('    priority_levels: 2\n    default_priority_level: 2\n    priority_queue_policy: {2: {max_queue_size: 1}}\n'), async (t) => {
    const v = t.registry.served('tiny')[0]!;
    const busy = await occupy(t.registry, 'tiny');
    const queued = postJson(`${t.url}/v2/models/tiny/infer`, tinyReq(), { 'aivmm-client': 'a' });
    await until(() => v.queue.stats.pending === 1, 'one low request queued');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // Not JSON at all, and 2 MB: a body that was parsed would be a 400. Its level is full, so it never is.
      const junk = Buffer.alloc(2 << 20, 0x7b);
      const url = `${t.url}/v2/models/tiny/infer`;
      const a = await rawPost(agent, url, junk, { 'aivmm-priority': '2', 'aivmm-client': 'a' });
      assert.equal(a.status, 503);
      assert.match(a.json.error, /priority 2 queue is full \(1 waiting\)/);
      assert.equal(a.json.code, 'BACKEND_UNAVAILABLE');
      assert.ok(Number(a.retryAfter) >= 1 && Number.isInteger(Number(a.retryAfter)), `Retry-After ${a.retryAfter}`);
      // The same socket answers the next request (the unread body was drained, not left in the stream).
      const b = await rawPost(agent, url, junk, { 'aivmm-priority': '2', 'aivmm-client': 'a' });
      assert.equal(b.status, 503);
      assert.equal(b.reused, true, 'the keep-alive connection was reused');
      // Without the header the priority could be in the body: it is read, and this one is not JSON (400).
      const c = await rawPost(agent, url, Buffer.from('{not json'), { 'aivmm-client': 'a' });
      assert.equal(c.status, 400);
      // A level with room is not refused early (an invalid priority header is the handler's 400).
      const bad = await postJson(url, tinyReq(), { 'aivmm-priority': 'urgent' });
      assert.equal(bad.status, 400);
      const high = postJson(url, tinyReq(), { 'aivmm-priority': '1' });
      await until(() => v.queue.stats.pending === 2, 'the high request queued');
      assert.equal(v.queue.stats.rejected, 2);
      assert.equal(v.queue.schedulerStats().perLevel[2]!.rejected, 2);
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      assert.match(metrics, /aivmm_inference_request_failure_total\{[^}]*reason="rejected"[^}]*\} 2/);
      busy.release();
      await busy.done;
      assert.equal((await queued).status, 200);
      assert.equal((await high).status, 200);
    } finally {
      agent.destroy();
    }
  });
});

test('with batching and priority levels, a full level is a 503 with Retry-After on both paths (header: early; body priority: late)', { timeout: 60_000 }, async () => {
  await withTiny(config('    priority_levels: 2\n    default_priority_level: 2\n    priority_queue_policy: {2: {max_queue_size: 1}}\n    dynamic_batching: {max_batch_size: 2, max_queue_delay: 0ms}\n'), async (t) => {
    const v = t.registry.served('tiny')[0]!;
    const busy = await occupy(t.registry, 'tiny');
    const url = `${t.url}/v2/models/tiny/infer`;
    const first = postJson(url, tinyReq(), { 'aivmm-client': 'a' });
    await until(() => v.queue.stats.pending === 1, 'the first batch waits for the instance');
    const second = postJson(url, tinyReq(), { 'aivmm-client': 'a' });
    await until(() => v.batcher!.stats().pending === 1, 'the second waits for a batch');
    const early = await postJson(url, tinyReq(), { 'aivmm-client': 'a', 'aivmm-priority': '2' });
    const late = await postJson(url, tinyReq({ parameters: { priority: 2 } }), { 'aivmm-client': 'a' });
    for (const r of [early, late]) {
      assert.equal(r.status, 503);
      assert.match(r.json.error, /priority 2 queue is full \(1 waiting\)/);
      assert.ok(Number(r.headers.get('retry-after')) >= 1, `Retry-After ${r.headers.get('retry-after')}`);
    }
    assert.equal(v.batcher!.schedulerStats().perLevel[2]!.rejected, 2);
    busy.release();
    await busy.done;
    assert.equal((await first).status, 200);
    assert.equal((await second).status, 200);
  });
});
