#!/usr/bin/env node
// Hot reload under load (issue #16, benchmark 3): `aivmm serve`'s setup (a worker lane, a model
// repository polled for new versions) while C clients send KServe v2 requests back to back; N times a new
// version directory is copied in atomically (written into a staging dir on the same filesystem, then
// renamed into DIR/<model>/<version>), and the script counts failed requests (goal 0) and each reload's
// switch time: from the rename to the first answer from the new version. Needs `npm run build`.
// Usage: node scripts/bench-serve-reload.mjs [--reloads 10] [--concurrency 4] [--model tiny-convnet|mobilenetv2-seeded] [--poll-ms 200]
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
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
const RELOADS = Number(arg('--reloads', '10'));
const C = Number(arg('--concurrency', '4'));
const MODEL = arg('--model', 'tiny-convnet');
const POLL = Number(arg('--poll-ms', '200'));
const SIDE = MODEL === 'tiny-convnet' ? 32 : 224;
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const dir = await mkdtemp(join(tmpdir(), 'aivmm-bench-reload-'));
const repo = join(dir, 'repo');
const staging = join(dir, 'staging');
const bytes = embeddedModel(MODEL).build();
const addVersion = async (v) => {
  const tmp = join(staging, String(v));
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, 'model.onnx'), bytes);
  await rename(tmp, join(repo, 'm', String(v)));
};
await mkdir(join(repo, 'm'), { recursive: true });
await addVersion(1);
const lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET });
const registry = new ModelRegistry({ executorFor: async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'bench' } }), repository: repo, defaults: settingsFor(DEFAULT_SETTINGS, { maxQueue: 1024 }) });
await registry.scan();
await registry.load('m');
const server = await startServer(registry, { host: '127.0.0.1', port: 0, maxBodyBytes: 64 << 20, requestTimeoutMs: 0, serverVersion: 'bench', pollMs: POLL }, { ready: true, closing: false });
const x = new Float32Array(3 * SIDE * SIDE).map((_, i) => ((i * 7) % 255) / 255);
const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 3, SIDE, SIDE], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }] }));
const body = Buffer.concat([header, Buffer.from(x.buffer)]);
let stop = false;
let ok = 0;
const failures = [];
const firstSeen = new Map(); // version → time of its first answer
const client = async () => {
  while (!stop) {
    try {
      const r = await fetch(`${server.url}/v2/models/m/infer`, { method: 'POST', headers: { 'inference-header-content-length': String(header.length) }, body });
      const buf = Buffer.from(await r.arrayBuffer());
      if (r.status !== 200) {
        failures.push(`${r.status} ${buf.toString('utf8').slice(0, 200)}`);
        continue;
      }
      ok++;
      const n = Number(r.headers.get('inference-header-content-length') ?? buf.length);
      const v = JSON.parse(buf.subarray(0, n).toString('utf8')).model_version;
      if (!firstSeen.has(v)) firstSeen.set(v, performance.now());
    } catch (err) {
      failures.push(String(err));
    }
  }
};
const load0 = loadavg()[0];
const clients = Array.from({ length: C }, client);
const switches = [];
try {
  await new Promise((r) => setTimeout(r, 1000));
  for (let v = 2; v <= RELOADS + 1; v++) {
    const t0 = performance.now();
    await addVersion(v);
    while (!firstSeen.has(String(v))) {
      if (performance.now() - t0 > 30_000) throw new Error(`version ${v} never answered (ok ${ok}, seen ${[...firstSeen.keys()]}, failures ${failures.length}: ${failures[0]})`);
      await new Promise((r) => setTimeout(r, 5));
    }
    switches.push(firstSeen.get(String(v)) - t0);
    await new Promise((r) => setTimeout(r, 300)); // traffic on the new version before the next
  }
} finally {
  stop = true;
  await Promise.all(clients);
  await server.close(2000);
  await lane.close();
  await rm(dir, { recursive: true, force: true });
}
console.log(`hot reload under load: ${MODEL} (binary ${SIDE}×${SIDE}), ${C} clients, ${RELOADS} reloads, poll ${POLL} ms, node ${process.version}, load average ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`);
console.log('| reloads | requests ok | failed | switch p50 ms | p90 ms | max ms |');
console.log('|---|---|---|---|---|---|');
console.log(`| ${switches.length} | ${ok} | ${failures.length} | ${pct(switches, 50).toFixed(0)} | ${pct(switches, 90).toFixed(0)} | ${Math.max(...switches).toFixed(0)} |`);
console.log(`switch times ms: ${switches.map((s) => s.toFixed(0)).join(', ')}`);
for (const f of failures.slice(0, 5)) console.log(`failed: ${f}`);
process.exitCode = failures.length ? 1 : 0;
