#!/usr/bin/env node
// Runs one model on the CPU EP and on another EP with the same input and prints how far the outputs are apart
// (max |Δ|, cosine, argmax agreement per row), over several runs of the EP (a captured CUDA graph replays
// from the third). Usage: node scripts/cuda-compare.mjs <model.onnx> <ep> [batch] [key=value session config]...
import ort from 'onnxruntime-node';
import { floatToHalf, halfToFloat } from '../dist/core/quantize/onnx-model.js'; // npm run build first

const [model, ep, batch = '4', ...config] = process.argv.slice(2);
const entries = Object.fromEntries(config.map((kv) => kv.split('=')));
const make = (name) => ort.InferenceSession.create(model, { executionProviders: [name === 'cpu' ? 'cpu' : { name }], logSeverityLevel: 3, extra: name === 'cpu' ? {} : { ...entries, session: { disable_cpu_ep_fallback: '1' } } });
const cpu = await make('cpu');
const other = await make(ep);
const meta = cpu.inputMetadata[0];
const dims = meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? Number(batch) : 1));
const size = dims.reduce((a, b) => a * b, 1);
let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
let tensor;
if (meta.type === 'float16') tensor = new ort.Tensor('float16', Uint16Array.from({ length: size }, () => floatToHalf(rnd())), dims);
else tensor = new ort.Tensor('float32', Float32Array.from({ length: size }, rnd), dims);
const feeds = { [meta.name]: tensor };
const a = (await cpu.run(feeds))[cpu.outputNames[0]];
let b;
for (let i = 0; i < 5; i++) b = (await other.run(feeds))[other.outputNames[0]];
const toF = (t) => (t.type === 'float16' ? Float32Array.from(t.data, halfToFloat) : t.data);
const x = toF(a), y = toF(b);
let dot = 0, nx = 0, ny = 0, maxd = 0;
for (let i = 0; i < x.length; i++) { dot += x[i] * y[i]; nx += x[i] * x[i]; ny += y[i] * y[i]; maxd = Math.max(maxd, Math.abs(x[i] - y[i])); }
const rows = dims[0], cols = x.length / rows;
let agree = 0;
for (let r = 0; r < rows; r++) {
  let ia = 0, ib = 0;
  for (let c = 1; c < cols; c++) { if (x[r * cols + c] > x[r * cols + ia]) ia = c; if (y[r * cols + c] > y[r * cols + ib]) ib = c; }
  if (ia === ib) agree++;
}
console.log(JSON.stringify({ model, ep, config: entries, batch: rows, maxAbsDiff: maxd, cosine: dot / Math.sqrt(nx * ny), argmaxAgreement: `${agree}/${rows}` }));
