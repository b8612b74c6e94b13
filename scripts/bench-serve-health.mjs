#!/usr/bin/env node
// Health latency under saturating inference load (issue #16, benchmark 2): `aivmm serve`'s setup (a
// worker lane per device) serving MobileNetV2 with binary 224×224 requests from C concurrent clients,
// while another client asks /v2/health/ready every 20 ms. If the HTTP event loop ran inference, health
// would wait behind it (p99 ≈ one inference); on the lane it should not. The same run with sessions in
// the server's own process is shown beside it for contrast. Needs `npm run build` (imports dist/).
// Usage: node scripts/bench-serve-health.mjs [--seconds 10] [--concurrency 4]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CPU_TARGET } from '../dist/core/backends/registry.js';
import { embeddedModel } from '../dist/core/models/embedded.js';
import { DEFAULT_SETTINGS, settingsFor } from '../dist/core/serve/config.js';
import { InProcessExecutor } from '../dist/core/serve/executor.js';
import { ModelRegistry } from '../dist/core/serve/registry.js';
import { LaneExecutor } from '../dist/server/lane-executor.js';
import { startServer } from '../dist/server/start.js';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const SECONDS = Number(arg('--seconds', '10'));
const C = Number(arg('--concurrency', '4'));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function run(label, executor, dir) {
  const path = join(dir, 'm.onnx');
  await writeFile(path, embeddedModel('mobilenetv2-seeded').build());
  const registry = new ModelRegistry({ executorFor: async () => ({ executor, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'bench' } }), defaults: settingsFor(DEFAULT_SETTINGS, {}) });
  registry.add({ name: 'm', kind: 'file', path, settings: settingsFor(DEFAULT_SETTINGS, { maxQueue: 1024 }) });
  await registry.load('m');
  const server = await startServer(registry, { host: '127.0.0.1', port: 0, maxBodyBytes: 64 << 20, requestTimeoutMs: 0, serverVersion: 'bench' }, { ready: true, closing: false });
  const x = new Float32Array(3 * 224 * 224).map((_, i) => ((i * 7) % 255) / 255);
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 3, 224, 224], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }], outputs: [{ name: 'output', parameters: { binary_data: true } }] }));
  const body = Buffer.concat([header, Buffer.from(x.buffer)]);
  const until = performance.now() + SECONDS * 1000;
  let done = 0;
  let failed = 0;
  const client = async () => {
    while (performance.now() < until) {
      const r = await fetch(`${server.url}/v2/models/m/infer`, { method: 'POST', headers: { 'inference-header-content-length': String(header.length) }, body });
      await r.arrayBuffer();
      if (r.status === 200) done++;
      else failed++;
    }
  };
  const health = [];
  const prober = async () => {
    await new Promise((r) => setTimeout(r, 500)); // let the load build up
    while (performance.now() < until) {
      const t0 = performance.now();
      const r = await fetch(`${server.url}/v2/health/ready`);
      await r.arrayBuffer();
      health.push(performance.now() - t0);
      await new Promise((res) => setTimeout(res, 20));
    }
  };
  await Promise.all([...Array.from({ length: C }, client), prober()]);
  await server.close(1000);
  await executor.close();
  return { label, inferPerSec: done / SECONDS, failed, healthN: health.length, healthP50: pct(health, 50), healthP99: pct(health, 99), healthMax: Math.max(...health) };
}

const dir = await mkdtemp(join(tmpdir(), 'aivmm-bench-health-'));
try {
  const rows = [await run('worker lane (aivmm serve)', new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET }), dir), await run('sessions in the server process', new InProcessExecutor(CPU_TARGET), dir)];
  console.log(`health under load: MobileNetV2 binary 224×224, ${C} clients, ${SECONDS} s, node ${process.version}`);
  console.log('| setup | inferences/s | failed | health probes | health p50 ms | p99 ms | max ms |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.label} | ${r.inferPerSec.toFixed(1)} | ${r.failed} | ${r.healthN} | ${r.healthP50.toFixed(2)} | ${r.healthP99.toFixed(2)} | ${r.healthMax.toFixed(2)} |`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
