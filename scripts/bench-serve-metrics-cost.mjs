#!/usr/bin/env node
// Metrics on vs off at saturation (issue #18's ≤ 3 % bound): the server as `aivmm serve` sets it up (a
// worker lane on the CPU) serving tiny-convnet with binary 1×3×32×32 requests from C closed-loop clients,
// N seconds with the metrics registry wired in (and /metrics scraped every second, as Prometheus would)
// and N seconds without (`aivmm serve --no-metrics`), alternating for R rounds. Prints throughput both
// ways per round, the medians and their ratio, and the load average. Needs `npm run build` (imports dist/).
// Usage: node scripts/bench-serve-metrics-cost.mjs [--seconds 8] [--rounds 4] [--concurrency 4]
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

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const SECONDS = Number(arg('--seconds', '8'));
const ROUNDS = Number(arg('--rounds', '4'));
const C = Number(arg('--concurrency', '4'));
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

async function run(withMetrics) {
  const metrics = withMetrics ? createServeMetrics() : undefined;
  const events = new EventHub();
  const registry = new ModelRegistry({ executorFor: async () => ({ executor, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'bench' } }), defaults: settingsFor(DEFAULT_SETTINGS, {}), onEvent: forwardEvents(events, metrics) });
  registry.add({ name: 'm', kind: 'file', path, settings: settingsFor(DEFAULT_SETTINGS, { maxQueue: 1024 }) });
  await registry.load('m');
  const server = await startServer(registry, { host: '127.0.0.1', port: 0, maxBodyBytes: 64 << 20, requestTimeoutMs: 0, serverVersion: 'bench', events, metrics }, { ready: true, closing: false });
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

try {
  const on = [];
  const off = [];
  const load0 = loadavg()[0];
  console.log(`metrics cost at saturation: tiny-convnet binary 1×3×32×32 on a CPU worker lane, ${C} closed-loop clients, ${SECONDS} s per run, ${ROUNDS} rounds, node ${process.version}`);
  console.log('| round | metrics off req/s | metrics on req/s (scrapes) | on/off |');
  console.log('|---|---|---|---|');
  for (let i = 0; i < ROUNDS; i++) {
    // alternate the order so drift in the machine's load falls on both sides
    const [a, b] = i % 2 ? [await run(true), await run(false)] : [null, null];
    const offR = b ?? (await run(false));
    const onR = a ?? (await run(true));
    off.push(offR.rps);
    on.push(onR.rps);
    if (offR.failed || onR.failed) console.log(`(failed requests: off ${offR.failed}, on ${onR.failed})`);
    console.log(`| ${i + 1} | ${offR.rps.toFixed(1)} | ${onR.rps.toFixed(1)} (${onR.scrapes}) | ${(onR.rps / offR.rps).toFixed(3)} |`);
  }
  const ratio = median(on) / median(off);
  console.log(`median: off ${median(off).toFixed(1)} req/s, on ${median(on).toFixed(1)} req/s, on/off ${ratio.toFixed(3)} (cost ${((1 - ratio) * 100).toFixed(1)} %)`);
  console.log(`load average (1 min): ${load0.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end`);
} finally {
  await executor.close();
  await rm(dir, { recursive: true, force: true });
}
