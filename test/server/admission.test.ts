/**
 * Admission and security over HTTP: a bounded queue answering 503 with Retry-After, client disconnects
 * dropping queued work, the API key, the event stream, and draining on shutdown. The instance is kept
 * busy by a job the test controls (through the model's real admission queue), so the queue states are
 * reached deterministically; everything the client gets is the real server's answer.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { postJson, seeded, startTestServer, tmp, TINY, occupy, until } from './helpers.js';

const tinyReq = { inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(3072)) }] };


async function withTiny<T>(settings: Parameters<typeof startTestServer>[0], fn: (t: Awaited<ReturnType<typeof startTestServer>>) => Promise<T>): Promise<T> {
  const { dir, cleanup } = await tmp();
  await writeFile(join(dir, 'tiny.onnx'), TINY);
  const t = await startTestServer({ ...settings, models: [{ name: 'tiny', path: join(dir, 'tiny.onnx'), ...(settings.models?.[0]?.settings ? { settings: settings.models[0].settings } : {}) }] });
  try {
    return await fn(t);
  } finally {
    await t.close();
    await cleanup();
  }
}

test('a full queue answers 503 with Retry-After; the queued request still completes', async () => {
  await withTiny({ defaults: { maxQueue: 1 } }, async (t) => {
    const stats = () => t.registry.served('tiny')[0]!.queue.stats;
    const busy = await occupy(t.registry, 'tiny');
    const queued = postJson(`${t.url}/v2/models/tiny/infer`, tinyReq);
    await until(() => stats().pending === 1, 'one queued request');
    const refused = await postJson(`${t.url}/v2/models/tiny/infer`, tinyReq);
    assert.equal(refused.status, 503);
    assert.match(refused.json.error, /queue is full \(1 waiting\)/);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.equal(stats().rejected, 1);
    busy.release();
    assert.equal((await queued).status, 200);
    await busy.done;
  });
});

test('a client that goes away while queued is dropped before its request runs', async () => {
  await withTiny({}, async (t) => {
    const stats = () => t.registry.served('tiny')[0]!.queue.stats;
    const busy = await occupy(t.registry, 'tiny');
    const ac = new AbortController();
    const gone = fetch(`${t.url}/v2/models/tiny/infer`, { method: 'POST', body: JSON.stringify(tinyReq), signal: ac.signal }).catch((e: Error) => e.name);
    await until(() => stats().pending === 1, 'the request queued');
    const successBefore = stats().success;
    ac.abort();
    assert.equal(await gone, 'AbortError');
    await until(() => stats().cancelled === 1 && stats().pending === 0, 'the queued request cancelled');
    busy.release();
    await busy.done;
    assert.equal(stats().success, successBefore + 1, 'only the occupying job ran');
  });
});

test('with an API key everything but health needs Authorization: Bearer', async () => {
  await withTiny({ server: { apiKey: 's3cret' } }, async (t) => {
    assert.equal((await fetch(`${t.url}/v2/health/live`)).status, 200);
    assert.equal((await fetch(`${t.url}/v2/health/ready`)).status, 200);
    let r = await fetch(`${t.url}/v2/models/tiny`);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    assert.match(((await r.json()) as { error: string }).error, /missing API key/);
    r = await fetch(`${t.url}/v2/models/tiny`, { headers: { authorization: 'Bearer wrong' } });
    assert.equal(r.status, 401);
    r = await fetch(`${t.url}/v2/models/tiny`, { headers: { authorization: 'Bearer s3cret' } });
    assert.equal(r.status, 200);
    const inf = await postJson(`${t.url}/v2/models/tiny/infer`, tinyReq, { authorization: 'Bearer s3cret' });
    assert.equal(inf.status, 200);
    assert.equal((await postJson(`${t.url}/v2/repository/models/tiny/unload`, {})).status, 401);
  });
});

test('/v1/events streams model state changes as Server-Sent Events', { timeout: 20_000 }, async () => {
  await withTiny({}, async (t) => {
    const ac = new AbortController();
    const r = await fetch(`${t.url}/v1/events`, { signal: ac.signal });
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    const reader = r.body!.getReader();
    let text = '';
    const read = async (re: RegExp): Promise<void> => {
      while (!re.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${re}: ${text}`);
        text += Buffer.from(value).toString();
      }
    };
    await read(/event: hello/);
    assert.equal((await postJson(`${t.url}/v2/repository/models/tiny/unload`, {})).status, 200);
    await read(/"state":"UNAVAILABLE"/);
    assert.equal((await postJson(`${t.url}/v2/repository/models/tiny/load`, {})).status, 200);
    await read(/event: placement/);
    await read(/"state":"READY"/);
    ac.abort();
  });
});

test('shutdown drains: queued work finishes within the drain timeout, later work fails with 503', async () => {
  await withTiny({}, async (t) => {
    const stats = () => t.registry.served('tiny')[0]?.queue.stats;
    let busy = await occupy(t.registry, 'tiny');
    const queued = postJson(`${t.url}/v2/models/tiny/infer`, tinyReq);
    await until(() => stats()?.pending === 1, 'queued');
    const closing = t.server.close(5_000);
    assert.equal((await fetch(`${t.url}/v2/health/ready`).catch(() => ({ status: 503 }))).status, 503);
    busy.release();
    assert.equal((await queued).status, 200, 'the queued request ran during the drain');
    // The client's keep-alive connection must not hold shutdown until the keep-alive timeout (72 s).
    const t0 = Date.now();
    await closing;
    assert.ok(Date.now() - t0 < 10_000, `close took ${Date.now() - t0} ms after the last answer`);
    await busy.done;
    void busy;
  });
});

test('shutdown past the drain timeout fails what is still queued with 503', async () => {
  await withTiny({}, async (t) => {
    const stats = () => t.registry.served('tiny')[0]?.queue.stats;
    const busy = await occupy(t.registry, 'tiny');
    const queued = postJson(`${t.url}/v2/models/tiny/infer`, tinyReq);
    await until(() => stats()?.pending === 1, 'queued');
    const closing = t.server.close(200);
    const r = await queued;
    assert.equal(r.status, 503);
    assert.match(r.json.error, /shutting down/);
    busy.release();
    await closing;
    await busy.done.catch(() => undefined);
  });
});
