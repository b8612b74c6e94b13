/**
 * `aivmm bench --server` against a real aivmm server on loopback (real sessions): a concurrency sweep,
 * rate mode, error counting, the gate; plus the Poisson schedule's statistics and the header parsers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_LOAD, fetchClient, gateServer, measurePoint, parseRate, retryAfterMsOf, parseServerTiming, parseStats, poissonIntervals, type ServerBenchReport } from '../../src/core/bench/server-load.js';
import { runCli } from '../helpers/run-cli.js';
import { startTestServer, tmp, TINY, type TestServer } from './helpers.js';

const schema = JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/schemas/bench-server-1.schema.json', import.meta.url)), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

let t: TestServer;
let dir: string;
let cleanup: () => Promise<void>;
before(async () => {
  ({ dir, cleanup } = await tmp());
  await writeFile(join(dir, 'tiny.onnx'), TINY);
  t = await startTestServer({ models: [{ name: 'tiny', path: join(dir, 'tiny.onnx') }] });
});
after(async () => {
  await t.close();
  await cleanup();
});

const quick = ['--window', '250ms', '--max-windows', '4', '--warmup', '100ms'];

test('Poisson arrivals: mean inter-arrival 1/λ and CV 1 over many seeded draws', () => {
  for (const rate of [5, 200]) {
    const next = poissonIntervals(rate, 7);
    const xs = Array.from({ length: 20_000 }, next);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
    assert.ok(Math.abs(mean / (1000 / rate) - 1) < 0.03, `mean ${mean} ms at ${rate}/s`);
    assert.ok(Math.abs(sd / mean - 1) < 0.05, `CV ${sd / mean}: an exponential distribution has CV 1`);
    assert.ok(xs.every((x) => x >= 0 && Number.isFinite(x)));
  }
  assert.deepEqual(Array.from({ length: 5 }, poissonIntervals(10, 3)), Array.from({ length: 5 }, poissonIntervals(10, 3)), 'seeded: the same schedule');
});

test('parsers: rates, Server-Timing, aivmm and Triton statistics', () => {
  assert.equal(parseRate('200/s'), 200);
  assert.equal(parseRate('600/min'), 10);
  assert.equal(parseRate('2.5'), 2.5);
  assert.throws(() => parseRate('fast'), /invalid --rate/);
  assert.throws(() => parseRate('0/s'), /invalid --rate/);
  assert.deepEqual(parseServerTiming('queue;dur=1.5, compute;dur=3.25, overhead;dur=0.1'), { queueMs: 1.5, computeMs: 3.25, overheadMs: 0.1 });
  assert.equal(parseServerTiming('cache;desc="hit"'), undefined);
  assert.deepEqual(parseStats({ model_stats: [{ inference_stats: { success: 4, queueMs: 2, computeMs: 8 } }] }), { success: 4, queueMs: 2, computeMs: 8 });
  const triton = { model_stats: [{ name: 'm', inference_stats: { success: { count: 10, ns: 9e7 }, queue: { count: 10, ns: 1e7 }, compute_input: { count: 10, ns: 1e6 }, compute_infer: { count: 10, ns: 5e7 }, compute_output: { count: 10, ns: 1e6 } } }] };
  assert.deepEqual(parseStats(triton), { success: 10, queueMs: 10, computeMs: 52 });
  assert.equal(parseStats({}), undefined);
});

test('concurrency sweep 1,2 against the real server: stats, throughput, the server split, schema', { timeout: 120_000 }, async () => {
  const r = await runCli(['bench', '--server', t.url, '--model', 'tiny', '--concurrency', '1,2', ...quick, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { schema: string; data: ServerBenchReport };
  assert.ok(validate(doc), ajv.errorsText(validate.errors));
  assert.equal(doc.schema, 'aivmm/bench-server@1');
  const d = doc.data;
  assert.equal(d.server.name, 'aivmm');
  assert.deepEqual(d.request.inputs, [{ name: 'input', datatype: 'FP32', shape: [1, 3, 32, 32] }]);
  assert.equal(d.request.binary, true);
  assert.deepEqual(d.points.map((p) => [p.mode, p.concurrency]), [['concurrency', 1], ['concurrency', 2]]);
  for (const p of d.points) {
    assert.ok(p.requests > 0 && p.stats !== null && p.samples.length === p.requests, p.key);
    assert.deepEqual(p.errors, {});
    assert.ok(p.stats.p50 > 0 && p.stats.p50 <= p.stats.p99);
    assert.ok(p.throughput.requestsPerSec > 0);
    assert.ok(p.windows >= 3 && p.windows <= 4);
    // Every answer of aivmm carries Server-Timing; the statistics deltas count at least the reported requests.
    assert.equal(p.serverTiming?.n, p.requests);
    assert.ok((p.serverTiming?.computeMs ?? 0) > 0);
    assert.ok((p.serverStats?.requests ?? 0) >= p.requests, JSON.stringify(p.serverStats));
    // Client latency includes the server's compute.
    assert.ok(p.stats.p50 >= (p.serverTiming?.computeMs ?? 0) * 0.5);
  }
  // The server counted exactly what the client sent: the load generator's successes are real inferences.
  const stats = parseStats(await (await fetch(`${t.url}/v2/models/tiny/stats`)).json());
  assert.ok((stats?.success ?? 0) >= d.points.reduce((a, p) => a + p.requests, 0));
});

test('rate mode: Poisson arrivals at a small rate, throughput near the rate, JSON tensors, md and csv', { timeout: 120_000 }, async () => {
  const r = await runCli(['bench', '--server', t.url, '--model', 'tiny', '--rate', '20/s', '--window', '2s', '--max-windows', '5', '--warmup', '200ms', '--stability', '30%', '--json-data', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { data: ServerBenchReport };
  assert.ok(validate(doc), ajv.errorsText(validate.errors));
  const p = doc.data.points[0]!;
  assert.equal(doc.data.request.binary, false);
  assert.equal(p.mode, 'rate');
  assert.equal(p.rate, 20);
  // 3 windows of 2 s at 20/s: ~120 arrivals, Poisson sd ≈ 11; the server is far from saturated. (At 40/s a loaded
  // 2-core machine could not keep up, with the load generator and the server in this one process: 23.7 req/s.)
  assert.ok(p.throughput.requestsPerSec > 12.5 && p.throughput.requestsPerSec < 27.5, `${p.throughput.requestsPerSec} req/s`);
  assert.ok(typeof p.maxInFlight === 'number' && p.maxInFlight >= 1);

  const md = await runCli(['bench', '--server', t.url, '--rate', '20/s', ...quick, '--stability', '50%', '--format', 'md']);
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /### aivmm bench --server: tiny/); // the only served model, chosen from the index
  assert.match(md.stdout, /\| 20\.0\/s \| [\d.]+ \|/);
  const csv = await runCli(['bench', '--server', t.url, '--model', 'tiny', '--concurrency', '1', ...quick, '--format', 'csv']);
  assert.equal(csv.code, 0, csv.stderr);
  const lines = csv.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[1]!, /^tiny,concurrency,1,,\d+,/);
});

test('errors are counted by status: a wrong shape is 400 on every request (exit 8); a wrong model is exit 5', { timeout: 120_000 }, async () => {
  const r = await runCli(['bench', '--server', t.url, '--model', 'tiny', '--shape', 'input=1x3x16x16', '--concurrency', '2', ...quick, '--json']);
  assert.equal(r.code, EXIT_CODES.INFERENCE, r.stderr);
  const doc = JSON.parse(r.stdout) as { data: ServerBenchReport };
  assert.ok(validate(doc), ajv.errorsText(validate.errors));
  const p = doc.data.points[0]!;
  assert.equal(p.requests, 0);
  assert.equal(p.stats, null);
  assert.deepEqual(Object.keys(p.errors), ['400']);
  assert.ok((p.errors['400'] ?? 0) > 0);
  assert.match(p.firstError ?? '', /HTTP 400: .*input 'input' has shape \[1,3,16,16\]/);
  assert.match(r.stderr, /request\(s\) failed; first: HTTP 400/);

  const wrong = await runCli(['bench', '--server', t.url, '--model', 'nope', ...quick]);
  assert.equal(wrong.code, EXIT_CODES.NOT_FOUND, wrong.stderr);
  assert.match(wrong.stderr, /model 'nope' metadata: HTTP 404/);
  assert.ok(!wrong.stderr.includes('    at '), 'no stack trace');

  const down = await runCli(['bench', '--server', 'http://127.0.0.1:9', '--model', 'tiny', ...quick]);
  assert.equal(down.code, EXIT_CODES.NETWORK, down.stderr);
  const bad = await runCli(['bench', '--server', t.url, '--rate', 'lots']);
  assert.equal(bad.code, EXIT_CODES.USAGE);
  assert.match(bad.stderr, /invalid --rate 'lots'/);
});

test('--save and --baseline: a run gated against itself is unchanged; slower samples regress; a local-bench file is refused', { timeout: 120_000 }, async () => {
  const file = join(dir, 'server-base.json');
  const r = await runCli(['bench', '--server', t.url, '--model', 'tiny', '--concurrency', '1', '--window', '400ms', '--max-windows', '4', '--warmup', '100ms', '--save', file]);
  assert.equal(r.code, 0, r.stderr);
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { data: ServerBenchReport };
  assert.ok(validate(saved), ajv.errorsText(validate.errors));
  const same = gateServer(saved.data, saved.data, file, 0.05);
  assert.deepEqual([same.regressed, same.unchanged, same.rows[0]?.key], [0, 1, 'tiny | concurrency 1']);
  assert.ok(saved.data.points[0]!.samples.length >= 10);
  // The decision rule on fixed samples (a loaded machine's measured latencies can be bimodal, and then no
  // median test — rightly — calls even 3× certain from one short window): 1.5× slower regresses.
  const steady: ServerBenchReport = { ...saved.data, points: saved.data.points.map((p) => ({ ...p, samples: Array.from({ length: 40 }, (_, i) => 2 + (i % 7) * 0.05) })) };
  const slower: ServerBenchReport = { ...steady, points: steady.points.map((p) => ({ ...p, samples: p.samples.map((x) => x * 1.5) })) };
  const g = gateServer(slower, steady, file, 0.05);
  assert.equal(g.regressed, 1, g.rows[0]?.comparison?.reason);
  const moved = gateServer({ ...slower, points: slower.points.map((p) => ({ ...p, key: 'concurrency 4' })) }, steady, file, 0.05);
  assert.deepEqual(moved.rows.map((x) => x.status), ['new', 'missing']);

  const gated = await runCli(['bench', '--server', t.url, '--model', 'tiny', '--concurrency', '1', ...quick, '--baseline', file, '--max-regression', '90%', '--json']);
  assert.equal(gated.code, 0, gated.stderr);
  const gdoc = JSON.parse(gated.stdout) as { data: ServerBenchReport };
  assert.ok(validate(gdoc), ajv.errorsText(validate.errors));
  assert.equal(gdoc.data.gate?.rows[0]?.status, 'compared');

  const local = join(dir, 'local.json');
  await writeFile(local, JSON.stringify({ schema: 'aivmm/bench@1', ok: true, data: { rows: [] }, warnings: [] }));
  const refused = await runCli(['bench', '--server', t.url, '--model', 'tiny', '--baseline', local]);
  assert.equal(refused.code, EXIT_CODES.CONFIG);
  assert.match(refused.stderr, /not an aivmm bench --server result \(schema 'aivmm\/bench@1'/);
});

test('open loop: latency counts from the scheduled send time, so a stall is charged to every request it delayed', { timeout: 60_000 }, async () => {
  // A real HTTP server that answers at once, except one request in the middle that it holds for 1 s. The rate is
  // 10/s: at 50/s a loaded 2-core machine (one core's share split 7 ways) could not send every 20 ms, so the
  // schedule fell behind for good and even the median request was charged for it (p50 264 ms, once).
  let n = 0;
  const srv = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      setTimeout(() => res.end('{}'), n === 20 ? 1000 : 1);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    const req = { url: `http://127.0.0.1:${port}/v2/models/m/infer`, headers: {}, body: new Uint8Array(4), items: 1, inputs: [] };
    const target = { url: `http://127.0.0.1:${port}`, model: 'm', headers: {} };
    // One request in flight at most: the stalled one blocks the sender, as a client with one connection would be.
    const p = await measurePoint({ client: fetchClient(), clock: { now: () => performance.now(), sleep: (ms) => sleep(ms) } }, target, req, { rate: 10 }, { ...DEFAULT_LOAD, windowMs: 3000, maxWindows: 3, stableWindows: 3, stability: 0.99, warmupMs: 0, maxInFlight: 1, seed: 5 });
    assert.ok(p.requests > 40, `${p.requests} requests`);
    // ~10 requests were scheduled during the 1 s stall; from their schedule they waited up to ~1 s,
    // though each took ~1 ms once sent. Measured from the actual send, p99 would be a few ms.
    assert.ok((p.stats?.p99 ?? 0) > 500, `p99 ${p.stats?.p99} ms`);
    assert.ok((p.stats?.p50 ?? 99) < 100, `p50 ${p.stats?.p50} ms`);
    assert.ok((p.sendLagP99Ms ?? 0) > 400, `send lag p99 ${p.sendLagP99Ms} ms`);
    assert.equal(p.maxInFlight, 1);
  } finally {
    srv.close();
  }
});

test('closed loop: a 503 with Retry-After holds that worker for the time it names; --no-retry-after resends at once', { timeout: 60_000 }, async () => {
  // A real HTTP server that sheds every request: 503, Retry-After: 1.
  let n = 0;
  const srv = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      res.writeHead(503, { 'retry-after': '1', 'content-type': 'application/json' }).end('{"error":"priority 2 queue is full (16 waiting)"}');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    const req = { url: `http://127.0.0.1:${port}/v2/models/m/infer`, headers: {}, body: new Uint8Array(4), items: 1, inputs: [] };
    const target = { url: `http://127.0.0.1:${port}`, model: 'm', headers: {} };
    const deps = { client: fetchClient(), clock: { now: () => performance.now(), sleep: (ms: number) => sleep(ms) } };
    // One window of 1.5 s that has only errors (the point ends after it), two workers.
    const settings = { ...DEFAULT_LOAD, windowMs: 1500, maxWindows: 3, warmupMs: 0 };
    const polite = await measurePoint(deps, target, req, { concurrency: 2 }, settings);
    const politeSent = n;
    // Each worker: one request, 1 s wait, one more (and perhaps a third as the window closes).
    assert.ok(politeSent >= 2 && politeSent <= 6, `${politeSent} requests with Retry-After honoured`);
    assert.equal(polite.errors['503'], politeSent);
    assert.ok(polite.retryAfterWaits && polite.retryAfterWaits.n === politeSent && polite.retryAfterWaits.ms > 900, JSON.stringify(polite.retryAfterWaits));
    n = 0;
    const hammer = await measurePoint(deps, target, req, { concurrency: 2 }, { ...settings, honourRetryAfter: false });
    assert.ok(n > 10 * politeSent, `${n} requests resent at once vs ${politeSent}`);
    assert.equal(hammer.retryAfterWaits, undefined);
  } finally {
    srv.close();
  }
  assert.equal(retryAfterMsOf(503, ' 3 '), 3000);
  assert.equal(retryAfterMsOf(429, '0'), 0);
  assert.equal(retryAfterMsOf(503, 'Wed, 21 Oct 2026 07:28:00 GMT'), undefined, 'an HTTP date is not followed (seconds only)');
  assert.equal(retryAfterMsOf(500, '3'), undefined, 'only on 503 and 429');
  assert.equal(retryAfterMsOf(503, undefined), undefined);
});
