#!/usr/bin/env node
// Experiment (issue #7, 2026-11-26): do the CUDA EP's outputs match the CPU EP's on the same input, and do
// `ep.cuda.*` session config entries keep them matching? Runs one model on the CPU EP and on another EP and
// prints max |Δ|, cosine and argmax agreement per row, over several runs of the EP (a captured CUDA graph
// replays from the third). Answer: cosine 0.9999995–0.9999997, every argmax agrees.
// Logs: docs/results/2026-11-26-h200-cuda.log, …-cuda-config.log (run by gpu-cuda.sh, gpu-cuda-config.sh).
// Run (npm run build first): node scripts/experiments/cuda-compare.mjs <model.onnx> <ep> [batch] [key=value session config]...
import ort from 'onnxruntime-node';
import { floatToHalf } from '../../dist/index.js'; // npm run build first
import { outputAgreement } from './output-agreement.mjs';

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
console.log(JSON.stringify({ model, ep, config: entries, batch: dims[0], ...outputAgreement(a, b, dims[0]) }));
