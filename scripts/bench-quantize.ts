#!/usr/bin/env -S node --import tsx
// Benchmark of `aivmm quantize` (issue #5) on the MobileNetV2-architecture model, side by side in one
// run with onnxruntime's own Python quantizer output for the same model and calibration inputs
// (bench-data/quantize/, made once by scripts/peer/ort_quantize.py on a machine with onnxruntime's
// Python package). Every model is timed in interleaved blocks on one input, so machine drift hits all
// alike; fidelity is measured against FP32 on held-back inputs that calibration never saw.
//
//   node --import tsx scripts/bench-quantize.ts [--seconds 20] [--threads N] [--out file.json]
//   node --import tsx scripts/bench-quantize.ts --export DIR   (model + calibration .npy for the peer)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { buildMobilenetV2 } from '../src/core/hub/embedded.js';
import type { HostTensor, Session } from '../src/core/backends/types.js';
import { ortBackend } from '../src/core/backends/ort.js';
import { quantizeModel } from '../src/core/quantize/index.js';
import type { QuantizeOptions } from '../src/core/quantize/index.js';
import { decodeModel } from '../src/core/quantize/onnx-reader.js';
import { modelInputs, randomSamples } from '../src/core/quantize/samples.js';
import { toFloats } from '../src/core/quantize/report.js';
import { CPU_TARGET } from '../src/core/backends/ep-map.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const SEED = 1;
const CALIBRATION = 32;
const PEER_DIR = join(import.meta.dirname, '..', 'bench-data', 'quantize');
const cpu = CPU_TARGET;

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
  const base: Omit<QuantizeOptions, 'output' | 'mode' | 'perChannel'> = {
    model: fp32Path,
    calibration: `random:${CALIBRATION}`,
    method: 'minmax',
    exclude: [],
    keepIoTypes: true,
    target: cpu,
    device: { id: 'CPU', name: 'CPU', backend: 'ort-cpu' },
    latencyMs: 0,
    seed: SEED,
  };
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
