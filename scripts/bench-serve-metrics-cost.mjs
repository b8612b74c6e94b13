#!/usr/bin/env node
// Observability cost at saturation (issue #18's ≤ 3 % bound): the server as `aivmm serve` sets it up (a
// worker lane on the CPU, its own process) serving tiny-convnet with binary 1×3×32×32 requests from C
// closed-loop clients, N seconds per configuration:
//   off      `--no-metrics`, no OTEL_* variables
//   metrics  the registry wired in, /metrics scraped every second as Prometheus would
//   tracing  no metrics; a span per request with its queue and compute children, exported over OTLP/HTTP
//            (the build's default protocol) to a receiver on loopback
//   tracing-json  the same with OTEL_EXPORTER_OTLP_PROTOCOL=http/json (not in the default set)
//   both     metrics and tracing
// Three processes, so each one's CPU is its own: this one (the clients and the scraper), the server (a
// child: the HTTP process of `aivmm serve`, one fresh per run; its inference lane is a grandchild), and the
// OTLP receiver (a child at nice 19 that only counts the spans of each export and answers 200). The
// server's CPU time per request (process.cpuUsage() over the measured window ÷ the requests answered in
// it) is the figure to read: it is what observability adds to the process that serves, and it moves far
// less with the machine's load than req/s does. Every round runs each configuration once, in a rotated
// order, so drift in the load falls on all of them. --against DIR runs every configuration a second time
// with DIR's build (DIR/dist, e.g. a checkout of main built with `npx tsc -p tsconfig.build.json`) in the
// same rounds, so before and after are measured side by side.
// Then each one's work alone, per build (--alone below): CPU µs per request of tracing (and its receiver)
// and of metrics, which moves less with the machine's load than anything measured under the clients.
// Prints per round req/s and server µs/request; per configuration the median ratio of req/s to the same
// build's `off` (with the min–max of the per-round ratios), the median server µs/request and its increase
// over `off` (median and min–max of the per-round differences), the receiver's µs per request, the spans
// received against the spans expected (3 per request), and the load average. Needs `npm run build`.
// Usage: node scripts/bench-serve-metrics-cost.mjs [--seconds 8] [--rounds 6] [--concurrency 4]
//          [--only off,metrics,tracing,both] [--against DIR] [--cpu-prof DIR (a V8 CPU profile of each server)]
//          [--model tiny-convnet|mobilenetv2-seeded]
import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, setPriority, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const self = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};

// ---- the OTLP/HTTP receiver (child process): counts spans of JSON or protobuf exports, answers 200 ----
if (args[0] === '--receiver') {
  const { createServer } = await import('node:http');
  let spans = 0;
  let bytes = 0;
  const varint = (b, p) => {
    let v = 0;
    let s = 0;
    let c;
    do {
      c = b[p.i++];
      v += (c & 0x7f) * 2 ** s;
      s += 7;
    } while (c & 0x80);
    return v;
  };
  // calls fn(start, end) for each length-delimited field number `field` of the message in b[start, end)
  const each = (b, start, end, field, fn) => {
    const p = { i: start };
    while (p.i < end) {
      const tag = varint(b, p);
      const wt = tag & 7;
      if (wt === 2) {
        const len = varint(b, p);
        if (tag >>> 3 === field) fn(p.i, p.i + len);
        p.i += len;
      } else if (wt === 0) varint(b, p);
      else if (wt === 1) p.i += 8;
      else if (wt === 5) p.i += 4;
      else throw new Error(`protobuf wire type ${wt}`);
    }
  };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const b = Buffer.concat(chunks);
      bytes += b.length;
      const json = String(req.headers['content-type']).includes('json');
      if (json) {
        // a span's spanId key appears once per span (parentSpanId's is spelled with a capital S)
        const t = b.toString('latin1');
        for (let i = t.indexOf('"spanId"'); i >= 0; i = t.indexOf('"spanId"', i + 1)) spans++;
      } else {
        // ExportTraceServiceRequest.resource_spans(1) → ResourceSpans.scope_spans(2) → ScopeSpans.spans(2)
        each(b, 0, b.length, 1, (s1, e1) => each(b, s1, e1, 2, (s2, e2) => each(b, s2, e2, 2, () => spans++)));
      }
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : undefined);
    });
  });
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', (m) => {
    if (m === 'count') process.send({ spans, bytes, cpu: process.cpuUsage() });
    else server.close(() => process.exit(0));
  });
  await new Promise(() => undefined);
}

