#!/usr/bin/env node
// Observability cost at saturation (issue #18's ≤ 3 % bound): the server as `aivmm serve` sets it up (a
// worker lane on the CPU) serving tiny-convnet with binary 1×3×32×32 requests from C closed-loop clients,
// N seconds per configuration: `off` (`--no-metrics`, no OTEL_* variables), `metrics` (the registry wired
// in, /metrics scraped every second as Prometheus would), `tracing` (no metrics; a span per request with
// its queue and compute children, exported over OTLP/HTTP to a receiver on loopback that runs in its own
// thread so decoding the exports is not charged to the server) and `both`. Every round runs each
// configuration once, in a rotated order, so drift in the machine's load falls on all of them. Prints
// req/s per round, and per configuration the median ratio to `off` with its spread (min–max of the
// per-round ratios), the spans the receiver got, and the load average. Needs `npm run build` (imports dist/).
// Usage: node scripts/bench-serve-metrics-cost.mjs [--seconds 8] [--rounds 4] [--concurrency 4] [--only off,tracing]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CPU_TARGET } from '../dist/core/backends/registry.js';
import { embeddedModel } from '../dist/core/models/embedded.js';
import { DEFAULT_SETTINGS, settingsFor } from '../dist/core/serve/config.js';
import { ModelRegistry } from '../dist/core/serve/registry.js';
import { createServeMetrics } from '../dist/core/serve-metrics/index.js';
import { LaneExecutor } from '../dist/server/lane-executor.js';
import { forwardEvents, startServer } from '../dist/server/start.js';
import { EventHub } from '../dist/server/events.js';
import { tracingSettings } from '../dist/core/config/tracing.js';
import { startTracing } from '../dist/server/tracing.js';
import { Worker } from 'node:worker_threads';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const SECONDS = Number(arg('--seconds', '8'));
const ROUNDS = Number(arg('--rounds', '4'));
const C = Number(arg('--concurrency', '4'));
const CONFIGS = (arg('--only', 'off,metrics,tracing,both')).split(',');
if (!CONFIGS.includes('off')) CONFIGS.unshift('off');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const dir = await mkdtemp(join(tmpdir(), 'aivmm-bench-metrics-'));
const path = join(dir, 'm.onnx');
await writeFile(path, embeddedModel('tiny-convnet').build());
const executor = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET });
const x = new Float32Array(3 * 32 * 32).map((_, i) => ((i * 7) % 255) / 255);
const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }], parameters: { binary_data_output: true } }));
const body = Buffer.concat([header, Buffer.from(x.buffer)]);

// The OTLP/HTTP receiver in a worker thread: counts the spans of every export (JSON bodies), answers 200.
const receiver = new Worker(
  `const { createServer } = require('node:http');
   const { parentPort } = require('node:worker_threads');
   let spans = 0;
   const s = createServer((req, res) => { const b = []; req.on('data', (c) => b.push(c)); req.on('end', () => {
     try { for (const rs of JSON.parse(Buffer.concat(b).toString()).resourceSpans) for (const ss of rs.scopeSpans) spans += ss.spans.length; } catch {}
     res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); }); });
   s.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: s.address().port }));
   parentPort.on('message', (m) => { if (m === 'count') parentPort.postMessage({ spans }); else if (m === 'stop') s.close(() => process.exit(0)); });`,
  { eval: true },
);
const receiverPort = await new Promise((r) => receiver.once('message', (m) => r(m.port)));
const spanCount = () => new Promise((r) => {
  receiver.once('message', (m) => r(m.spans));
  receiver.postMessage('count');
});

