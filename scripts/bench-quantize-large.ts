#!/usr/bin/env -S node --import tsx
// `aivmm quantize` on a model over 2 GB (issue #5 "Scale"): an MLP of 8192×8192 float32 MatMuls whose
// weights live in ONNX external data, written chunk by chunk (this script never holds the weights).
// Reports time and peak RSS while reading + quantizing + writing (before onnxruntime loads anything)
// and after the fidelity check (two onnxruntime sessions hold the float and quantized weights).
//
//   node --import tsx scripts/bench-quantize-large.ts [--gib 2.25] [--mode dynamic|fp16|static] [--keep]
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../src/core/onnx/builder.js';
import type { TensorInit } from '../src/core/onnx/model.js';
import { writeModelFile } from '../src/core/onnx/writer.js';
import { quantizeModel } from '../src/core/quantize/index.js';
import type { QuantizeMode } from '../src/core/quantize/index.js';
import { seededRandom } from '../src/core/random.js';
import { CPU_TARGET } from '../src/core/backends/ep-map.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const GiB = 1024 ** 3;
const gib = Number(flag('gib') ?? 2.25);
const mode = (flag('mode') ?? 'dynamic') as QuantizeMode;
const width = 8192;
const layerBytes = width * width * 4;
const layers = Math.ceil((gib * GiB) / layerBytes);

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-large-'));
try {
  // Weights: N(0, 2/width) from a seeded generator, streamed to the data file 16 MiB at a time.
  const dataPath = join(dir, 'mlp.onnx.data');
  const fd = openSync(dataPath, 'w');
  const rand = seededRandom(7);
  const chunk = new Float32Array(4 * 1024 * 1024);
  const std = Math.sqrt(2 / width);
  let offset = 0;
  const t0 = performance.now();
  const b = new GraphBuilder(1);
  let x = b.input({ name: 'x', dataType: 'float32', shape: ['N', width] });
  const inits: TensorInit[] = [];
  for (let l = 0; l < layers; l++) {
    const start = offset;
    for (let done = 0; done < width * width; done += chunk.length) {
      for (let i = 0; i < chunk.length; i += 2) {
        const u1 = Math.max(rand(), 1e-12);
        const u2 = rand();
        const r = Math.sqrt(-2 * Math.log(u1)) * std;
        chunk[i] = r * Math.cos(2 * Math.PI * u2);
        chunk[i + 1] = r * Math.sin(2 * Math.PI * u2);
      }
      offset += writeSync(fd, new Uint8Array(chunk.buffer), 0, chunk.byteLength, offset);
    }
    const name = `w${l}`;
    inits.push({ name, dataType: 'float32', dims: [width, width], data: new Uint8Array(0), external: { path: dataPath, offset: start, length: layerBytes } });
    x = b.op('MatMul', [x, name]);
    if (l < layers - 1) x = b.op('Relu', [x]);
  }
  closeSync(fd);
  b.nodes[b.nodes.length - 1] = { ...b.nodes[b.nodes.length - 1]!, outputs: ['y'] };
  b.output({ name: 'y', dataType: 'float32', shape: ['N', width] });
  const modelPath = join(dir, 'mlp.onnx');
  await writeModelFile(modelPath, { graph: { ...b.graph('large-mlp'), initializers: inits } }, { referenceExternal: true });
  const size = statSync(modelPath).size + statSync(dataPath).size;
  console.log(`model: ${layers} × MatMul ${width}×${width}, ${(size / GiB).toFixed(2)} GiB (external data), written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const rssStart = process.memoryUsage().rss;
  let beforeRuntime: number | undefined;
  let quantizeDone: number | undefined;
  const q0 = performance.now();
  const report = await quantizeModel({
    model: modelPath,
    output: join(dir, 'out', `mlp.${mode}.onnx`),
    mode,
    perChannel: true,
    method: 'minmax',
    exclude: [],
    keepIoTypes: true,
    calibration: 'random:4',
    target: CPU_TARGET,
    device: { id: 'CPU', name: 'CPU', backend: 'ort-cpu' },
    latencyMs: 0,
    onEvent: (e) => {
      // The quantizer's own footprint: everything before onnxruntime sessions load weights (static mode
      // calibrates first, so there the runtime is already in).
      if (e.kind === 'stage' && (e.stage === 'evaluate' || (e.stage === 'calibrate' && beforeRuntime === undefined))) {
        beforeRuntime ??= process.resourceUsage().maxRSS * 1024;
      }
      if (e.kind === 'stage' && e.stage === 'evaluate') quantizeDone = performance.now();
    },
  });
  const total = performance.now() - q0;
  const peak = process.resourceUsage().maxRSS * 1024;
  const mib = (n: number): string => `${Math.round(n / 1024 ** 2)} MiB`;
  console.log(`aivmm quantize --mode ${mode}: ${(((quantizeDone ?? performance.now()) - q0) / 1000).toFixed(1)} s to read, quantize and write; ${(total / 1000).toFixed(1)} s with the fidelity check`);
  console.log(`output: ${(report.output.bytes / GiB).toFixed(2)} GiB (${(report.size.ratio * 100).toFixed(1)}%), data file ${report.output.dataPath ? 'yes' : 'no'}; cosine ${report.fidelity.cosine.toFixed(5)}`);
  console.log(`peak RSS: ${mib(beforeRuntime ?? peak)} before onnxruntime loads the models (${((beforeRuntime ?? peak) / size * 100).toFixed(1)}% of the weights; script baseline ${mib(rssStart)}), ${mib(peak)} at the end (float + quantized sessions)`);
  if (args.includes('--keep')) console.log(`kept in ${dir}`);
} finally {
  if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
}