// ---- one server (child process): a build's dist, one configuration ----
if (args[0] === '--server') {
  const [, dist, config, receiverPort, path] = args;
  const imp = (p) => import(pathToFileURL(join(dist, p)).href);
  const [{ CPU_TARGET }, { DEFAULT_SETTINGS, settingsFor }, { ModelRegistry }, { createServeMetrics }, { LaneExecutor }, { forwardEvents, startServer }, { EventHub }, { tracingSettings }, { startTracing }] = await Promise.all(
    ['core/backends/registry.js', 'core/serve/config.js', 'core/serve/registry.js', 'core/serve-metrics/index.js', 'server/lane-executor.js', 'server/start.js', 'server/events.js', 'core/config/tracing.js', 'server/tracing.js'].map(imp),
  );
  const withMetrics = config === 'metrics' || config === 'both';
  const withTracing = config.startsWith('tracing') || config === 'both';
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiverPort}`, ...(config === 'tracing-json' ? { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' } : {}) };
  const executor = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET });
  const metrics = withMetrics ? createServeMetrics() : undefined;
  const tracing = withTracing ? await startTracing(tracingSettings(env), { serviceVersion: 'bench' }) : undefined;
  const events = new EventHub();
  const registry = new ModelRegistry({ executorFor: async () => ({ executor, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'bench' } }), defaults: settingsFor(DEFAULT_SETTINGS, {}), onEvent: forwardEvents(events, metrics) });
  registry.add({ name: 'm', kind: 'file', path, settings: settingsFor(DEFAULT_SETTINGS, { maxQueue: 1024 }) });
  await registry.load('m');
  // the pool of body buffers `aivmm serve` reads binary requests into (builds before it have none)
  const buffers = await imp('core/buffer-pool.js').then((m) => new m.BufferPool(), () => undefined);
  const server = await startServer(registry, { host: '127.0.0.1', port: 0, maxBodyBytes: 64 << 20, requestTimeoutMs: 0, serverVersion: 'bench', events, metrics, tracing, buffers }, { ready: true, closing: false });
  process.on('message', async (m) => {
    if (m === 'mark') process.send({ cpu: process.cpuUsage() });
    else if (m === 'stop') {
      await server.close(1000); // flushes the batched spans
      await executor.close();
      process.send({ stopped: true });
      process.exit(0);
    }
  });
  process.send({ url: server.url });
  await new Promise(() => undefined);
}

// ---- the observability work of one request alone (child process): a build's tracing and metrics calls ----
// CPU time of this process per request, the same loop without them subtracted: tracing = a server span
// from a traceparent, its queue and compute children and its end, exported to the receiver (paced, 8
// requests per millisecond at most, so the batch processor never drops: the spans received are checked);
// metrics = recordRequest + recordBatch as the v2 route calls them.
if (args[0] === '--alone') {
  const [, dist, what, receiverPort] = args;
  const imp = (p) => import(pathToFileURL(join(dist, p)).href);
  const n = 20_000;
  const loop = async (one) => {
    for (let i = 0; i < 2000; i++) one(i);
    const c0 = process.cpuUsage();
    for (let done = 0; done < n; done += 8) {
      for (let i = 0; i < 8; i++) one(done + i);
      await new Promise((r) => setTimeout(r, 1));
    }
    return c0;
  };
  let work;
  let finish = async () => undefined;
  if (what === 'metrics') {
    const m = (await imp('core/serve-metrics/index.js')).createServeMetrics();
    work = () => {
      m.recordRequest({ model: 'm', version: '1', outcome: 'success', queueS: 0.0001, inputS: 0.00005, inferS: 0.0008, outputS: 0.00002, totalS: 0.001, batch: 1 });
      m.recordBatch({ model: 'm', version: '1', size: 1, inferS: 0.0008, device: 'CPU' });
    };
  } else if (what !== 'none') {
    const { tracingSettings } = await imp('core/config/tracing.js');
    const { startTracing } = await imp('server/tracing.js');
    const tracing = await startTracing(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiverPort}`, ...(what === 'tracing-json' ? { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' } : {}) }), { serviceVersion: 'bench' });
    const headers = { host: '127.0.0.1:8080', 'user-agent': 'node', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
    work = () => {
      const t0 = performance.now();
      const attributes = { 'http.request.method': 'POST', 'url.path': '/v2/models/m/infer', 'url.scheme': 'http', 'network.protocol.version': '1.1', 'http.route': '/v2/models/:name/infer', 'server.address': '127.0.0.1', 'server.port': 8080, 'client.address': '127.0.0.1', 'user_agent.original': 'node' };
      const tr = tracing.startRequest('POST /v2/models/:name/infer', headers, attributes, t0);
      tr.inference({ model: 'm', version: '1', startMs: t0, endMs: t0 + 1, queueMs: 0.1, computeMs: 0.8, device: 'CPU', backend: 'ort-cpu' });
      tr.end({ status: 200, endMs: t0 + 1.1 });
    };
    finish = () => tracing.shutdown();
  }
  const sink = [];
  const c0 = await loop(work ?? ((i) => sink.push(i) && sink.length > 64 && (sink.length = 0)));
  await finish();
  const c = process.cpuUsage(c0);
  process.send({ us: (c.user + c.system) / n, n: n + 2000 });
  process.exit(0);
}

// ---- the benchmark: clients, scraper, rounds ----
const SECONDS = Number(arg('--seconds', '8'));
const ROUNDS = Number(arg('--rounds', '6'));
const C = Number(arg('--concurrency', '4'));
const MODES = arg('--only', 'off,metrics,tracing,both').split(',');
if (!MODES.includes('off')) MODES.unshift('off');
const against = arg('--against', undefined);
const BUILDS = [{ name: '', dist: fileURLToPath(new URL('../dist', import.meta.url)) }, ...(against ? [{ name: 'base:', dist: join(resolve(against), 'dist') }] : [])];
// tracing-json only for this build: an older one may send JSON whatever the variable says
const CONFIGS = BUILDS.flatMap((b) => MODES.filter((m) => !b.name || m !== 'tracing-json').map((mode) => ({ key: `${b.name}${mode}`, build: b, mode })));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const spread = (xs, d = 3) => `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
const cpuUs = (a, b) => b.user + b.system - a.user - a.system;

const { embeddedModel } = await import(pathToFileURL(join(BUILDS[0].dist, 'core/models/embedded.js')).href);
const dir = await mkdtemp(join(tmpdir(), 'aivmm-bench-metrics-'));
const path = join(dir, 'm.onnx');
// --model: an embedded model (tiny-convnet: the HTTP path dominates, the worst case for observability's
// share; mobilenetv2-seeded: the embedded default model, 224² requests where inference dominates)
const MODEL = arg('--model', 'tiny-convnet');
const em = embeddedModel(MODEL);
await writeFile(path, em.build());
const shape = em.input.shape.map((d) => (typeof d === 'number' ? d : 1));
const x = new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => ((i * 7) % 255) / 255);
const header = Buffer.from(JSON.stringify({ inputs: [{ name: em.input.name, shape, datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }], parameters: { binary_data_output: true } }));
const body = Buffer.concat([header, Buffer.from(x.buffer)]);

const ask = (child, msg, pick) =>
  new Promise((r) => {
    const on = (m) => {
      if (!pick(m)) return;
      child.off('message', on);
      r(m);
    };
    child.on('message', on);
    if (msg !== undefined) child.send(msg);
  });

const receiver = fork(self, ['--receiver'], { stdio: 'inherit' });
setPriority(receiver.pid, 19);
const receiverPort = (await ask(receiver, undefined, (m) => m.port)).port;
const count = () => ask(receiver, 'count', (m) => m.cpu);

async function run({ build, mode }) {
  const rx0 = await count();
  const prof = arg('--cpu-prof', undefined);
  const execArgv = prof ? ['--cpu-prof', '--cpu-prof-dir', resolve(prof), '--cpu-prof-name', `${build.name.replace(':', '-')}${mode}-${Date.now()}.cpuprofile`] : [];
  const server = fork(self, ['--server', build.dist, mode, String(receiverPort), path], { stdio: 'inherit', execArgv });
  const { url } = await ask(server, undefined, (m) => m.url);
  const withMetrics = mode === 'metrics' || mode === 'both';
  const warm = performance.now() + 1000;
  const end = warm + SECONDS * 1000;
  let done = 0;
  let failed = 0;
  let scrapes = 0;
  let marks;
  const marked = (async () => {
    await new Promise((r) => setTimeout(r, warm - performance.now()));
    const [s, rx] = await Promise.all([ask(server, 'mark', (m) => m.cpu), count()]);
    marks = { s, rx, t: performance.now(), done };
  })();
  const client = async () => {
    while (performance.now() < end) {
      const r = await fetch(`${url}/v2/models/m/infer`, { method: 'POST', headers: { 'inference-header-content-length': String(header.length) }, body });
      await r.arrayBuffer();
      if (r.status === 200) done++;
      else failed++;
    }
  };
  const scraper = async () => {
    while (withMetrics && performance.now() < end) {
      await new Promise((r) => setTimeout(r, 1000));
      const r = await fetch(`${url}/metrics`);
      await r.text();
      if (r.status === 200) scrapes++;
    }
  };
  let last;
  await Promise.all([...Array.from({ length: C }, client), scraper(), marked, (async () => {
    await new Promise((r) => setTimeout(r, end - performance.now()));
    const s = await ask(server, 'mark', (m) => m.cpu);
    last = { s, t: performance.now(), done };
  })()]);
  const n = last.done - marks.done;
  await ask(server, 'stop', (m) => m.stopped);
  const rx = await count(); // after the stop: every span of this run has been flushed
  return {
    rps: n / ((last.t - marks.t) / 1000),
    serverUs: cpuUs(marks.s.cpu, last.s.cpu) / n,
    receiverUs: cpuUs(marks.rx.cpu, rx.cpu) / n,
    // every span this server sent, against 3 for each request it answered (warm-up included)
    spans: rx.spans - rx0.spans,
    expected: 3 * done,
    failed,
    scrapes,
  };
}

try {
  const got = Object.fromEntries(CONFIGS.map((c) => [c.key, []]));
  const load0 = loadavg()[0];
  console.log(`observability cost at saturation: ${MODEL} binary ${shape.join('×')} on a CPU worker lane, ${C} closed-loop clients, ${SECONDS} s per run, ${ROUNDS} rounds, node ${process.version}${against ? `, base build ${against}` : ''}`);
  console.log('server: its own process (µs = its CPU time per request answered); OTLP receiver: a process at nice 19');
  console.log(`| round | ${CONFIGS.map((c) => `${c.key} req/s (µs)`).join(' | ')} |`);
  console.log(`|---|${CONFIGS.map(() => '---|').join('')}`);
  for (let i = 0; i < ROUNDS; i++) {
    const order = CONFIGS.map((_, k) => CONFIGS[(k + i) % CONFIGS.length]);
    const round = {};
    for (const c of order) round[c.key] = await run(c);
    for (const c of CONFIGS) got[c.key].push(round[c.key]);
    const failed = CONFIGS.filter((c) => round[c.key].failed).map((c) => `${c.key} ${round[c.key].failed}`);
    if (failed.length) console.log(`(failed requests: ${failed.join(', ')})`);
    console.log(`| ${i + 1} | ${CONFIGS.map((c) => `${round[c.key].rps.toFixed(1)} (${round[c.key].serverUs.toFixed(0)})`).join(' | ')} |`);
  }
  for (const c of CONFIGS) {
    const rs = got[c.key];
    const off = got[`${c.build.name}off`];
    const us = median(rs.map((r) => r.serverUs));
    const line = [`${c.key}: ${median(rs.map((r) => r.rps)).toFixed(1)} req/s, server ${us.toFixed(1)} µs/request`];
    if (c.mode !== 'off') {
      const ratios = rs.map((r, i) => r.rps / off[i].rps);
      const deltas = rs.map((r, i) => r.serverUs - off[i].serverUs);
      const r = median(ratios);
      line.push(`req/s ratio to off ${r.toFixed(3)} (cost ${((1 - r) * 100).toFixed(1)} %, per-round ${spread(ratios)})`);
      line.push(`+${median(deltas).toFixed(1)} µs/request over off (per-round ${spread(deltas, 1)})`);
    }
    if (c.mode.startsWith('tracing') || c.mode === 'both') {
      const spans = rs.reduce((a, r) => a + r.spans, 0);
      const expected = rs.reduce((a, r) => a + r.expected, 0);
      line.push(`receiver ${median(rs.map((r) => r.receiverUs)).toFixed(1)} µs/request`, `spans received ${spans} of ${expected}`);
    }
    if (c.mode === 'metrics' || c.mode === 'both') line.push(`${rs.reduce((a, r) => a + r.scrapes, 0)} scrapes`);
    console.log(line.join('; '));
  }
  // each one's work alone, in the build's own code, 3 alternations (medians; the loop's own CPU subtracted)
  const ALONE = ['none', 'metrics', 'tracing', 'tracing-json'];
  const alone = Object.fromEntries(BUILDS.flatMap((b) => ALONE.map((w) => [`${b.name}${w}`, []])));
  for (let i = 0; i < 3; i++) {
    for (const b of BUILDS) {
      for (const w of ALONE) {
        if (b.name && w === 'tracing-json') continue;
        const rx0 = await count();
        const child = fork(self, ['--alone', b.dist, w, String(receiverPort)], { stdio: 'inherit' });
        const r = await ask(child, undefined, (m) => m.us !== undefined);
        const rx = await count();
        alone[`${b.name}${w}`].push({ us: r.us, rxUs: cpuUs(rx0.cpu, rx.cpu) / r.n, spans: rx.spans - rx0.spans, expected: w.startsWith('tracing') ? 3 * r.n : 0 });
      }
    }
  }
  for (const b of BUILDS) {
    const base = median(alone[`${b.name}none`].map((r) => r.us));
    const parts = ALONE.filter((w) => w !== 'none' && alone[`${b.name}${w}`].length).map((w) => {
      const rs = alone[`${b.name}${w}`];
      const spans = rs.reduce((a, r) => a + r.spans, 0);
      const expected = rs.reduce((a, r) => a + r.expected, 0);
      return `${w} ${(median(rs.map((r) => r.us)) - base).toFixed(1)} µs${expected ? ` (+ receiver ${median(rs.map((r) => r.rxUs)).toFixed(1)} µs; spans ${spans} of ${expected})` : ''}`;
    });
    console.log(`${b.name || 'this build: '}alone, CPU per request: ${parts.join('; ')}`);
  }
  console.log(`load average (1 min): ${load0.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end`);
} finally {
  receiver.send('stop');
  await rm(dir, { recursive: true, force: true });
}
