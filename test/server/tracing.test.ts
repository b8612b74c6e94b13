/**
 * OpenTelemetry tracing end to end: a plain node:http OTLP/HTTP receiver on loopback decodes what the
 * official exporters send (exporter-trace-otlp-proto / -http 0.223: protobuf bodies by default, JSON with
 * OTEL_EXPORTER_OTLP_PROTOCOL=http/json; POST /v1/traces; gzip when OTEL_EXPORTER_OTLP_COMPRESSION asks), a client sends a W3C traceparent, and the spans must carry its
 * trace id, the server span its parent span id, and the queue / batch / compute children the right parents,
 * times and attributes. `aivmm serve` as a process: the OTEL_* variables turn it on (and the spans of the
 * last request arrive through the shutdown flush), OTEL_SDK_DISABLED / no variables leave it off.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/core/config/load.js';
import { tracingSettings } from '../../src/core/config/tracing.js';
import { parseServeConfig } from '../../src/core/serve/config.js';
import { startTracing } from '../../src/server/tracing.js';
import { BIN } from '../helpers/run-cli.js';
import { attr, receiver } from '../helpers/otlp-receiver.js';
import { postJson, seeded, spawnServe, startTestServer, tmp, TINY, until } from './helpers.js';

const ns = (v: string): bigint => BigInt(v);
const good = { name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(3072)) };
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

test('tracing settings: off unless configured, the endpoint rules, the samplers, the protocol and batch sizes, one line for a bad value', () => {
  assert.equal(loadConfig({}).tracing.enabled, false);
  assert.equal(loadConfig({ OTEL_SERVICE_NAME: 'x' }).tracing.enabled, false);
  const on = tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/', OTEL_SERVICE_NAME: 'svc', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.name=ignored', OTEL_EXPORTER_OTLP_HEADERS: 'x-token=a%20b' });
  assert.deepEqual([on.enabled, on.endpoint, on.serviceName, on.resourceAttributes['deployment.environment'], on.headers['x-token']], [true, 'http://c:4318/v1/traces', 'svc', 'prod', 'a b']);
  assert.equal(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp' }).endpoint, 'http://localhost:4318/v1/traces');
  assert.equal(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).endpoint, 'http://t:1/x');
  assert.equal(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' }).enabled, false);
  assert.equal(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }).enabled, false);
  const r = tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' });
  assert.deepEqual([r.sampler, r.samplerArg], ['parentbased_traceidratio', 0.25]);
  // protobuf unless asked for JSON (the traces variable wins); the batch processor's sizes from OTEL_BSP_*
  assert.deepEqual([r.protocol, r.batch], ['http/protobuf', { maxQueueSize: 8192, maxExportBatchSize: 2048, scheduledDelayMs: 1000, exportTimeoutMs: 30_000 }]);
  const j = tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '10', OTEL_BSP_SCHEDULE_DELAY: '5' });
  assert.deepEqual([j.protocol, j.batch.maxQueueSize, j.batch.maxExportBatchSize, j.batch.scheduledDelayMs], ['http/json', 100, 10, 5]);
  // the config file's section sits under the variables
  const file = parseServeConfig('tracing: {endpoint: "http://f:4318/v1/traces", service_name: filesvc, sample_ratio: 0.5}\nmetrics: {public: true}\n', 'a.yaml');
  assert.equal(file.metricsPublic, true);
  const f = tracingSettings({}, file.tracing);
  assert.deepEqual([f.enabled, f.endpoint, f.serviceName, f.sampler, f.samplerArg], [true, 'http://f:4318/v1/traces', 'filesvc', 'parentbased_traceidratio', 0.5]);
  const fe = tracingSettings({ OTEL_SERVICE_NAME: 'envsvc', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://e:4318', OTEL_TRACES_SAMPLER_ARG: '1', OTEL_TRACES_SAMPLER: 'traceidratio' }, file.tracing);
  assert.deepEqual([fe.endpoint, fe.serviceName, fe.sampler, fe.samplerArg], ['http://e:4318/v1/traces', 'envsvc', 'traceidratio', 1]);
  for (const [env, re] of [
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, /otlp only, not 'zipkin'/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /not 'grpc'/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' is not a URL|must be http or https/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'sometimes' }, /unknown sampler 'sometimes'/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }, /not a ratio/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_HEADERS: 'novalue' }, /'novalue' is not key=value/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/xml' }, /unknown protocol 'http\/xml'/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_BSP_MAX_QUEUE_SIZE: '0' }, /OTEL_BSP_MAX_QUEUE_SIZE: '0' is not a positive integer/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4096', OTEL_BSP_MAX_QUEUE_SIZE: '1024' }, /larger than OTEL_BSP_MAX_QUEUE_SIZE/],
  ] as const) {
    assert.throws(() => loadConfig(env).tracing, (e: Error & { code?: string }) => e.code === 'CONFIG' && re.test(e.message), JSON.stringify(env));
  }
  assert.throws(() => parseServeConfig('metrics: {public: "yes"}\n', 'a.yaml'), /a\.yaml: metrics\.public must be true or false/);
  assert.throws(() => parseServeConfig('tracing: {url: x}\n', 'a.yaml'), /a\.yaml: tracing: unknown key 'url'/);
});

test('a client traceparent is continued: server span with its trace and parent ids, queue and compute children under it', { timeout: 60_000 }, async () => {
  const rx = await receiver();
  const { dir, cleanup } = await tmp();
  await writeFile(join(dir, 'tiny.onnx'), TINY);
  const tracing = await startTracing(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${rx.url}/v1/traces`, OTEL_SERVICE_NAME: 'aivmm-test' }), { serviceVersion: '9.9.9', scheduledDelayMs: 20 });
  const t = await startTestServer({ models: [{ name: 'tiny', path: join(dir, 'tiny.onnx') }], server: { tracing, apiKey: 'k' } });
  try {
    const r = await postJson(`${t.url}/v2/models/tiny/infer`, { inputs: [good] }, { traceparent: `00-${TRACE}-${PARENT}-01`, authorization: 'Bearer k' });
    assert.equal(r.status, 200);
    // a refused request is traced as well (the hook runs before auth), in its own trace
    assert.equal((await fetch(`${t.url}/v2/models/tiny`)).status, 401);
    await tracing.flush();
    await until(() => rx.spans.filter((s) => s.traceId === TRACE).length >= 3 && rx.spans.some((s) => s.traceId !== TRACE), 'the spans at the receiver');
    // protobuf bodies by default (exporter-trace-otlp-proto), decoded by the receiver by the OTLP schema
    assert.ok(rx.requests.every((q) => q.path === '/v1/traces' && q.contentType === 'application/x-protobuf'), JSON.stringify(rx.requests.map((q) => [q.path, q.contentType])));
    assert.equal(rx.resources[0]!['service.name'], 'aivmm-test');
    assert.equal(rx.resources[0]!['service.version'], '9.9.9');

    const mine = rx.spans.filter((s) => s.traceId === TRACE);
    const server = mine.find((s) => s.kind === 2)!;
    assert.ok(server, `a SERVER span in ${JSON.stringify(mine.map((s) => s.name))}`);
    assert.equal(server.name, 'POST /v2/models/:name/infer');
    assert.equal(server.parentSpanId, PARENT);
    assert.equal(attr(server, 'http.route'), '/v2/models/:name/infer');
    assert.equal(attr(server, 'http.request.method'), 'POST');
    assert.equal(attr(server, 'url.path'), '/v2/models/tiny/infer');
    assert.equal(attr(server, 'http.response.status_code'), 200);
    const queue = mine.find((s) => s.name === 'queue')!;
    const compute = mine.find((s) => s.name === 'compute')!;
    assert.ok(queue && compute, JSON.stringify(mine.map((s) => s.name)));
    assert.equal(queue.parentSpanId, server.spanId);
    assert.equal(compute.parentSpanId, server.spanId);
    assert.equal(mine.some((s) => s.name === 'batch'), false, 'no batch span without dynamic batching');
    assert.deepEqual([attr(compute, 'aivmm.model'), attr(compute, 'aivmm.model.version'), attr(compute, 'aivmm.device'), attr(compute, 'aivmm.backend')], ['tiny', '1', 'CPU', 'ort-cpu']);
    // the children lie inside the server span, queue before compute
    assert.ok(ns(server.startTimeUnixNano) <= ns(queue.startTimeUnixNano), 'queue starts after the request');
    assert.ok(ns(queue.endTimeUnixNano) <= ns(compute.startTimeUnixNano), 'compute after the queue');
    assert.ok(ns(compute.endTimeUnixNano) <= ns(server.endTimeUnixNano), 'compute ends before the answer');
    assert.ok(ns(compute.endTimeUnixNano) > ns(compute.startTimeUnixNano), 'compute has a duration');

    const refused = rx.spans.find((s) => s.traceId !== TRACE && s.kind === 2)!;
    assert.equal(refused.name, 'GET /v2/models/:name');
    assert.equal(refused.parentSpanId ?? '', '', 'no traceparent: a new root span');
    assert.equal(attr(refused, 'http.response.status_code'), 401);
  } finally {
    await t.close();
    await cleanup();
    await rx.close();
  }
});

test('gRPC: ModelInfer continues the traceparent metadata with queue and compute children; NOT_FOUND is the client\'s, not an error span', { timeout: 60_000 }, async () => {
  const { credentials, loadPackageDefinition, Metadata } = await import('@grpc/grpc-js');
  const { inferenceProto } = await import('../../src/server/grpc/proto.js');
  const rx = await receiver();
  const { dir, cleanup } = await tmp();
  await writeFile(join(dir, 'tiny.onnx'), TINY);
  const tracing = await startTracing(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${rx.url}/v1/traces` }), { serviceVersion: '9.9.9', scheduledDelayMs: 20 });
  const t = await startTestServer({ models: [{ name: 'tiny', path: join(dir, 'tiny.onnx') }], server: { tracing, grpcPort: 0 } });
  const pkg = loadPackageDefinition(inferenceProto()) as any;
  const client = new pkg.inference.GRPCInferenceService(t.server.grpc!.address, credentials.createInsecure());
  const call = (method: string, req: unknown, md: InstanceType<typeof Metadata>): Promise<{ err: any; res: any }> => new Promise((r) => client[method](req, md, (err: unknown, res: unknown) => r({ err, res })));
  try {
    const md = new Metadata();
    md.set('traceparent', `00-${TRACE}-${PARENT}-01`);
    const x = seeded(3072);
    const ok = await call('ModelInfer', { model_name: 'tiny', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 32, 32] }], raw_input_contents: [Buffer.from(x.buffer, x.byteOffset, x.byteLength)] }, md);
    assert.equal(ok.err, null, String(ok.err?.details));
    const missing = await call('ModelMetadata', { name: 'nope' }, new Metadata());
    assert.equal(missing.err?.code, 5, 'NOT_FOUND');
    await tracing.flush();
    await until(() => rx.spans.filter((s) => s.traceId === TRACE).length >= 3 && rx.spans.some((s) => s.name.endsWith('/ModelMetadata')), 'the gRPC spans at the receiver');
    const mine = rx.spans.filter((s) => s.traceId === TRACE);
    const server = mine.find((s) => s.kind === 2)!;
    assert.equal(server?.name, 'inference.GRPCInferenceService/ModelInfer', JSON.stringify(mine.map((s) => s.name)));
    assert.equal(server.parentSpanId, PARENT);
    assert.deepEqual([attr(server, 'rpc.system'), attr(server, 'rpc.service'), attr(server, 'rpc.method'), attr(server, 'rpc.grpc.status_code')], ['grpc', 'inference.GRPCInferenceService', 'ModelInfer', 0]);
    const queue = mine.find((s) => s.name === 'queue')!;
    const compute = mine.find((s) => s.name === 'compute')!;
    assert.ok(queue && compute, JSON.stringify(mine.map((s) => s.name)));
    assert.equal(queue.parentSpanId, server.spanId);
    assert.equal(compute.parentSpanId, server.spanId);
    assert.deepEqual([attr(compute, 'aivmm.model'), attr(compute, 'aivmm.device')], ['tiny', 'CPU']);
    assert.ok(ns(server.startTimeUnixNano) <= ns(queue.startTimeUnixNano) && ns(compute.endTimeUnixNano) <= ns(server.endTimeUnixNano), 'the children lie inside the call');
    const meta = rx.spans.find((s) => s.name === 'inference.GRPCInferenceService/ModelMetadata')!;
    assert.equal(attr(meta, 'rpc.grpc.status_code'), 5);
    assert.equal(attr(meta, 'error.type'), undefined, 'NOT_FOUND is the client\'s error');
    assert.notEqual(meta.status?.code, 2, 'not an ERROR span');
  } finally {
    client.close();
    await t.close();
    await cleanup();
    await rx.close();
  }
});

test('a dynamically batched request: a batch span with its size between the server span and compute', { timeout: 60_000 }, async () => {
  const rx = await receiver();
  const { dir, cleanup } = await tmp();
  await writeFile(join(dir, 'tiny.onnx'), TINY);
  // JSON bodies here (exporter-trace-otlp-http), so both encodings are decoded and checked
  const tracing = await startTracing(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${rx.url}/v1/traces`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }), { serviceVersion: 't', scheduledDelayMs: 20 });
  const t = await startTestServer({ models: [{ name: 'tiny', path: join(dir, 'tiny.onnx'), settings: { batching: { maxBatchSize: 8, maxQueueDelayMs: 100 } } }], server: { tracing } });
  try {
    const ids = ['a', 'b', 'c'].map((_, i) => `${String(i + 1).padStart(32, '0')}`);
    const rs = await Promise.all(ids.map((id, i) => postJson(`${t.url}/v2/models/tiny/infer`, { inputs: [good] }, { traceparent: `00-${id}-${String(i + 1).padStart(16, 'a')}-01` })));
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
    await tracing.flush();
    await until(() => ids.every((id) => rx.spans.filter((s) => s.traceId === id).length >= 4), 'server, queue, batch and compute spans of three traces');
    let largest = 0;
    for (const id of ids) {
      const mine = rx.spans.filter((s) => s.traceId === id);
      const server = mine.find((s) => s.kind === 2)!;
      const batch = mine.find((s) => s.name === 'batch')!;
      const compute = mine.find((s) => s.name === 'compute')!;
      assert.equal(batch.parentSpanId, server.spanId);
      assert.equal(compute.parentSpanId, batch.spanId, 'compute runs inside the batch');
      assert.equal(mine.find((s) => s.name === 'queue')!.parentSpanId, server.spanId);
      const size = Number(attr(batch, 'aivmm.batch.size'));
      assert.equal(Number(attr(compute, 'aivmm.batch.size')), size);
      assert.ok(ns(compute.startTimeUnixNano) >= ns(batch.startTimeUnixNano) && ns(compute.endTimeUnixNano) <= ns(batch.endTimeUnixNano), 'compute inside the batch');
      largest = Math.max(largest, size);
    }
    assert.ok(largest > 1, `three concurrent requests in a 100 ms window shared a batch (largest ${largest})`);
    assert.ok(rx.requests.length > 0 && rx.requests.every((q) => q.contentType.startsWith('application/json')), JSON.stringify(rx.requests.map((q) => q.contentType)));
  } finally {
    await t.close();
    await cleanup();
    await rx.close();
  }
});

test('aivmm serve: the OTEL_* variables turn tracing on and the shutdown flushes; OTEL_SDK_DISABLED or nothing set: no export', { timeout: 180_000 }, async () => {
  const rx = await receiver();
  const { dir, cleanup } = await tmp();
  const run = async (env: Record<string, string>): Promise<void> => {
    const serve = spawnServe(BIN, ['tiny-convnet', '--port', '0', '--json'], { ...process.env, AIVMM_CACHE_DIR: dir, ...env });
    try {
      const url = (JSON.parse(await serve.ready) as { data: { url: string } }).data.url;
      const r = await postJson(`${url}/v2/models/tiny-convnet/infer`, { inputs: [good] }, { traceparent: `00-${TRACE}-${PARENT}-01` });
      assert.equal(r.status, 200, JSON.stringify(r.json));
    } finally {
      // SIGTERM right after the answer: the span is still in the batch processor (1 s delay) and goes out in the drain
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0, serve.stderr());
    }
  };
  const off = { OTEL_TRACES_EXPORTER: '', OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '', OTEL_SDK_DISABLED: '' };
  try {
    await run({ ...off });
    await run({ ...off, OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SDK_DISABLED: 'true' });
    assert.equal(rx.requests.length, 0, 'nothing exported while tracing is off');
    // the exporter reads its own transport variables: gzip bodies, which the receiver must inflate
    await run({ ...off, OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_SERVICE_NAME: 'from-env', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' });
    assert.ok(rx.requests.length > 0 && rx.requests.every((q) => q.headers['content-encoding'] === 'gzip'), JSON.stringify(rx.requests.map((q) => q.headers['content-encoding'])));
    const server = rx.spans.find((s) => s.traceId === TRACE && s.kind === 2);
    assert.ok(server, `the server span arrived by the shutdown flush (got ${JSON.stringify(rx.spans.map((s) => s.name))})`);
    assert.equal(server.parentSpanId, PARENT);
    assert.equal(rx.resources[0]!['service.name'], 'from-env');
    assert.deepEqual(rx.spans.filter((s) => s.traceId === TRACE).map((s) => s.name).sort(), ['POST /v2/models/:name/infer', 'compute', 'queue']);
  } finally {
    await cleanup();
    await rx.close();
  }
});

test('a collector that is not there: one warning through onExportError, with the URL and the reason; the server keeps answering', { timeout: 60_000 }, async () => {
  const rx = await receiver();
  const url = `${rx.url}/v1/traces`;
  await rx.close(); // nothing listens there now
  const errors: string[] = [];
  // Only the flushes export: with the processor's own timer at 20 ms, a loaded machine let it take (and fail to
  // send) a request's spans before the flush, which then had nothing to send and resolved.
  const tracing = await startTracing(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url }), { serviceVersion: 't', scheduledDelayMs: 600_000, onExportError: (m) => errors.push(m) });
  const { dir, cleanup } = await tmp();
  await writeFile(join(dir, 'tiny.onnx'), TINY);
  const t = await startTestServer({ models: [{ name: 'tiny', path: join(dir, 'tiny.onnx') }], server: { tracing } });
  try {
    for (let i = 0; i < 3; i++) {
      assert.equal((await postJson(`${t.url}/v2/models/tiny/infer`, { inputs: [good] })).status, 200);
      await assert.rejects(tracing.flush(), /ECONNREFUSED/, 'a flush says the export failed');
    }
    await until(() => errors.length > 0, 'the export failure');
    assert.equal(errors.length, 1, `one report a minute at most: ${JSON.stringify(errors)}`);
    assert.match(errors[0]!, new RegExp(`exporting spans to ${url.replace(/[.]/g, '\\.')} failed \\(.*ECONNREFUSED`));
  } finally {
    await t.close();
    await cleanup();
  }
});

test('tracing costs nothing when off: only src/server/tracing.ts names the SDK, with type imports and dynamic import()s', async () => {
  const { execFileSync } = await import('node:child_process');
  const src = new URL('../../src', import.meta.url).pathname;
  const hits = execFileSync('grep', ['-rn', '@opentelemetry/', src], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const files = new Set(hits.map((h) => h.split(':')[0]!.slice(src.length + 1)));
  assert.deepEqual([...files], ['server/tracing.ts']);
  // a static value import would load the SDK with the server; type imports and import('…') do not
  const statics = hits.filter((h) => /^\S+:\d+:import\s+(?!type\b)/.test(h));
  assert.deepEqual(statics, []);
  assert.ok(hits.some((h) => /import\('@opentelemetry\/sdk-trace-node'\)/.test(h)));
});
