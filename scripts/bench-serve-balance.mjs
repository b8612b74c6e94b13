#!/usr/bin/env node
// Balancing one model over two devices (issue #17): the real server with the model on device A alone,
// on B alone, then on A+B (one instance on each lane; the router weights by measured throughput and
// queue, spilling to the slower device when the faster one's predicted wait breaks latency_target).
// Each is driven by `aivmm bench --server` at one high concurrency. Prints each throughput, together ÷
// (A + B) (goal ≥ 0.9), together ÷ the faster alone (goal ≥ 1), each p95 against the target, the router's
// shares from /v1/placement, and the intra-op threads of each instance (a CPU instance beside a GPU lane
// defaults to cores − 2 − GPU lanes). `--batching fixed|adaptive` serves every placement with dynamic
// batching (max `--max-batch`), so GPU.0 runs batched as it would in production.
//
// Usage: npm run build && node scripts/bench-serve-balance.mjs --devices GPU.0@ort-cuda,CPU [--model PATH|alias]
//          [--concurrency 64] [--seconds 3] [--target 100] [--instances 1] [--threads N]
//          [--batching off|fixed|adaptive] [--max-batch 32] [--out file.json]
// On a CPU-only host `--devices CPU,CPU@ort-cpu` gives two CPU lanes (they share the cores, so expect ~0.5).
import { writeFileSync } from 'node:fs';
import { benchServer, flags, fmt, modelStats, startServe } from './serve-bench-lib.mjs';

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
const batchingMode = flag('batching', 'off');
const maxBatch = Number(flag('max-batch', '32'));
const batching = { off: undefined, fixed: { max_batch_size: maxBatch, max_queue_delay: '5ms' }, adaptive: { max_batch_size: maxBatch, latency_target: { p95: `${targetMs}ms` } } }[batchingMode];
if (batchingMode !== 'off' && !batching) throw new Error(`--batching off|fixed|adaptive, not ${batchingMode}`);

const runs = {};
for (const [name, inst] of [[a, { [a]: count }], [b, { [b]: count }], [`${a}+${b}`, { [a]: count, [b]: count }]]) {
  const m = { model, instances: inst, max_queue: 4096, latency_target: `${targetMs}ms`, ...(threads ? { threads: Number(threads) } : {}), ...(batching ? { dynamic_batching: batching } : {}) };
  const s = await startServe({ models: { m } });
  try {
    const [p] = await benchServer(s.url, 'm', c, { windowMs: seconds * 1000, maxWindows: 4 });
    const placement = await (await fetch(`${s.url}/v1/placement/m`)).json();
    const routing = placement.models?.[0]?.routing;
    const threadsBy = Object.fromEntries((placement.models?.[0]?.placement ?? []).map((pl) => [pl.device, pl.threads ?? 'runtime default']));
    const st = await modelStats(s.url, 'm');
    runs[name] = { reqPerSec: p.throughput.requestsPerSec, p95Ms: p.stats?.p95 ?? NaN, errors: p.errors, stable: p.stable, threads: threadsBy, meanBatch: st?.batching?.meanBatchSize, warmupMs: st?.warmup?.ms, routing: routing?.instances?.map((i) => ({ device: i.device, share: i.share, costMs: i.costMs, routed: i.routed })) };
    console.error(`${name}: ${fmt(runs[name].reqPerSec)} req/s, p95 ${fmt(runs[name].p95Ms)} ms, threads ${Object.entries(threadsBy).map(([d, t]) => `${d}=${t}`).join(' ')}${st?.batching ? `, mean batch ${fmt(st.batching.meanBatchSize, 1)}` : ''}`);
  } finally {
    await s.stop();
  }
}
const ra = runs[a].reqPerSec;
const rb = runs[b].reqPerSec;
const rab = runs[`${a}+${b}`];
console.log(`\n${model}, concurrency ${c}, latency_target ${targetMs} ms, ${count} instance(s) per device, batching ${batchingMode}\n`);
console.log('| placement | req/s | p95 ms | within target | intra-op threads | mean batch |');
console.log('|--|--:|--:|--|--|--:|');
for (const [name, r] of Object.entries(runs)) console.log(`| ${name} | ${fmt(r.reqPerSec)} | ${fmt(r.p95Ms)} | ${r.p95Ms <= targetMs ? 'yes' : 'no'} | ${Object.entries(r.threads).map(([d, t]) => `${d}: ${t}`).join(', ')} | ${r.meanBatch !== undefined ? fmt(r.meanBatch, 1) : '–'} |`);
const ratio = rab.reqPerSec / (ra + rb);
console.log(`\ntogether / (A + B) = ${fmt(rab.reqPerSec)} / ${fmt(ra + rb)} = ${fmt(ratio, 2)} (goal ≥ 0.9: ${ratio >= 0.9 ? 'met' : 'NOT met'})`);
const best = Math.max(ra, rb);
console.log(`together / faster alone = ${fmt(rab.reqPerSec)} / ${fmt(best)} = ${fmt(rab.reqPerSec / best, 2)} (goal ≥ 1: ${rab.reqPerSec >= best ? 'met' : 'NOT met'})`);
if (rab.routing) console.log(`router shares: ${rab.routing.map((i) => `${i.device} ${fmt(100 * i.share, 0)}% (cost ${fmt(i.costMs, 2)} ms)`).join(', ')}`);
if (out) writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), model, devices: [a, b], concurrency: c, seconds, targetMs, batching: batchingMode, maxBatch, runs, ratio }, null, 2)}\n`);
