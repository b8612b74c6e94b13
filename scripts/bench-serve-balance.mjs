#!/usr/bin/env node
// Balancing one model over two devices (issue #17): the real server with the model on device A alone,
// on B alone, then on A+B (one instance on each lane; the router weights by measured throughput and
// queue, spilling to the slower device when the faster one's predicted wait breaks latency_target).
// Each is driven by `aivmm bench --server` at one high concurrency. Prints each throughput, together ÷
// (A + B) (goal ≥ 0.9), each p95 against the target, and the router's shares from /v1/placement.
//
// Usage: npm run build && node scripts/bench-serve-balance.mjs --devices GPU.0@ort-cuda,CPU [--model PATH|alias]
//          [--concurrency 64] [--seconds 3] [--target 100] [--instances 1] [--threads N] [--out file.json]
// On a CPU-only host `--devices CPU,CPU@ort-cpu` gives two CPU lanes (they share the cores, so expect ~0.5).
import { writeFileSync } from 'node:fs';
import { benchServer, flags, fmt, startServe } from './serve-bench-lib.mjs';

const flag = flags();
const model = flag('model', 'mobilenetv2-seeded');
const [a, b] = flag('devices', 'CPU,CPU@ort-cpu').split(',');
if (!a || !b) throw new Error('--devices A,B: two devices, e.g. GPU.0@ort-cuda,CPU');
const c = Number(flag('concurrency', '64'));
const seconds = Number(flag('seconds', '3'));
const targetMs = Number(flag('target', '100'));
const count = Number(flag('instances', '1'));
const threads = flag('threads', undefined);
const out = flag('out', undefined);

const runs = {};
for (const [name, inst] of [[a, { [a]: count }], [b, { [b]: count }], [`${a}+${b}`, { [a]: count, [b]: count }]]) {
  const m = { model, instances: inst, max_queue: 4096, latency_target: `${targetMs}ms`, ...(threads ? { threads: Number(threads) } : {}) };
  const s = await startServe({ models: { m } });
  try {
    const [p] = await benchServer(s.url, 'm', c, { windowMs: seconds * 1000, maxWindows: 4 });
    const placement = await (await fetch(`${s.url}/v1/placement/m`)).json();
    const routing = placement.models?.[0]?.routing;
    runs[name] = { reqPerSec: p.throughput.requestsPerSec, p95Ms: p.stats?.p95 ?? NaN, errors: p.errors, stable: p.stable, routing: routing?.instances?.map((i) => ({ device: i.device, share: i.share, costMs: i.costMs, routed: i.routed })) };
    console.error(`${name}: ${fmt(runs[name].reqPerSec)} req/s, p95 ${fmt(runs[name].p95Ms)} ms`);
  } finally {
    await s.stop();
  }
}
const ra = runs[a].reqPerSec;
const rb = runs[b].reqPerSec;
const rab = runs[`${a}+${b}`];
console.log(`\n${model}, concurrency ${c}, latency_target ${targetMs} ms, ${count} instance(s) per device\n`);
console.log('| placement | req/s | p95 ms | within target |');
console.log('|--|--:|--:|--|');
for (const [name, r] of Object.entries(runs)) console.log(`| ${name} | ${fmt(r.reqPerSec)} | ${fmt(r.p95Ms)} | ${r.p95Ms <= targetMs ? 'yes' : 'no'} |`);
const ratio = rab.reqPerSec / (ra + rb);
console.log(`\ntogether / (A + B) = ${fmt(rab.reqPerSec)} / ${fmt(ra + rb)} = ${fmt(ratio, 2)} (goal ≥ 0.9: ${ratio >= 0.9 ? 'met' : 'NOT met'})`);
if (rab.routing) console.log(`router shares: ${rab.routing.map((i) => `${i.device} ${fmt(100 * i.share, 0)}% (cost ${fmt(i.costMs, 2)} ms)`).join(', ')}`);
if (out) writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), model, devices: [a, b], concurrency: c, seconds, targetMs, runs, ratio }, null, 2)}\n`);
