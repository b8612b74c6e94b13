#!/usr/bin/env node
// Experiment (issue #17, 2026-12-02): why did dynamic batching on the CUDA EP cost ~100 ms a batch when the
// batch size alternated (1, 15, 1, 15 …) against ~5 ms at a fixed size? Runs one model through aivmm's
// openSession on the CUDA EP: (a) one session, sizes alternating; (b) one session per size
// (`sessionPerBatchSize`), sizes alternating; (c) one session, one size; and (a) again with
// `cudnn_conv_algo_search` HEURISTIC and DEFAULT. Prints the median ms per run of each size.
// Run (GPU machine, after `aivmm setup cuda --from`; npm run build first):
//   node scripts/experiments/cuda-shape-switch.mjs MODEL.onnx [sizes=1,15] [runs=20]
import { openSession } from '../../dist/index.js';

const [model, sizesArg = '1,15', runsArg = '20'] = process.argv.slice(2);
const sizes = sizesArg.split(',').map(Number);
const runs = Number(runsArg);
const target = { runtime: 'onnxruntime', provider: 'cuda', deviceId: 0, env: {}, profileName: 'CUDAExecutionProvider' };
const median = (xs) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];

async function trial(name, opts, order) {
  const { session } = await openSession(target, model, opts);
  const input = session.inputs[0];
  const feeds = (b) => {
    const dims = input.shape.map((d, i) => (i === 0 ? b : typeof d === 'number' && d > 0 ? d : 1));
    const n = dims.reduce((a, x) => a * x, 1);
    return { [input.name]: { type: 'float32', dims, data: new Float32Array(n).fill(0.5) } };
  };
  for (const b of new Set(order)) for (let i = 0; i < 2; i++) await session.run(feeds(b)); // warm each size twice
  const times = {};
  for (let r = 0; r < runs; r++)
    for (const b of order) {
      const t0 = performance.now();
      await session.run(feeds(b));
      (times[b] ??= []).push(performance.now() - t0);
    }
  await session.dispose();
  const row = Object.fromEntries(Object.entries(times).map(([b, t]) => [b, Number(median(t).toFixed(2))]));
  console.log(JSON.stringify({ trial: name, order, medianMsBySize: row }));
}

await trial('one session, alternating', {}, sizes);
await trial('session per size, alternating', { sessionPerBatchSize: 16 }, sizes);
for (const b of sizes) await trial(`one session, size ${b} only`, {}, [b]);
await trial('one session, alternating, cudnn_conv_algo_search=HEURISTIC', { epOptions: { cudnn_conv_algo_search: 'HEURISTIC' } }, sizes);
await trial('one session, alternating, cudnn_conv_algo_search=DEFAULT', { epOptions: { cudnn_conv_algo_search: 'DEFAULT' } }, sizes);
