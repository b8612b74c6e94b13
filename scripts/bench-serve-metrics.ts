#!/usr/bin/env -S node --import tsx
// Cost of the serve metrics on the request path and of one telemetry sample, to put against a
// request's own time (the bound: metrics + tracing cost ≤ 3 % of throughput at saturation).
// Per call: recordRequest + recordBatch (+ setPending twice, as a server does per request), with and
// without the opt-in summaries, over 8 model versions; the exposition of that registry; one sample of
// this machine's CPU device (/proc/stat, /proc/meminfo, RAPL, hwmon).
// Usage: node --import tsx scripts/bench-serve-metrics.ts [iterations=200000]
import { nodeHost } from '../src/core/devices/host.js';
import { createTelemetrySampler } from '../src/core/devices/telemetry.js';
import { createServeMetrics } from '../src/core/serve-metrics/index.js';

const n = Number(process.argv[2] ?? 200_000);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function perRequest(summaries: boolean): number {
  const m = createServeMetrics({ summaries });
  const run = (count: number): number => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; i++) {
      const version = String(i & 7);
      m.setPending('tiny', version, 1);
      m.recordRequest({ model: 'tiny', version, outcome: 'success', queueS: 0.0001, inputS: 0.00005, inferS: 0.001 + (i % 100) * 1e-5, outputS: 0.00002, batch: 1 });
      m.recordBatch({ model: 'tiny', version, size: 1, device: 'CPU', inferS: 0.001 });
      m.setPending('tiny', version, 0);
    }
    return Number(process.hrtime.bigint() - t0) / count;
  };
  run(Math.min(n, 20_000)); // warm-up (JIT)
  return median([run(n), run(n), run(n)]);
}

async function exposition(): Promise<number> {
  const m = createServeMetrics();
  for (let v = 0; v < 8; v++) m.recordRequest({ model: 'tiny', version: String(v), outcome: 'success', inferS: 0.001 });
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = process.hrtime.bigint();
    await m.exposition();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

async function sample(): Promise<number> {
  const s = createTelemetrySampler({ host: nodeHost(process.env), devices: [{ id: 'CPU', kind: 'cpu', vendor: 'x', name: 'x' }] });
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = process.hrtime.bigint();
    await s.sample();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

const plain = perRequest(false);
const withSummaries = perRequest(true);
console.log(`node ${process.version}, ${n} requests x 3 runs (median), 8 model versions`);
console.log(`per request, histograms + counters:        ${(plain / 1000).toFixed(2)} µs`);
console.log(`per request, with the latency summaries:   ${(withSummaries / 1000).toFixed(2)} µs`);
console.log(`exposition (8 versions, no summaries):     ${(await exposition()).toFixed(2)} ms`);
console.log(`one CPU telemetry sample:                  ${(await sample()).toFixed(2)} ms`);
console.log(`share of a 1 ms request: ${((plain / 1e6) * 100).toFixed(2)} % (summaries: ${((withSummaries / 1e6) * 100).toFixed(2)} %)`);
