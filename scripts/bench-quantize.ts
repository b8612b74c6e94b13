#!/usr/bin/env -S node --import tsx
// Benchmark of `aivmm quantize` (issue #5) on the MobileNetV2-architecture model, side by side in one
// run with onnxruntime's own Python quantizer output for the same model and calibration inputs
// (bench-data/quantize/, made once by scripts/peer/ort_quantize.py on a machine with onnxruntime's
// Python package). Every model is timed in interleaved blocks on one input, so machine drift hits all
// alike; fidelity is measured against FP32 on held-back inputs that calibration never saw.
//
//   node --import tsx scripts/bench-quantize.ts [--seconds 20] [--threads N] [--out file.json]
//   node --import tsx scripts/bench-quantize.ts --export DIR   (model + calibration .npy for the peer)
//   node --import tsx scripts/bench-quantize.ts --models /work/models [--seconds 10] [--only a,b] [--out f.json]
//     every real exporter model in DIR (torchvision exports by scripts/fixtures/export_torchvision.py)
//     side by side with onnxruntime's Python quantizer output in DIR/ort/: static QDQ per channel for
//     the conv nets (both calibrated on DIR/calib/image/*.npy), dynamic for bert_small. Prints latency
//     vs FP32, cosine to FP32, size vs FP32, and the QuantizeLinear/DequantizeLinear nodes left outside
//     integer kernels in onnxruntime's optimised graph.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { buildMobilenetV2 } from '../src/core/models/embedded.js';
import type { HostTensor, Session } from '../src/core/backends/types.js';
import { ortBackend } from '../src/core/backends/ort.js';
import { quantizeModel } from '../src/core/quantize/index.js';
import type { QuantizeOptions } from '../src/core/quantize/index.js';
import { decodeModel } from '../src/core/onnx/reader.js';
import { modelInputs, randomSamples } from '../src/core/quantize/samples.js';
import { toFloats } from '../src/core/quantize/report.js';
import { CPU_TARGET } from '../src/core/backends/ep-map.js';
import * as OrtModule from 'onnxruntime-node';
import { seededRandom } from '../src/core/random.js';
import { indexLimits, sampleShapes } from '../src/core/quantize/samples.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const SEED = 1;
const CALIBRATION = 32;
const PEER_DIR = join(import.meta.dirname, '..', 'bench-data', 'quantize');
const cpu = CPU_TARGET;
/** What every quantizer run here shares: minmax, nothing excluded, float I/O kept, CPU EP, no latency stage (timed below). */
const FIXED = { method: 'minmax', exclude: [], keepIoTypes: true, target: cpu, device: { id: 'CPU', name: 'CPU', backend: 'ort-cpu' }, latencyMs: 0 } as const;

const fp32Bytes = buildMobilenetV2();
const inputs = modelInputs(decodeModel(fp32Bytes));
// The same samples `aivmm quantize --calibration random:32 --seed 1` calibrates on and is judged on.
const calibration = randomSamples(inputs, CALIBRATION, SEED);
const heldBack = randomSamples(inputs, 16, SEED + 1_000_003);