async function run(config) {
  const withMetrics = config === 'metrics' || config === 'both';
  const withTracing = config === 'tracing' || config === 'both';
  const metrics = withMetrics ? createServeMetrics() : undefined;
  const tracing = withTracing ? await startTracing(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiverPort}` }), { serviceVersion: 'bench' }) : undefined;
  const events = new EventHub();
  const registry = new ModelRegistry({ executorFor: async () => ({ executor, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'bench' } }), defaults: settingsFor(DEFAULT_SETTINGS, {}), onEvent: forwardEvents(events, metrics) });
  registry.add({ name: 'm', kind: 'file', path, settings: settingsFor(DEFAULT_SETTINGS, { maxQueue: 1024 }) });
  await registry.load('m');
  const server = await startServer(registry, { host: '127.0.0.1', port: 0, maxBodyBytes: 64 << 20, requestTimeoutMs: 0, serverVersion: 'bench', events, metrics, tracing }, { ready: true, closing: false });
  const warm = performance.now() + 1000;
  let done = 0;
  let failed = 0;
  let scrapes = 0;
  let t0 = 0;
  const end = warm + SECONDS * 1000;
  const client = async () => {
    while (performance.now() < end) {
      const r = await fetch(`${server.url}/v2/models/m/infer`, { method: 'POST', headers: { 'inference-header-content-length': String(header.length) }, body });
      await r.arrayBuffer();
      if (performance.now() < warm) continue;
      if (r.status === 200) done++;
      else failed++;
    }
  };
  const scraper = async () => {
    while (withMetrics && performance.now() < end) {
      await new Promise((r) => setTimeout(r, 1000));
      const r = await fetch(`${server.url}/metrics`);
      await r.text();
      if (r.status === 200) scrapes++;
    }
  };
  t0 = warm;
  await Promise.all([...Array.from({ length: C }, client), scraper()]);
  const secs = (performance.now() - t0) / 1000;
  await server.close(1000);
  return { rps: done / secs, failed, scrapes };
}

/**
 * The tracing work of one request alone, in CPU time of this thread: a server span from a traceparent,
 * its queue and compute children, and its end, with the batch processor exporting to the receiver.
 * CPU µs per request × req/s ÷ 10⁶ is the share of a core tracing takes at that rate.
 */
async function spanCost(n = 20000) {
  const tracing = await startTracing(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiverPort}` }), { serviceVersion: 'bench' });
  const headers = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
  const one = () => {
    const t0 = performance.now();
    const tr = tracing.startRequest('POST /v2/models/:name/infer', headers, { 'http.request.method': 'POST', 'http.route': '/v2/models/:name/infer', 'url.path': '/v2/models/m/infer' }, t0);
    tr.inference({ model: 'm', version: '1', startMs: t0, endMs: t0 + 1, queueMs: 0.1, computeMs: 0.8, device: 'CPU', backend: 'ort-cpu' });
    tr.end({ status: 200, endMs: t0 + 1.1 });
  };
  for (let i = 0; i < 2000; i++) one();
  await tracing.flush();
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  // in slices, so the batch processor's timer and exports run as they would between requests
  for (let done = 0; done < n; done += 500) {
    for (let i = 0; i < 500; i++) one();
    await new Promise((r) => setImmediate(r));
  }
  await tracing.flush();
  const c = process.cpuUsage(c0);
  const wall = performance.now() - w0;
  await tracing.shutdown();
  return { cpuUs: (c.user + c.system) / n, wallUs: (wall * 1000) / n };
}

const spread = (xs) => `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}`;
try {
  const rps = Object.fromEntries(CONFIGS.map((c) => [c, []]));
  const ratios = Object.fromEntries(CONFIGS.map((c) => [c, []]));
  const load0 = loadavg()[0];
  console.log(`observability cost at saturation: tiny-convnet binary 1×3×32×32 on a CPU worker lane, ${C} closed-loop clients, ${SECONDS} s per run, ${ROUNDS} rounds, node ${process.version}`);
  console.log(`| round | ${CONFIGS.map((c) => `${c} req/s`).join(' | ')} |`);
  console.log(`|---|${CONFIGS.map(() => '---|').join('')}`);
  for (let i = 0; i < ROUNDS; i++) {
    // rotate the order each round so drift in the machine's load falls on every configuration
    const order = CONFIGS.map((_, k) => CONFIGS[(k + i) % CONFIGS.length]);
    const got = {};
    for (const c of order) got[c] = await run(c);
    for (const c of CONFIGS) {
      rps[c].push(got[c].rps);
      ratios[c].push(got[c].rps / got.off.rps);
    }
    const failed = CONFIGS.filter((c) => got[c].failed).map((c) => `${c} ${got[c].failed}`);
    if (failed.length) console.log(`(failed requests: ${failed.join(', ')})`);
    console.log(`| ${i + 1} | ${CONFIGS.map((c) => `${got[c].rps.toFixed(1)}${got[c].scrapes ? ` (${got[c].scrapes} scrapes)` : ''}`).join(' | ')} |`);
  }
  for (const c of CONFIGS.filter((x) => x !== 'off')) {
    const r = median(ratios[c]);
    console.log(`${c}/off: median ${r.toFixed(3)} (cost ${((1 - r) * 100).toFixed(1)} %), spread of the per-round ratios ${spread(ratios[c])}; median ${median(rps[c]).toFixed(1)} vs ${median(rps.off).toFixed(1)} req/s`);
  }
  if (CONFIGS.some((c) => c === 'tracing' || c === 'both')) {
    console.log(`spans received over OTLP/HTTP: ${await spanCount()}`);
    const sc = await spanCost();
    const rate = median(rps.off);
    console.log(`tracing alone (3 spans per request, exported): ${sc.cpuUs.toFixed(1)} µs CPU per request (${sc.wallUs.toFixed(1)} µs wall); at ${rate.toFixed(0)} req/s that is ${((sc.cpuUs * rate) / 1e4).toFixed(1)} % of one core`);
  }
  console.log(`load average (1 min): ${load0.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end`);
} finally {
  await executor.close();
  receiver.postMessage('stop');
  await rm(dir, { recursive: true, force: true });
}
