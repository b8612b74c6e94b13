#!/usr/bin/env node
// Experiment (issue #7, 2026-11-26): does a session opened with CUDA/TensorRT provider options through
// onnxruntime's C API (src/core/backends/ort-capi.ts) give the CPU EP's outputs, batch sizes in the order
// given on one session (a CUDA graph session captures one graph per shape and must replay the right one when
// the shape comes back)? Prints max |Δ|, cosine and argmax agreement per batch, then a timed loop per batch
// (p50, ms). Answer: yes for 1/32/1, with and without graphs, once a new shape reopens the session.
// Logs: docs/results/2026-11-26-h200-cuda-graph.log, …-cuda-graph-final.log (run by gpu-cuda-graph.sh).
// Run (npm run build first): node scripts/experiments/cuda-graph-compare.mjs MODEL PROVIDER BATCHES [key=value ...]
//   e.g. node scripts/experiments/cuda-graph-compare.mjs m.onnx cuda 1,32,1 enable_cuda_graph=1
import { floatToHalf, openSession } from '../../dist/index.js';
import { outputAgreement } from './output-agreement.mjs';

const [model, provider, batchList = '1', ...kv] = process.argv.slice(2);
const epOptions = Object.fromEntries(kv.map((s) => [s.slice(0, s.indexOf('=')), s.slice(s.indexOf('=') + 1)]));
const target = (p) => ({ runtime: 'onnxruntime', provider: p, deviceId: 0, env: {}, profileName: p });
const { session: cpu } = await openSession(target('cpu'), model);
const t0 = performance.now();
const { session: other } = await openSession(target(provider), model, { epOptions, strict: true }); // every node on the EP, or refused
const sessionMs = performance.now() - t0;
const spec = cpu.inputs[0];
let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
for (const batch of batchList.split(',').map(Number)) {
  const dims = spec.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? batch : 1));
  const size = dims.reduce((a, b) => a * b, 1);
  const data = spec.type === 'float16' ? Uint16Array.from({ length: size }, () => floatToHalf(rnd())) : Float32Array.from({ length: size }, rnd);
  const feeds = { [spec.name]: { type: spec.type, dims, data } };
  const a = Object.values(await cpu.run(feeds))[0];
  let b;
  for (let i = 0; i < 4; i++) b = Object.values(await other.run(feeds))[0]; // a CUDA graph is captured after the warm-up runs
  const times = [];
  const end = performance.now() + 3000;
  while (performance.now() < end) { const s = performance.now(); await other.run(feeds); times.push(performance.now() - s); }
  times.sort((p, q) => p - q);
  const p50 = times[Math.floor(times.length / 2)];
  console.log(JSON.stringify({ model: model.split('/').pop(), provider, epOptions, sessionMs: Math.round(sessionMs), batch, ...outputAgreement(a, b, batch), runs: times.length, p50Ms: Math.round(p50 * 1000) / 1000, perImageThroughput: Math.round((1000 / p50) * batch) }));
}
const placement = await other.placement();
if (placement) console.log(JSON.stringify({ placement }));
await other.dispose();
await cpu.dispose();
