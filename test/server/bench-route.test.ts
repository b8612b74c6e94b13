/**
 * Bench from the browser, over real HTTP on 127.0.0.1: POST /v1/bench runs core's runBench with each
 * (device, backend) pair in a fresh process lane (the runtime's bench-pair job), one run at a time (409),
 * progress on /v1/events, results saved under the cache dir in the CLI's --save format, listed, and two
 * saved runs compared with the CLI gate's rule: a model that became ~10× slower under the same name is
 * reported as regressed. Bad input is a 400/404 JSON error with a code.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readBaseline } from '../../src/core/bench/index.js';
import { listDevices, nodeHost } from '../../src/core/devices/index.js';
import { resolveModel } from '../../src/core/hub/resolve-model.js';
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
import { BenchService, benchModelResolver } from '../../src/server/routes/bench.js';
import { postJson, seeded, startTestServer, tmp, TINY, until, type TestServer } from './helpers.js';

/**
 * x[1,16,512] through 24 MatMuls with one shared 512×512 weight: ≈ 100 M multiply-adds a run, some 20–100×
 * tiny-convnet's time, so the gate's "regressed" holds even when one of a run's processes is slowed by
 * the machine (CI's 2-core runners: with a ~4× slower model a 3 vs 3 comparison was once "too noisy").
 */
function slowModel(): Uint8Array {
  const b = new GraphBuilder(1);
  let x = b.input({ name: 'x', dataType: 'float32', shape: [1, 16, 512] });
  const w = b.constant('w', [512, 512], seeded(512 * 512, 1).map((v) => v * 0.04));
  for (let i = 0; i < 24; i++) x = b.op('MatMul', [x, w]);
  b.op('Identity', [x], [], 'y');
  b.output({ name: 'y', dataType: 'float32', shape: [1, 16, 512] });
  return encodeModel({ producerName: 'aivmm-test', producerVersion: '1', graph: b.graph('slow') });
}

let t: TestServer;
let bench: BenchService;
let dir: string;
let cleanup: () => Promise<void>;
/** What the served name 'm' points at: the test swaps the file between runs, as a redeploy would. */
const served = new Map<string, string>();
const events: any[] = [];
let stopEvents: AbortController;

before(async () => {
  const d = await tmp('aivmm-bench-route-');
  dir = d.dir;
  cleanup = d.cleanup;
  await writeFile(join(dir, 'tiny.onnx'), TINY);
  await writeFile(join(dir, 'slow.onnx'), slowModel());
  served.set('m', join(dir, 'tiny.onnx'));
  served.set('tiny', join(dir, 'tiny.onnx'));
  const cacheDir = join(dir, 'cache');
  bench = new BenchService({
    cacheDir,
    devices: () => listDevices({ host: nodeHost(process.env), cacheDir }),
    resolveModel: benchModelResolver({ served: (n) => served.get(n), resolve: (n) => resolveModel(n, cacheDir, join(dir, 'no-cwd')) }),
    publish: (e) => t.server.events.publish(e),
    aivmmVersion: 'test',
  });
  t = await startTestServer({ models: [{ name: 'tiny', path: join(dir, 'tiny.onnx') }], server: { bench, statsIntervalMs: 200 } });
  // the event stream, read as the dashboard reads it
  stopEvents = new AbortController();
  const res = await fetch(`${t.url}/v1/events`, { signal: stopEvents.signal });
  void (async () => {
    let buf = '';
    const dec = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = frame.split('\n').find((l) => l.startsWith('data: '));
          if (data) events.push(JSON.parse(data.slice(6)));
        }
      }
    } catch {
      // aborted at the end
    }
  })();
});

after(async () => {
  stopEvents?.abort();
  await bench?.close();
  await t?.close();
  await cleanup?.();
});

