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
//          [--batching off|fixed|adaptive] [--max-batch 32] [--rounds 1] [--out file.json]
// `--rounds R` runs the three placements R times, interleaved (A, B, A+B, A, B, A+B, …), and reports the
// median of each and the median of the per-round ratios (a shared, noisy host moves all three together).
// The A+B rows give each instance's batches (= routed requests) and items, its share of the items, and its
// share of the speed measured alone (A ÷ (A + B)): with the router planning the batcher's backlog the two
// should be close.
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
// --lane thread: instances on a worker thread of the server (tensors are handed over, not copied through a pipe)
const lane = flag('lane', undefined);
const batchingMode = flag('batching', 'off');
const maxBatch = Number(flag('max-batch', '32'));
const rounds = Number(flag('rounds', '1'));
const batching = {
  off: undefined,
  fixed: { max_batch_size: maxBatch, max_queue_delay: '5ms' },
  adaptive: { max_batch_size: maxBatch, latency_target: { p95: `${targetMs}ms` } },
}[batchingMode];
if (batchingMode !== 'off' && !batching) throw new Error(`--batching off|fixed|adaptive, not ${batchingMode}`);

const placements = [
  [a, { [a]: count }],
  [b, { [b]: count }],
  [`${a}+${b}`, { [a]: count, [b]: count }],
];
const all = Object.fromEntries(placements.map(([name]) => [name, []]));
for (let round = 1; round <= rounds; round++) {
  for (const [name, inst] of placements) {
    const m = {
      model,
      instances: inst,
      max_queue: 4096,
      latency_target: `${targetMs}ms`,
      ...(threads ? { threads: Number(threads) } : {}),
      ...(batching ? { dynamic_batching: batching } : {}),
    };
    const s = await startServe({ ...(lane ? { server: { lane } } : {}), models: { m } });
    try {
      const [p] = await benchServer(s.url, 'm', c, { windowMs: seconds * 1000, maxWindows: 4 });
      const placement = await (await fetch(`${s.url}/v1/placement/m`)).json();
      const routing = placement.models?.[0]?.routing;
      const threadsBy = Object.fromEntries((placement.models?.[0]?.placement ?? []).map((pl) => [pl.device, pl.threads ?? 'runtime default']));
      const st = await modelStats(s.url, 'm');
      const r = {
        round,
        reqPerSec: p.throughput.requestsPerSec,
        p95Ms: p.stats?.p95 ?? NaN,
        errors: p.errors,
        stable: p.stable,
        threads: threadsBy,
        meanBatch: st?.batching?.meanBatchSize,
        batches: st?.batching?.batches,
        warmupMs: st?.warmup?.ms,
        routing: routing?.instances?.map((i) => ({
          device: i.device,
          share: i.share,
          costMs: i.costMs,
          costs: i.costs,
          routed: i.routed,
          items: i.routedItems,
        })),
        lastDecision: routing?.lastDecision?.reason,
      };
      all[name].push(r);
      const per = r.routing ? `; ${r.routing.map((i) => `${i.device} ${i.routed} batches / ${i.items} items`).join(', ')}` : '';
      console.error(
        `round ${round} ${name}: ${fmt(r.reqPerSec)} req/s, p95 ${fmt(r.p95Ms)} ms, threads ${Object.entries(threadsBy)
          .map(([d, t]) => `${d}=${t}`)
          .join(' ')}${st?.batching ? `, mean batch ${fmt(st.batching.meanBatchSize, 1)}` : ''}${per}`,
      );
    } finally {
      await s.stop();
    }
  }
}
const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((x, y) => x - y);
  return v.length ? (v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2) : NaN;
};
// Each placement's median round (by req/s) stands for it in the table.
const runs = Object.fromEntries(
  Object.entries(all).map(([name, rs]) => {
    const m = median(rs.map((r) => r.reqPerSec));
    const pick = rs.reduce((x, y) => (Math.abs(y.reqPerSec - m) < Math.abs(x.reqPerSec - m) ? y : x));
    return [name, { ...pick, reqPerSec: m, p95Ms: median(rs.map((r) => r.p95Ms)), rounds: rs }];
  }),
);
const ra = runs[a].reqPerSec;
const rb = runs[b].reqPerSec;
const rab = runs[`${a}+${b}`];
console.log(
  `\n${model}, concurrency ${c}, latency_target ${targetMs} ms, ${count} instance(s) per device, batching ${batchingMode}, ${rounds} round(s) interleaved (medians)\n`,
);
console.log('| placement | req/s | p95 ms | within target | intra-op threads | mean batch |');
console.log('|--|--:|--:|--|--|--:|');
for (const [name, r] of Object.entries(runs))
  console.log(
    `| ${name} | ${fmt(r.reqPerSec)} | ${fmt(r.p95Ms)} | ${r.p95Ms <= targetMs ? 'yes' : 'no'} | ${Object.entries(r.threads)
      .map(([d, t]) => `${d}: ${t}`)
      .join(', ')} | ${r.meanBatch !== undefined ? fmt(r.meanBatch, 1) : '–'} |`,
  );
