#!/usr/bin/env node
// Batching end to end (issue #17): the real server (`aivmm serve --config`) with dynamic batching off,
// fixed and adaptive, each driven by the real load generator (`aivmm bench --server`, binary tensors,
// closed loop) at each concurrency. Modes are interleaved per concurrency (one server per mode and
// concurrency, started fresh) so machine drift hits every mode alike. Prints req/s and p95 per
// (mode, concurrency), the mean batch size, the adaptive choice (maxTake) and the load-time warm-up of every
// batch size (the registry runs each candidate size twice before READY) from /v2/models/{m}/stats.
//
// Usage: npm run build && node scripts/bench-serve-batching.mjs [--model PATH|alias] [--device CPU|GPU.0]
//          [--backend ort-cuda|ort-webgpu] [--concurrency 1,4,16,64] [--seconds 2] [--target 50]
//          [--max-batch 32] [--threads N] [--out docs/results/x.json] [--bin ../old/bin/aivmm.js]
//          [--modes off,fixed,adaptive[,fixed-one-session,adaptive-one-session,fixed-per-size]]
// GPU machine: .gpu/node/bin/node scripts/bench-serve-batching.mjs --device GPU.0 --backend ort-cuda --model /work/models/resnet50.onnx
import { writeFileSync } from 'node:fs';
import { benchServer, deviceKey, flags, fmt, modelStats, startServe } from './serve-bench-lib.mjs';

const flag = flags();
const model = flag('model', 'mobilenetv2-seeded');
const device = deviceKey(flag('device', 'CPU'), flag('backend', undefined));
const levels = flag('concurrency', '1,4,16,64').split(',').map(Number);
const seconds = Number(flag('seconds', '2'));
const targetMs = Number(flag('target', '50'));
const maxBatch = Number(flag('max-batch', '32'));
const threads = flag('threads', undefined);
const out = flag('out', undefined);
// --lane thread: instances on a worker thread of the server (tensors are handed over, not copied through a pipe)
const lane = flag('lane', undefined);
// --bin: another checkout's bin/aivmm.js (an older build) for the server; the load generator stays this checkout's
const serveBin = flag('bin', undefined);

const base = { model, instances: { [device]: 1 }, max_queue: 1024, ...(threads ? { threads: Number(threads) } : {}) };
const fixed = { max_batch_size: maxBatch, max_queue_delay: '5ms' };
const adaptive = { max_batch_size: maxBatch, latency_target: { p95: `${targetMs}ms` } };
// "-one-session": one session for every batch size even where `auto` keeps one per size (CUDA, TensorRT).
const allModes = {
  off: base,
  fixed: { ...base, dynamic_batching: fixed },
  adaptive: { ...base, dynamic_batching: adaptive },
  'fixed-one-session': { ...base, dynamic_batching: { ...fixed, session_per_batch_size: false } },
  'adaptive-one-session': { ...base, dynamic_batching: { ...adaptive, session_per_batch_size: false } },
  'fixed-per-size': { ...base, dynamic_batching: { ...fixed, session_per_batch_size: true } },
};
const modeNames = flag('modes', 'off,fixed,adaptive').split(',');
for (const m of modeNames) if (!(m in allModes)) throw new Error(`--modes: unknown mode '${m}' (${Object.keys(allModes).join(', ')})`);
const modes = Object.fromEntries(modeNames.map((m) => [m, allModes[m]]));

const rows = [];
for (const c of levels) {
  for (const [mode, m] of Object.entries(modes)) {
    const s = await startServe({ ...(lane ? { server: { lane } } : {}), models: { m } }, [], serveBin ? { bin: serveBin } : {});
    try {
      const [p] = await benchServer(s.url, 'm', c, { windowMs: seconds * 1000, maxWindows: 4 });
      const st = await modelStats(s.url, 'm');
      const row = {
        mode,
        concurrency: c,
        reqPerSec: p.throughput.requestsPerSec,
        p95Ms: p.stats?.p95 ?? NaN,
        errors: p.errors,
        stable: p.stable,
        meanBatch: st?.batching?.meanBatchSize ?? 1,
        batching: st?.batching
          ? {
              sizes: st.batching.sizes,
              windowMs: st.batching.windowMs,
              targetBatchSize: st.batching.targetBatchSize,
              maxTake: st.batching.maxTake,
              costs: st.batching.costs,
            }
          : undefined,
        warmupMs: st?.warmup?.ms,
      };
      rows.push(row);
      console.error(
        `${mode} c=${c}: ${fmt(row.reqPerSec)} req/s, p95 ${fmt(row.p95Ms)} ms, mean batch ${fmt(row.meanBatch, 2)}${row.batching ? `, maxTake ${row.batching.maxTake}` : ''}${row.warmupMs !== undefined ? `, warm-up ${fmt(row.warmupMs)} ms at load` : ''}`,
      );
    } finally {
      await s.stop();
    }
  }
}

console.log(`\n${model} on ${device}, batch-1 requests, closed loop, adaptive target p95 ${targetMs} ms\n`);
console.log(
  '| concurrency | ' +
    Object.keys(modes)
      .map((m) => `${m} req/s · p95 · mean batch`)
      .join(' | ') +
    ' |',
);
console.log(
  '|--:|' +
    Object.keys(modes)
      .map(() => '--')
      .join('|') +
    '|',
);
for (const c of levels) {
  const cells = Object.keys(modes).map((m) => {
    const r = rows.find((x) => x.mode === m && x.concurrency === c);
    return r ? `${fmt(r.reqPerSec)} · ${fmt(r.p95Ms)} ms · ${fmt(r.meanBatch, 1)}` : '–';
  });
  console.log(`| ${c} | ${cells.join(' | ')} |`);
}
if (out) writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), model, device, seconds, targetMs, maxBatch, rows }, null, 2)}\n`);
