#!/usr/bin/env node
// Batching gain (issue #17, benchmark 1): throughput and p95 of batch-1 requests at concurrency
// 1/4/16/64 with dynamic batching off vs fixed vs adaptive, side by side in one run, interleaved per
// concurrency so machine drift hits every mode alike.
//
// What it measures: src/core/serve/batcher.ts over one real onnxruntime-node session (CPU EP, this
// process), closed loop, N clients each sending one image and waiting for its answer. The batcher is
// not yet wired into `aivmm serve`, so HTTP and the worker lane are not in these numbers; when it is,
// `aivmm bench --server` against the server gives the end-to-end figure.
//
// Usage: npm run build && node scripts/bench-batching.mjs [--model mobilenetv2-seeded] [--seconds 3]
//          [--threads 2] [--target 200] [--concurrency 1,4,16,64] [--out docs/results/x.json]
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const root = fileURLToPath(new URL('..', import.meta.url));
const { DynamicBatcher } = await import(`${root}dist/core/serve/batcher.js`);
const { InProcessExecutor } = await import(`${root}dist/core/serve/executor.js`);
const { CPU_TARGET } = await import(`${root}dist/core/backends/registry.js`);
const { embeddedModel } = await import(`${root}dist/core/hub/embedded.js`);

const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const modelName = flag('model', 'mobilenetv2-seeded');
const seconds = Number(flag('seconds', '3'));
const threads = Number(flag('threads', String(Math.min(os.availableParallelism(), 4))));
const targetMs = Number(flag('target', '200'));
const levels = flag('concurrency', '1,4,16,64').split(',').map(Number);
const out = flag('out', undefined);

const ex = new InProcessExecutor(CPU_TARGET);
const loaded = await ex.load('m', embeddedModel(modelName).build(), { threads });
const input = loaded.inputs[0];
const dims = input.shape.map((d, k) => (typeof d === 'number' && d > 0 ? d : k === 0 ? 1 : 224));
const per = dims.slice(1).reduce((a, b) => a * b, 1);
const image = new Float32Array(per).map((_, i) => Math.sin(i) * 0.5);
const feeds = () => ({ [input.name]: { type: 'float32', dims: [1, ...dims.slice(1)], data: image } });
const run = (f) => ex.run('m', f);
for (let i = 0; i < 5; i++) await run(feeds());

// Seed the adaptive mode's costs with a quick measurement of a few sizes (what `bench --batch` gives).
const seedCosts = {};
for (const b of [1, 4, 16]) {
  const data = new Float32Array(per * b);
  for (let k = 0; k < b; k++) data.set(image, k * per);
  const f = { [input.name]: { type: 'float32', dims: [b, ...dims.slice(1)], data } };
  await run(f);
  const t = [];
  for (let i = 0; i < 3; i++) t.push((await run(f)).computeMs);
  seedCosts[b] = t.sort((x, y) => x - y)[1];
}

const modes = {
  off: () => new DynamicBatcher(run, { maxBatchSize: 1, maxQueueDelayMs: 0, concurrency: 1 }),
  fixed: () => new DynamicBatcher(run, { maxBatchSize: 32, preferredBatchSizes: [4, 8, 16, 32], maxQueueDelayMs: 5, concurrency: 1 }),
  adaptive: () => new DynamicBatcher(run, { maxBatchSize: 64, maxQueueDelayMs: 0, concurrency: 1, adaptive: { targetMs, quantile: 0.95, seedCosts } }),
};

async function point(make, clients) {
  const b = make();
  const lat = [];
  let stop = false;
  let measuring = false;
  const loop = async () => {
    while (!stop) {
      const t0 = performance.now();
      await b.submit(feeds());
      if (measuring) lat.push(performance.now() - t0);
    }
  };
  const workers = Array.from({ length: clients }, loop);
  await new Promise((r) => setTimeout(r, 700)); // warm-up: the adaptive mode settles
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const span = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(workers);
  lat.sort((x, y) => x - y);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  const st = b.stats();
  return { rps: lat.length / span, p50: q(0.5), p95: q(0.95), meanBatch: st.meanBatchSize, ...(st.mode === 'adaptive' ? { chosenBatch: st.targetBatchSize, windowMs: st.windowMs } : {}) };
}

const rows = [];
for (const c of levels) {
  const row = { concurrency: c };
  for (const [name, make] of Object.entries(modes)) row[name] = await point(make, c);
  rows.push(row);
  const f = (r) => `${r.rps.toFixed(1).padStart(7)} req/s  p95 ${r.p95.toFixed(1).padStart(7)} ms  batch ${r.meanBatch.toFixed(1).padStart(5)}`;
  console.log(`c=${String(c).padEnd(3)} off ${f(row.off)} | fixed ${f(row.fixed)} | adaptive ${f(row.adaptive)}${row.adaptive.chosenBatch ? ` (chose ${row.adaptive.chosenBatch}, window ${row.adaptive.windowMs.toFixed(1)} ms)` : ''}`);
}
const gains = rows.map((r) => `c=${r.concurrency}: fixed ×${(r.fixed.rps / r.off.rps).toFixed(2)}, adaptive ×${(r.adaptive.rps / r.off.rps).toFixed(2)}`);
console.log(`throughput vs off: ${gains.join('; ')}`);
const doc = { at: new Date().toISOString(), host: `${os.cpus()[0]?.model} × ${os.availableParallelism()}`, model: modelName, input: dims, threads, seconds, targetMs, seedCosts, rows };
if (out) writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
await ex.close();
