#!/usr/bin/env node
// Soak (issue #16, benchmark 4): `aivmm serve`'s setup (a worker lane) at saturation for N minutes
// (default 10) — C clients sending binary KServe v2 requests back to back, more than the one instance
// can take, so requests always wait in its queue (the mean queue depth is printed to show it) — counting
// errors (goal 0) and sampling the RSS of the server process and of its lane every --sample-s seconds;
// growth after warm-up is the median of the first half of the samples against the second's (goal < 5%).
// The last line is PASS or FAIL against both goals (exit 0 or 1). The figure: 10 minutes on a
// quiet machine. Needs `npm run build`. A quick check that it runs: --minutes 0.5 --warmup-s 5 --sample-s 2.
// Usage: node scripts/bench-serve-soak.mjs [--minutes 10] [--warmup-s 60] [--sample-s 10] [--concurrency 4] [--model mobilenetv2-seeded|tiny-convnet]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CPU_TARGET } from '../dist/core/backends/registry.js';
import { embeddedModel } from '../dist/core/models/embedded.js';
import { DEFAULT_SETTINGS, settingsFor } from '../dist/core/serve/config.js';
import { ModelRegistry } from '../dist/core/serve/registry.js';
import { LaneExecutor } from '../dist/server/lane-executor.js';
import { startServer } from '../dist/server/start.js';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const MINUTES = Number(arg('--minutes', '10'));
const WARMUP_S = Number(arg('--warmup-s', String(Math.min(60, MINUTES * 15))));
const SAMPLE_S = Number(arg('--sample-s', '10'));
const C = Number(arg('--concurrency', '4'));
const MODEL = arg('--model', 'mobilenetv2-seeded');
const SIDE = MODEL === 'tiny-convnet' ? 32 : 224;
const mb = (b) => (b / 1048576).toFixed(1);

const dir = await mkdtemp(join(tmpdir(), 'aivmm-bench-soak-'));
const path = join(dir, 'm.onnx');
await writeFile(path, embeddedModel(MODEL).build());
const lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET });
const registry = new ModelRegistry({ executorFor: async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'bench' } }), defaults: settingsFor(DEFAULT_SETTINGS, {}) });
registry.add({ name: 'm', kind: 'file', path, settings: settingsFor(DEFAULT_SETTINGS, { maxQueue: 1024 }) });
await registry.load('m');
const server = await startServer(registry, { host: '127.0.0.1', port: 0, maxBodyBytes: 64 << 20, requestTimeoutMs: 0, serverVersion: 'bench' }, { ready: true, closing: false });
const x = new Float32Array(3 * SIDE * SIDE).map((_, i) => ((i * 7) % 255) / 255);
const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 3, SIDE, SIDE], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }], parameters: { binary_data_output: true } }));
const body = Buffer.concat([header, Buffer.from(x.buffer)]);
const t0 = performance.now();
const until = t0 + MINUTES * 60_000;
let ok = 0;
const errors = [];
const client = async () => {
  while (performance.now() < until) {
    try {
      const r = await fetch(`${server.url}/v2/models/m/infer`, { method: 'POST', headers: { 'inference-header-content-length': String(header.length) }, body });
      const buf = await r.arrayBuffer();
      if (r.status === 200) ok++;
      else errors.push(`${r.status} ${Buffer.from(buf).toString('utf8').slice(0, 200)}`);
    } catch (err) {
      errors.push(String(err));
    }
  }
};
const samples = [];
const sample = async () => {
  const st = await lane.stats().catch(() => undefined);
  const pending = registry.stats('m').reduce((n, v) => n + (v.inference_stats.pending ?? 0), 0);
  samples.push({ s: (performance.now() - t0) / 1000, server: process.memoryUsage().rss, lane: st?.rssBytes ?? NaN, ok, pending, load: loadavg()[0] });
};
await sample();
const timer = setInterval(() => void sample(), SAMPLE_S * 1000);
await Promise.all(Array.from({ length: C }, client));
clearInterval(timer);
await sample();
await server.close(2000);
await lane.close();
await rm(dir, { recursive: true, force: true });

// The server's RSS saws up and down with V8's GC, so one sample against another is mostly noise: the
// median of the first half after warm-up against the median of the second half (and the peaks).
const after = samples.filter((s) => s.s >= WARMUP_S);
const half = Math.max(1, Math.floor(after.length / 2));
const median = (xs, k) => {
  const v = xs.map((s) => s[k]).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
};
const first = after.slice(0, half);
const second = after.slice(half).length ? after.slice(half) : after;
const growth = (k) => ((median(second, k) - median(first, k)) / median(first, k)) * 100;
const peak = (xs, k) => Math.max(...xs.map((s) => s[k]));
const last = samples[samples.length - 1];
console.log(`soak: ${MODEL} (binary ${SIDE}×${SIDE}), ${C} clients, ${MINUTES} min, warm-up ${WARMUP_S} s, node ${process.version}, load average ${samples[0].load.toFixed(2)} → ${last.load.toFixed(2)}`);
console.log('| t s | requests ok | queued | server RSS MB | lane RSS MB | load avg |');
console.log('|---|---|---|---|---|---|');
for (const s of samples) console.log(`| ${s.s.toFixed(0)} | ${s.ok} | ${s.pending} | ${mb(s.server)} | ${mb(s.lane)} | ${s.load.toFixed(2)} |`);
const during = samples.slice(1, -1);
const meanQueued = during.length ? during.reduce((n, s) => n + s.pending, 0) / during.length : NaN;
console.log(`requests ok ${ok} (${(ok / (MINUTES * 60)).toFixed(1)}/s), errors ${errors.length}; RSS growth after warm-up (median of ${first.length} samples from t=${first[0]?.s.toFixed(0)} s → median of ${second.length} to t=${last.s.toFixed(0)} s): server ${growth('server').toFixed(2)}%, lane ${growth('lane').toFixed(2)}%; peaks: server ${mb(peak(first, 'server'))} → ${mb(peak(second, 'server'))} MB, lane ${mb(peak(first, 'lane'))} → ${mb(peak(second, 'lane'))} MB`);
console.log(`saturation: mean ${meanQueued.toFixed(2)} requests queued behind the running one (${C} clients, 1 instance)`);
for (const e of errors.slice(0, 5)) console.log(`error: ${e}`);
const tooShort = after.length < 2;
const pass = !tooShort && errors.length === 0 && growth('server') < 5 && growth('lane') < 5;
console.log(
  tooShort
    ? `FAIL: only ${after.length} sample(s) after the ${WARMUP_S} s warm-up; run longer or sample more often (--sample-s)`
    : `${pass ? 'PASS' : 'FAIL'}: errors ${errors.length} (goal 0), RSS growth after warm-up server ${growth('server').toFixed(2)}%, lane ${growth('lane').toFixed(2)}% (goal < 5%)`,
);
process.exitCode = pass ? 0 : 1;