function npy(t: HostTensor): Buffer {
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${t.dims.join(', ')}${t.dims.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  const h = `${header}${' '.repeat(pad % 64)}\n`;
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(h.length, 8);
  const data = t.data as Float32Array;
  return Buffer.concat([pre, Buffer.from(h, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

const modelsDir = flag('models');
if (modelsDir) {
  await benchModels(modelsDir);
  process.exit(0);
}

const exportDir = flag('export');
if (exportDir) {
  mkdirSync(join(exportDir, 'calib'), { recursive: true });
  writeFileSync(join(exportDir, 'model.onnx'), fp32Bytes);
  calibration.forEach((s, i) => writeFileSync(join(exportDir, 'calib', `${String(i).padStart(3, '0')}.npy`), npy(s['input']!)));
  console.log(`wrote ${exportDir}/model.onnx and ${calibration.length} calibration samples`);
  process.exit(0);
}

const seconds = Number(flag('seconds') ?? 20);
const threads = flag('threads') ? Number(flag('threads')) : undefined;
const work = mkdtempSync(join(os.tmpdir(), 'aivmm-bench-quantize-'));
try {
  const fp32Path = join(work, 'mobilenetv2-fp32.onnx');
  writeFileSync(fp32Path, fp32Bytes);
  const base: Omit<QuantizeOptions, 'output' | 'mode' | 'perChannel'> = { model: fp32Path, calibration: `random:${CALIBRATION}`, ...FIXED, seed: SEED };
  const ours: { label: string; path: string; quantizeMs: number }[] = [];
  for (const [label, mode, perChannel] of [
    ['aivmm static QDQ (per-channel)', 'static', true],
    ['aivmm static QDQ (per-tensor)', 'static', false],
    ['aivmm dynamic', 'dynamic', true],
    ['aivmm fp16', 'fp16', true],
  ] as const) {
    const output = join(work, `${label.replace(/\W+/g, '-')}.onnx`);
    const t0 = performance.now();
    await quantizeModel({ ...base, output, mode, perChannel });
    ours.push({ label, path: output, quantizeMs: performance.now() - t0 });
  }
  const peers = [
    ['onnxruntime quantize_static QDQ (defaults)', 'ort-static-qdq.onnx'],
    ['onnxruntime quantize_static QDQ (per_channel)', 'ort-static-qdq-per-channel.onnx'],
    ['onnxruntime quantize_dynamic (defaults)', 'ort-dynamic.onnx'],
  ]
    .map(([label, file]) => ({ label: label!, path: join(PEER_DIR, file!) }))
    .filter((p) => existsSync(p.path));
  const peerInfo = existsSync(join(PEER_DIR, 'peer.json')) ? (JSON.parse(readFileSync(join(PEER_DIR, 'peer.json'), 'utf8')) as Record<string, unknown>) : undefined;
  if (peers.length === 0) console.error(`no peer models in ${PEER_DIR}: comparing aivmm's outputs only`);

  const models = [{ label: 'FP32', path: fp32Path, quantizeMs: 0 }, ...ours, ...peers.map((p) => ({ ...p, quantizeMs: Number.NaN }))];
  const sessions: Session[] = [];
  // Idle intra-op threads must not spin: the next model in the round-robin would compete with them.
  for (const m of models) sessions.push(await ortBackend.load(m.path, cpu, { spinning: false, ...(threads ? { threads } : {}) }));

  // Fidelity against FP32 on the held-back inputs.
  const ref = await Promise.all(heldBack.map((f) => sessions[0]!.run(f)));
  const fidelity: { cosine: number; maxAbs: number; top1: number }[] = [];
  for (const s of sessions) {
    let dot = 0;
    let aa = 0;
    let bb = 0;
    let maxAbs = 0;
    let agree = 0;
    for (const [i, f] of heldBack.entries()) {
      const a = toFloats(ref[i]!['output']!);
      const b = toFloats((await s.run(f))['output']!);
      let ia = 0;
      let ib = 0;
      for (let k = 0; k < a.length; k++) {
        dot += a[k]! * b[k]!;
        aa += a[k]! ** 2;
        bb += b[k]! ** 2;
        maxAbs = Math.max(maxAbs, Math.abs(a[k]! - b[k]!));
        if (a[k]! > a[ia]!) ia = k;
        if (b[k]! > b[ib]!) ib = k;
      }
      if (ia === ib) agree++;
    }
    fidelity.push({ cosine: dot / Math.sqrt(aa * bb), maxAbs, top1: agree / heldBack.length });
  }

  // Latency: blocks of 5 runs per model, round-robin, for `seconds`.
  const feeds = heldBack[0]!;
  for (const s of sessions) for (let i = 0; i < 10; i++) await s.run(feeds);
  const times: number[][] = sessions.map(() => []);
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (const [k, s] of sessions.entries()) {
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await s.run(feeds);
        times[k]!.push(performance.now() - t0);
      }
    }
  }
  const median = (v: number[]): number => {
    const s = [...v].sort((x, y) => x - y);
    return s[s.length >> 1]!;
  };
  const fp32Ms = median(times[0]!);
  const fp32Size = statSync(fp32Path).size;
  const rows = models.map((m, k) => ({
    model: m.label,
    p50Ms: Number(median(times[k]!).toFixed(3)),
    vsFp32: Number((median(times[k]!) / fp32Ms).toFixed(3)),
    runs: times[k]!.length,
    cosine: Number(fidelity[k]!.cosine.toFixed(6)),
    maxAbsError: Number(fidelity[k]!.maxAbs.toPrecision(3)),
    top1Agreement: fidelity[k]!.top1,
    bytes: statSync(m.path).size,
    sizeVsFp32: Number((statSync(m.path).size / fp32Size).toFixed(4)),
    ...(Number.isFinite(m.quantizeMs) && m.quantizeMs > 0 ? { quantizeSeconds: Number((m.quantizeMs / 1000).toFixed(2)) } : {}),
  }));
  for (const s of sessions) await s.dispose();
  const cpuModel = os.cpus()[0]?.model ?? 'unknown';
  const vnni = existsSync('/proc/cpuinfo') && /avx512_vnni|avx_vnni/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  console.log(`MobileNetV2 (seeded weights), batch 1, CPU EP, ${os.cpus().length} logical CPUs (${cpuModel}${vnni ? ', VNNI' : ''}), ${seconds} s interleaved`);
  console.log(`${'model'.padEnd(48)} ${'p50 ms'.padStart(8)} ${'vs FP32'.padStart(8)} ${'cosine'.padStart(9)} ${'max|err|'.padStart(9)} ${'top-1'.padStart(6)} ${'size'.padStart(7)}`);
  for (const r of rows) {
    console.log(
      `${r.model.padEnd(48)} ${r.p50Ms.toFixed(2).padStart(8)} ${r.vsFp32.toFixed(2).padStart(8)} ${r.cosine.toFixed(5).padStart(9)} ${String(r.maxAbsError).padStart(9)} ${`${Math.round(r.top1Agreement * 100)}%`.padStart(6)} ${`${(r.sizeVsFp32 * 100).toFixed(1)}%`.padStart(7)}`,
    );
  }
  const out = flag('out');
  if (out) {
    writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), host: { cpus: os.cpus().length, cpu: cpuModel, vnni }, seconds, heldBack: heldBack.length, calibration: CALIBRATION, peer: peerInfo, rows }, null, 2)}\n`);
    console.log(`wrote ${out}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** Ops in onnxruntime's optimised graph (level all, CPU EP): what actually runs. */
async function optimizedOps(path: string, dir: string): Promise<Record<string, number>> {
  const ort = (OrtModule as unknown as { default?: typeof OrtModule }).default ?? OrtModule;
  const out = join(dir, `optimized-${Math.random().toString(36).slice(2)}.onnx`);
  await (await ort.InferenceSession.create(path, { graphOptimizationLevel: 'all', optimizedModelFilePath: out, logSeverityLevel: 3 })).release();
  const ops: Record<string, number> = {};
  for (const n of decodeModel(new Uint8Array(readFileSync(out))).graph.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  rmSync(out, { force: true });
  return ops;
}

function fidelityOf(ref: Record<string, HostTensor>[], cand: Record<string, HostTensor>[]): { cosine: number; maxAbs: number } {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  let maxAbs = 0;
  for (const [i, r] of ref.entries()) {
    for (const [name, t] of Object.entries(r)) {
      if (t.type !== 'float32') continue;
      const a = toFloats(t);
      const b = toFloats(cand[i]![name]!);
      for (let k = 0; k < a.length; k++) {
        dot += a[k]! * b[k]!;
        aa += a[k]! ** 2;
        bb += b[k]! ** 2;
        maxAbs = Math.max(maxAbs, Math.abs(a[k]! - b[k]!));
      }
    }
  }
  return { cosine: dot / Math.sqrt(aa * bb), maxAbs };
}

/**
 * Images like DIR/calib/image (scripts/fixtures/make_calibration.py): a 7×7 grid of random colours
 * upsampled bilinearly plus fine noise, in [0, 1], ImageNet-normalised — from another seed, so neither
 * quantizer calibrated on them.
 */
function smoothImages(count: number, seed: number, inputName: string): Record<string, HostTensor>[] {
  const rand = seededRandom(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const S = 224;
  const out: Record<string, HostTensor>[] = [];
  for (let k = 0; k < count; k++) {
    const grid = Float32Array.from({ length: 3 * 49 }, () => rand());
    const data = new Float32Array(3 * S * S);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < S; y++) {
        const gy = (y * 6) / (S - 1);
        const y0 = Math.min(5, Math.floor(gy));
        const fy = gy - y0;
        for (let x = 0; x < S; x++) {
          const gx = (x * 6) / (S - 1);
          const x0 = Math.min(5, Math.floor(gx));
          const fx = gx - x0;
          const g = (r: number, q: number): number => grid[c * 49 + r * 7 + q]!;
          const v = (g(y0, x0) * (1 - fx) + g(y0, x0 + 1) * fx) * (1 - fy) + (g(y0 + 1, x0) * (1 - fx) + g(y0 + 1, x0 + 1) * fx) * fy;
          const p = Math.min(1, Math.max(0, v + 0.03 * gauss()));
          data[c * S * S + y * S + x] = (p - mean[c]!) / std[c]!;
        }
      }
    }
    out.push({ [inputName]: { type: 'float32', dims: [1, 3, S, S], data } });
  }
  return out;
}

async function benchModels(dir: string): Promise<void> {
  const seconds = Number(flag('seconds') ?? 10);
  const threads = flag('threads') ? Number(flag('threads')) : undefined;
  const only = flag('only')?.split(',');
  const work = mkdtempSync(join(os.tmpdir(), 'aivmm-bench-quantize-models-'));
  const calibDir = join(dir, 'calib', 'image');
  const results: Record<string, unknown>[] = [];
  const median = (v: number[]): number => [...v].sort((x, y) => x - y)[v.length >> 1]!;
  try {
    for (const [name, mode, peerFile] of [
      ['mobilenet_v2', 'static', 'mobilenet_v2.qdq.onnx'],
      ['squeezenet1_1', 'static', 'squeezenet1_1.qdq.onnx'],
      ['resnet18', 'static', 'resnet18.qdq.onnx'],
      ['resnet50', 'static', 'resnet50.qdq.onnx'],
      ['bert_small', 'dynamic', 'bert_small.dynamic.onnx'],
    ] as const) {
      if (only && !only.includes(name)) continue;
      const fp32 = join(dir, `${name}.onnx`);
      if (!existsSync(fp32)) continue;
      const peer = join(dir, 'ort', peerFile);
      const output = join(work, `${name}.aivmm.onnx`);
      const t0 = performance.now();
      const report = await quantizeModel({
        model: fp32,
        output,
        mode,
        perChannel: true,
        ...(mode === 'static' ? { calibration: calibDir } : {}),
        ...FIXED,
        seed: SEED,
      });
      const quantizeSeconds = (performance.now() - t0) / 1000;
      const inputs = modelInputs(decodeModel(new Uint8Array(readFileSync(fp32))));
      // Judged on inputs neither quantizer calibrated on: images, 16 fresh ones made like the calibration
      // images (another seed); text, 16 random token sequences of 32 below the vocabulary size. Images
      // are also judged on uniform noise in [-1, 1] (out of the calibrated distribution: a stress test).
      const first = inputs[0]!.name;
      const fresh = mode === 'static' ? smoothImages(16, SEED + 7_000_001, first) : randomSamples(inputs, 16, SEED + 7_000_001, sampleShapes(inputs, [{ name: 'input_ids', dims: [1, 32] }]), indexLimits(decodeModel(new Uint8Array(readFileSync(fp32)))));
      const heldImages = mode === 'static' ? randomSamples(inputs, 8, SEED + 9_000_001) : [];
      const entries = [
        { label: 'FP32', path: fp32 },
        { label: `aivmm ${mode}`, path: report.output.path },
        ...(existsSync(peer) ? [{ label: `onnxruntime ${mode === 'static' ? 'quantize_static QDQ per-channel' : 'quantize_dynamic'}`, path: peer }] : []),
      ];
      const sessions: Session[] = [];
      for (const e of entries) sessions.push(await ortBackend.load(e.path, cpu, { spinning: false, ...(threads ? { threads } : {}) }));
      const outs = async (s: Session, feeds: typeof fresh): Promise<Record<string, HostTensor>[]> => {
        const r: Record<string, HostTensor>[] = [];
        for (const f of feeds) r.push(await s.run(f));
        return r;
      };
      const refFresh = await outs(sessions[0]!, fresh);
      const refHeld = await outs(sessions[0]!, heldImages);
      const feeds = fresh[0]!;
      for (const s of sessions) for (let i = 0; i < 5; i++) await s.run(feeds);
      const times: number[][] = sessions.map(() => []);
      const end = performance.now() + seconds * 1000;
      while (performance.now() < end || times[0]!.length < 20) {
        for (const [k, s] of sessions.entries()) {
          for (let i = 0; i < 5; i++) {
            const t = performance.now();
            await s.run(feeds);
            times[k]!.push(performance.now() - t);
          }
        }
      }
      const fp32Ms = median(times[0]!);
      const fp32Size = statSync(fp32).size;
      for (const [k, e] of entries.entries()) {
        const ops = k === 0 ? {} : await optimizedOps(e.path, work);
        const f = fidelityOf(refFresh, await outs(sessions[k]!, fresh));
        const h = heldImages.length ? fidelityOf(refHeld, await outs(sessions[k]!, heldImages)) : undefined;
        results.push({
          model: name,
          quantizer: e.label,
          p50Ms: Number(median(times[k]!).toFixed(3)),
          vsFp32: Number((median(times[k]!) / fp32Ms).toFixed(3)),
          runs: times[k]!.length,
          cosine: Number(f.cosine.toFixed(6)),
          ...(h ? { cosineNoise: Number(h.cosine.toFixed(6)) } : {}),
          bytes: statSync(e.path).size,
          sizeVsFp32: Number((statSync(e.path).size / fp32Size).toFixed(4)),
          ...(k > 0 ? { unfusedQ: ops['QuantizeLinear'] ?? 0, unfusedDQ: ops['DequantizeLinear'] ?? 0 } : {}),
          ...(k === 1 ? { quantizeSeconds: Number(quantizeSeconds.toFixed(2)) } : {}),
        });
      }
      for (const s of sessions) await s.dispose();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const cpuModel = os.cpus()[0]?.model ?? 'unknown';
  const vnni = existsSync('/proc/cpuinfo') && /avx512_vnni|avx_vnni/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  console.log(`real exporter models in ${dir}, batch 1, CPU EP, ${os.cpus().length} logical CPUs (${cpuModel}${vnni ? ', VNNI' : ''}), ${seconds} s interleaved per model`);
  console.log(`${'model'.padEnd(14)} ${'quantizer'.padEnd(40)} ${'p50 ms'.padStart(8)} ${'vs FP32'.padStart(8)} ${'cosine'.padStart(9)} ${'cos noise'.padStart(9)} ${'size'.padStart(7)} ${'Q+DQ left'.padStart(10)}`);
  for (const r of results as { model: string; quantizer: string; p50Ms: number; vsFp32: number; cosine: number; cosineNoise?: number; sizeVsFp32: number; unfusedQ?: number; unfusedDQ?: number }[]) {
    console.log(
      `${r.model.padEnd(14)} ${r.quantizer.padEnd(40)} ${r.p50Ms.toFixed(2).padStart(8)} ${r.vsFp32.toFixed(2).padStart(8)} ${r.cosine.toFixed(5).padStart(9)} ${(r.cosineNoise?.toFixed(5) ?? '').padStart(9)} ${`${(r.sizeVsFp32 * 100).toFixed(1)}%`.padStart(7)} ${(r.unfusedQ === undefined ? '' : [r.unfusedQ, r.unfusedDQ].join(' + ')).padStart(10)}`,
    );
  }
  const out = flag('out');
  if (out) {
    writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), host: { cpus: os.cpus().length, cpu: cpuModel, vnni }, seconds, models: dir, rows: results }, null, 2)}\n`);
    console.log(`wrote ${out}`);
  }
}
