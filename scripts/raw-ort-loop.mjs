#!/usr/bin/env node
// The reference for bench-overhead.mjs: the smallest honest onnxruntime-node timing loop — one session,
// one pre-built input tensor, `await session.run()` timed with performance.now(). Prints {p50, n} as JSON.
// Usage: node scripts/raw-ort-loop.mjs <model.onnx> <threads> <warmup> <iterations> [batch]
import ort from 'onnxruntime-node';

const [model, threads, warmup, iterations, batch = '1'] = process.argv.slice(2);
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: Number(threads), logSeverityLevel: 3 });
const meta = session.inputMetadata[0];
const dims = meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? Number(batch) : 1));
const size = dims.reduce((a, b) => a * b, 1);
const data = new Float32Array(size);
for (let i = 0; i < size; i++) data[i] = Math.random() * 2 - 1;
const feeds = { [meta.name]: new ort.Tensor('float32', data, dims) };
for (let i = 0; i < Number(warmup); i++) await session.run(feeds);
const times = [];
for (let i = 0; i < Number(iterations); i++) {
  const t0 = performance.now();
  await session.run(feeds);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const n = times.length;
const p50 = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
process.stdout.write(`${JSON.stringify({ p50, n })}\n`);