const ratio = rab.reqPerSec / (ra + rb);
const perRound = (f) => median(all[`${a}+${b}`].map((r, i) => f(r.reqPerSec, all[a][i].reqPerSec, all[b][i].reqPerSec)));
const rRatio = perRound((ab, x, y) => ab / (x + y));
const rBest = perRound((ab, x, y) => ab / Math.max(x, y));
console.log(
  `\ntogether / (A + B) = ${fmt(rab.reqPerSec)} / ${fmt(ra + rb)} = ${fmt(ratio, 2)}; median of rounds ${fmt(rRatio, 2)} (goal ≥ 0.9: ${rRatio >= 0.9 ? 'met' : 'NOT met'})`,
);
const best = Math.max(ra, rb);
console.log(
  `together / faster alone = ${fmt(rab.reqPerSec)} / ${fmt(best)} = ${fmt(rab.reqPerSec / best, 2)}; median of rounds ${fmt(rBest, 2)} (goal ≥ 1: ${rBest >= 1 ? 'met' : 'NOT met'})`,
);
if (rab.routing) {
  console.log(`\n| ${a}+${b} round | instance | batches | items | share of items | share of speed alone (req/s alone) | cost per batch size (ms) |`);
  console.log('|--:|--|--:|--:|--:|--:|--|');
  for (const [i, r] of all[`${a}+${b}`].entries()) {
    const items = (r.routing ?? []).reduce((x, y) => x + (y.items ?? 0), 0);
    const alone = { [a]: all[a][i]?.reqPerSec, [b]: all[b][i]?.reqPerSec };
    const speed = (alone[a] ?? 0) + (alone[b] ?? 0);
    for (const inst of r.routing ?? []) {
      const key = inst.device === a ? a : b;
      const costs = inst.costs
        ? Object.entries(inst.costs)
            .map(([k, v]) => `${k}: ${fmt(v, 1)}`)
            .join(', ')
        : `1: ${fmt(inst.costMs, 1)}`;
      console.log(
        `| ${r.round} | ${inst.device} | ${inst.routed} | ${inst.items ?? '–'} | ${fmt((100 * (inst.items ?? 0)) / (items || 1), 0)}% | ${fmt((100 * (alone[key] ?? NaN)) / speed, 0)}% (${fmt(alone[key])}) | ${costs} |`,
      );
    }
  }
  console.log(`\nlast routing decision (last round): ${rab.lastDecision ?? '–'}`);
}
if (out)
  writeFileSync(
    out,
    `${JSON.stringify({ at: new Date().toISOString(), model, devices: [a, b], concurrency: c, seconds, targetMs, batching: batchingMode, maxBatch, rounds, runs, ratio, medianRoundRatio: rRatio, medianRoundVsFaster: rBest }, null, 2)}\n`,
  );