async function finished(id: string): Promise<any> {
  const t0 = Date.now();
  for (;;) {
    const r = await fetch(`${t.url}/v1/bench/${id}`);
    assert.equal(r.status, 200);
    const v = (await r.json()) as any;
    if (v.state !== 'running') return v;
    if (Date.now() - t0 > 120_000) throw new Error(`bench ${id} still running`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

test('bad input is a 400 (or 404) JSON error with a code, and nothing starts', async () => {
  const cases: [unknown, number, RegExp][] = [
    [{}, 400, /model/],
    [{ model: 'tiny', batch: 0 }, 400, /batch/],
    [{ model: 'tiny', duration: 'fast' }, 400, /duration/],
    [{ model: 'tiny', duration: 1000 }, 400, /out of range/],
    [{ model: 'tiny', devices: ['GPU;rm'] }, 400, /devices/],
    [{ model: 'tiny', extra: 1 }, 400, /additional/],
    [{ model: '../tiny.onnx' }, 400, /file path/],
    [{ model: 'no-such-model' }, 404, /not served, cached or an alias/],
    [{ model: 'tiny', devices: ['GPU.7'] }, 404, /GPU\.7 not found/],
    ['{"model": ', 400, /malformed JSON/],
  ];
  for (const [body, status, re] of cases) {
    const r = await postJson(`${t.url}/v1/bench`, body);
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
    assert.match(r.json.error, re, JSON.stringify(body));
    assert.ok(typeof r.json.code === 'string', JSON.stringify(r.json));
  }
  assert.equal(bench.running, undefined);
  for (const path of ['/v1/bench/nope', '/v1/bench/20261202T000000Z-abcdef', '/v1/bench/compare?baseline=x&current=y']) {
    const r = await fetch(`${t.url}${path}`);
    assert.ok(r.status === 400 || r.status === 404, `${path}: ${r.status}`);
    assert.ok(((await r.json()) as any).code, path);
  }
});

test('a run: 202, a second is refused with 409 while it runs, progress on /v1/events, saved in the CLI format', { timeout: 180_000 }, async () => {
  const r = await postJson(`${t.url}/v1/bench`, { model: 'tiny', devices: ['CPU'], backends: ['ort-cpu'], batch: 1, duration: 0.3 });
  assert.equal(r.status, 202, JSON.stringify(r.json));
  assert.equal(r.json.state, 'running');
  const id = r.json.id as string;
  assert.equal(r.headers.get('location'), `/v1/bench/${id}`);
  const busy = await postJson(`${t.url}/v1/bench`, { model: 'tiny' });
  assert.equal(busy.status, 409, JSON.stringify(busy.json));
  assert.match(busy.json.error, /already running/);
  const v = await finished(id);
  assert.equal(v.state, 'done', JSON.stringify(v.error ?? v.failed));
  assert.equal(v.rows.length, 1);
  const row = v.rows[0];
  assert.equal(row.device, 'CPU');
  assert.equal(row.backend, 'ort-cpu');
  assert.equal(row.speedupVsCpu, 1);
  assert.ok(row.p50 > 0 && row.p99 >= row.p50, JSON.stringify(row));
  assert.ok(v.report.rows[0].samples.length >= 20);
  // progress went out on the event stream while it ran, then the end (the stream is another connection than
  // the GET that said 'done': its last frame can arrive after that answer, so it is waited for)
  await until(() => events.some((e) => e.type === 'bench' && e.id === id && e.state !== 'running'), 'the end of the run on /v1/events');
  const mine = events.filter((e) => e.type === 'bench' && e.id === id);
  assert.ok(mine.some((e) => e.state === 'running' && e.progress?.phase === 'measure' && e.progress.fraction > 0), JSON.stringify(mine.map((e) => e.progress)));
  assert.equal(mine.at(-1)?.state, 'done');
  assert.equal(mine.at(-1)?.rows.length, 1);
  // the saved file is the CLI's --save envelope: `aivmm bench --baseline` reads it
  const file = join(dir, 'cache', 'bench-runs', `${id}.json`);
  assert.equal(JSON.parse(await readFile(file, 'utf8')).schema, 'aivmm/bench@1');
  assert.equal((await readBaseline(file)).rows[0]?.model, 'tiny');
  const list = (await (await fetch(`${t.url}/v1/bench`)).json()) as any;
  assert.equal(list.running, undefined);
  assert.ok(list.runs.some((x: any) => x.id === id && x.rows.length === 1));
});

test('compare: the same served name, now a ~10× slower model, is a regression by the CLI gate rule', { timeout: 300_000 }, async () => {
  const run = async (): Promise<string> => {
    const r = await postJson(`${t.url}/v1/bench`, { model: 'm', devices: ['CPU'], backends: ['ort-cpu'], duration: 0.5, repeat: 3 });
    assert.equal(r.status, 202, JSON.stringify(r.json));
    const v = await finished(r.json.id);
    assert.equal(v.state, 'done', JSON.stringify(v.error ?? v.failed));
    return v.id;
  };
  const before = await run();
  served.set('m', join(dir, 'slow.onnx'));
  const after = await run();
  const c = await fetch(`${t.url}/v1/bench/compare?baseline=${before}&current=${after}&maxRegression=0.05`);
  const body = (await c.json()) as any;
  assert.equal(c.status, 200, JSON.stringify(body));
  assert.equal(body.gate.matched, 1);
  assert.equal(body.gate.regressed, 1, JSON.stringify(body.gate.rows));
  assert.equal(body.gate.rows[0].comparison.verdict, 'regressed');
  assert.ok(body.gate.rows[0].comparison.ratio > 2, JSON.stringify(body.gate.rows[0].comparison));
  // reversed, the same pair is an improvement
  const back = (await (await fetch(`${t.url}/v1/bench/compare?baseline=${after}&current=${before}`)).json()) as any;
  assert.equal(back.gate.improved, 1, JSON.stringify(back.gate.rows));
  // a run measured in another mode is refused, as the CLI refuses it
  const r = await postJson(`${t.url}/v1/bench`, { model: 'm', devices: ['CPU'], backends: ['ort-cpu'], duration: 0.2, repeat: 3 });
  const other = (await finished(r.json.id)).id;
  const refused = await fetch(`${t.url}/v1/bench/compare?baseline=${before}&current=${other}`);
  assert.equal(refused.status, 400);
  assert.match(((await refused.json()) as any).error, /different modes/);
});

test('DELETE cancels the running benchmark: it ends soon as cancelled, and the slot is free again', { timeout: 120_000 }, async () => {
  const r = await postJson(`${t.url}/v1/bench`, { model: 'tiny', devices: ['CPU'], backends: ['ort-cpu'], duration: 60 });
  assert.equal(r.status, 202, JSON.stringify(r.json));
  const t0 = Date.now();
  // cancel once it measures, so the cancel reaches the worker's timed loop
  while (!events.some((e) => e.type === 'bench' && e.id === r.json.id && e.progress?.phase === 'measure')) await new Promise((res) => setTimeout(res, 50));
  const d = await fetch(`${t.url}/v1/bench/${r.json.id}`, { method: 'DELETE' });
  assert.equal(d.status, 202);
  const v = await finished(r.json.id);
  assert.equal(v.state, 'cancelled');
  assert.ok(Date.now() - t0 < 50_000, `took ${Date.now() - t0} ms for a 60 s row`);
  assert.equal(bench.running, undefined);
  const again = await fetch(`${t.url}/v1/bench/${r.json.id}`, { method: 'DELETE' });
  assert.equal(again.status, 404);
});

test('the OpenAPI document lists the bench routes with their body schema', async () => {
  const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as any;
  assert.ok(doc.paths['/v1/bench'].post.requestBody.content['application/json'].schema.properties.devices);
  assert.ok(doc.paths['/v1/bench/{id}'].get);
  assert.ok(doc.paths['/v1/bench/compare'].get.parameters.some((p: any) => p.name === 'maxRegression'));
  assert.ok(doc.paths['/v1/bench'].post.responses['409']);
});
