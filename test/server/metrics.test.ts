/**
 * GET /metrics on a real server after real traffic over loopback: v2 successes, a bad-shape 400, an
 * unknown model 404 (not counted: no model), a queue-full 503 (failure "rejected"), load/unload events;
 * the key is required unless metricsPublic; and a real Prometheus scrapes the server with the Bearer key
 * and its HTTP API returns the request counter.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createServeMetrics } from '../../src/core/serve-metrics/index.js';
import { METRICS } from '../../src/core/serve-metrics/definitions.js';
import { BIN } from '../helpers/run-cli.js';
import { parseExposition, type Family } from '../helpers/prom-text.js';
import { prometheus, skipUnless, startPrometheus, until as untilAsync } from '../helpers/prometheus.js';
import { postJson, seeded, spawnServe, startTestServer, tmp, TINY, occupy, until } from './helpers.js';

const KEY = 'metrics-test-key-4242';
const good = { name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(3072)) };
const batch2 = { name: 'input', shape: [2, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(6144)) };


const value = (f: Family | undefined, labels: Record<string, string>, name = f?.name): number | undefined =>
  f?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

async function withServer<T>(opts: { metricsPublic?: boolean }, fn: (t: Awaited<ReturnType<typeof startTestServer>>, auth: Record<string, string>) => Promise<T>): Promise<T> {
  const { dir, cleanup } = await tmp();
  await writeFile(join(dir, 'tiny.onnx'), TINY);
  const metrics = createServeMetrics();
  const t = await startTestServer({ defaults: { maxQueue: 1 }, models: [{ name: 'tiny', path: join(dir, 'tiny.onnx') }], server: { apiKey: KEY, metrics, statsIntervalMs: 50, ...opts } });
  try {
    return await fn(t, { authorization: `Bearer ${KEY}` });
  } finally {
    await t.close();
    await cleanup();
  }
}

async function traffic(t: Awaited<ReturnType<typeof startTestServer>>, auth: Record<string, string>): Promise<void> {
  const infer = (inputs: unknown[], model = 'tiny') => postJson(`${t.url}/v2/models/${model}/infer`, { inputs }, auth);
  for (let i = 0; i < 3; i++) assert.equal((await infer([good])).status, 200);
  assert.equal((await infer([batch2])).status, 200);
  assert.equal((await infer([{ ...good, shape: [1, 3, 224, 224] }])).status, 400);
  assert.equal((await infer([good], 'nope')).status, 404);
  // the queue full: one running (held), one waiting, the third refused
  const stats = () => t.registry.served('tiny')[0]!.queue.stats;
  const busy = await occupy(t.registry, 'tiny');
  const queued = infer([good]);
  await until(() => stats().pending === 1, 'one queued request');
  await untilAsync('pending 1 in /metrics', async () => {
    const f = parseExposition(await (await fetch(`${t.url}/metrics`, { headers: auth })).text());
    return value(f.get('aivmm_inference_pending_requests'), { model: 'tiny', version: '1' }) === 1 ? true : undefined;
  }, 10_000);
  assert.equal((await infer([good])).status, 503);
  busy.release();
  assert.equal((await queued).status, 200);
  await busy.done;
}

test('GET /metrics after real traffic: the documented series with the right counts and labels; the key is required', async () => {
  await withServer({}, async (t, auth) => {
    await traffic(t, auth);
    assert.equal((await fetch(`${t.url}/metrics`)).status, 401, 'no key, no metrics');
    const r = await fetch(`${t.url}/metrics`, { headers: auth });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const fams = parseExposition(await r.text());
    const mv = { model: 'tiny', version: '1' };
    // every family the server exports is a documented one
    const documented = new Set(METRICS.map((m) => m.name));
    for (const name of fams.keys()) assert.ok(documented.has(name), `${name} is not in docs (definitions.ts)`);
    assert.equal(value(fams.get('aivmm_inference_request_success_total'), mv), 5);
    assert.equal(value(fams.get('aivmm_inference_request_failure_total'), { ...mv, reason: 'bad_input' }), 1);
    assert.equal(value(fams.get('aivmm_inference_request_failure_total'), { ...mv, reason: 'rejected' }), 1);
    assert.equal(fams.get('aivmm_inference_request_failure_total')!.samples.filter((s) => s.labels.model === 'nope').length, 0, 'an unknown model is not a series');
    assert.equal(value(fams.get('aivmm_inference_count_total'), mv), 6, 'four batch-1 requests and one of batch 2');
    assert.equal(value(fams.get('aivmm_inference_exec_count_total'), mv), 5);
    const bs = fams.get('aivmm_inference_batch_size');
    assert.equal(value(bs, mv, 'aivmm_inference_batch_size_count'), 5);
    assert.equal(value(bs, mv, 'aivmm_inference_batch_size_sum'), 6);
    const req = fams.get('aivmm_inference_request_duration_seconds');
    assert.equal(value(req, mv, 'aivmm_inference_request_duration_seconds_count'), 7, 'successes and failures');
    assert.ok(value(req, mv, 'aivmm_inference_request_duration_seconds_sum')! > 0);
    const inferH = fams.get('aivmm_inference_compute_infer_duration_seconds');
    assert.equal(value(inferH, mv, 'aivmm_inference_compute_infer_duration_seconds_count'), 5, 'only requests that ran');
    assert.ok(value(inferH, mv, 'aivmm_inference_compute_infer_duration_seconds_sum')! > 0);
    assert.equal(value(fams.get('aivmm_inference_compute_input_duration_seconds'), mv, 'aivmm_inference_compute_input_duration_seconds_count'), 5);
    assert.equal(value(fams.get('aivmm_model_load_events_total'), { ...mv, event: 'load' }), 1);
    await untilAsync('pending back to 0 in /metrics', async () => {
      const f = parseExposition(await (await fetch(`${t.url}/metrics`, { headers: auth })).text());
      return value(f.get('aivmm_inference_pending_requests'), mv) === 0 ? true : undefined;
    }, 10_000);

    // unloading: the version's request series go, the unload is counted
    await t.registry.unload('tiny');
    await untilAsync('the unload in /metrics', async () => {
      const f = parseExposition(await (await fetch(`${t.url}/metrics`, { headers: auth })).text());
      return value(f.get('aivmm_model_load_events_total'), { ...mv, event: 'unload' }) === 1 && value(f.get('aivmm_inference_request_success_total'), mv) === undefined ? true : undefined;
    }, 10_000);
  });
});

test('metricsPublic: GET /metrics without the key, everything else still needs it', async () => {
  await withServer({ metricsPublic: true }, async (t) => {
    assert.equal((await fetch(`${t.url}/metrics`)).status, 200);
    assert.equal((await fetch(`${t.url}/v2/models/tiny`)).status, 401);
    assert.equal((await fetch(`${t.url}/v2/models/stats`)).status, 401);
  });
});

test('a real Prometheus scrapes the server with the Bearer key; its API returns the request counter after traffic', { skip: skipUnless(prometheus, 'prometheus'), timeout: 180_000 }, async () => {
  await withServer({}, async (t, auth) => {
    await traffic(t, auth);
    const prom = await startPrometheus({ target: `127.0.0.1:${t.server.port}`, key: KEY });
    try {
      const success = await untilAsync('the request counter in Prometheus', async () => {
        const r = await prom.query('aivmm_inference_request_success_total');
        return r.data?.result.length ? r.data.result : undefined;
      });
      assert.deepEqual(success.map((s) => [s.metric.model, s.metric.version, s.metric.job, s.value[1]]), [['tiny', '1', 'aivmm', '5']]);
      const failure = (await prom.query('aivmm_inference_request_failure_total')).data!.result;
      assert.deepEqual(failure.map((s) => [s.metric.reason, s.value[1]]).sort(), [['bad_input', '1'], ['rejected', '1']]);
      assert.equal((await prom.query('up{job="aivmm"}')).data!.result[0]!.value[1], '1');
      // more traffic shows up in the next scrapes
      for (let i = 0; i < 2; i++) await postJson(`${t.url}/v2/models/tiny/infer`, { inputs: [good] }, auth);
      await untilAsync('the new counter value', async () => ((await prom.query('aivmm_inference_request_success_total')).data?.result[0]?.value[1] === '7' ? true : undefined));
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\nprometheus log:\n${prom.log().slice(-2000)}`);
    } finally {
      await prom.stop();
    }
  });
});

test('aivmm serve logs JSON lines on stderr: lifecycle at info, one per request at debug; the API key never appears', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tmp();
  const serve = spawnServe(BIN, ['tiny-convnet', '--port', '0', '--json', '--api-key', KEY, '--log-level', 'debug', '--telemetry-interval', '1s'], { ...process.env, AIVMM_CACHE_DIR: dir });
  const { child, exited } = serve;
  try {
    const line = await serve.ready;
    const url = (JSON.parse(line) as { data: { url: string } }).data.url;
    const auth = { authorization: `Bearer ${KEY}` };
    assert.equal((await postJson(`${url}/v2/models/tiny-convnet/infer`, { inputs: [good] }, auth)).status, 200);
    assert.equal((await postJson(`${url}/v2/models/tiny-convnet/infer`, { inputs: [good] }, { authorization: `Bearer ${KEY}-wrong` })).status, 401);
    const text = await untilAsync('a device sample and the request in /metrics', async () => {
      const t = await (await fetch(`${url}/metrics`, { headers: auth })).text();
      return /aivmm_device_info\{device="CPU"/.test(t) && /aivmm_inference_request_success_total\{model="tiny-convnet",version="1"\} 1/.test(t) ? t : undefined;
    }, 30_000);
    assert.match(text, /aivmm_model_load_events_total\{model="tiny-convnet",version="1",event="load"\} 1/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, serve.stderr());
    const json = serve.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const lifecycle = json.filter((j) => j.event !== undefined && j.level === 30).map((j) => [j.event, j.state ?? j.msg]);
    assert.deepEqual(lifecycle.filter(([e]) => e === 'start' || e === 'drain' || e === 'stopped').map(([e]) => e), ['start', 'drain', 'stopped']);
    assert.ok(lifecycle.some(([e, st]) => e === 'model' && st === 'READY'), JSON.stringify(lifecycle));
    const requests = json.filter((j) => j.msg === 'request' && j.level === 20);
    assert.deepEqual(requests.filter((r) => String(r.url).endsWith('/infer')).map((r) => r.status), [200, 401]);
    assert.ok(!serve.stderr().includes(KEY), 'the API key is not in the logs');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await cleanup();
  }
});
