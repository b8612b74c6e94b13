#!/usr/bin/env node
// Benchmark of the benchmark (issue #3): `aivmm bench` p50 on the CPU EP against the minimal raw
// onnxruntime-node loop (scripts/raw-ort-loop.mjs) on the same model, thread count, warm-up and
// iteration count, interleaved round by round (alternating which goes first) so drift hits both.
// Target: median of the per-round ratios aivmm / raw ≤ 1.02.
// Usage: node scripts/bench-overhead.mjs [rounds=8] [threads=2] [iterations=300] [--out file.json]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const out = outIdx >= 0 ? args.splice(outIdx, 2)[1] : undefined;
const [rounds = 8, threads = 2, iterations = 300] = args.map(Number);
const warmup = 30;
const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin/aivmm.js');
const cache = mkdtempSync(join(os.tmpdir(), 'aivmm-overhead-'));
const env = { ...process.env, AIVMM_CACHE_DIR: cache };

function run(argv) {
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
const aivmm = (extra = []) => {
  const doc = run([bin, 'bench', 'mobilenetv2-seeded', '-d', 'CPU', '--threads', String(threads), '-n', String(iterations), '--warmup', String(warmup), '--json', ...extra]);
  return { p50: doc.data.rows[0].stats.p50, path: doc.data.model.path };
};
const modelPath = aivmm().path; // also materialises the embedded model
const raw = () => run([join(root, 'scripts/raw-ort-loop.mjs'), modelPath, String(threads), String(warmup), String(iterations)]).p50;

// Three contenders per round, in a rotating order: plain `aivmm bench` (the target), aivmm --reference
// (with the interleaved reference workload that --save/--baseline turn on: its cost, reported), raw.
const contenders = {
  aivmm: () => aivmm().p50,
  aivmmReference: () => aivmm(['--reference']).p50,
  raw,
};
const names = Object.keys(contenders);
const results = [];
for (let i = 0; i < rounds; i++) {
  const r = {};
  for (let k = 0; k < names.length; k++) {
    const name = names[(i + k) % names.length];
    r[name] = contenders[name]();
  }
  r.ratio = r.aivmm / r.raw;
  r.ratioReference = r.aivmmReference / r.raw;
  results.push(r);
  console.log(`round ${i + 1}: aivmm ${r.aivmm.toFixed(3)} ms · aivmm --reference ${r.aivmmReference.toFixed(3)} ms · raw ${r.raw.toFixed(3)} ms · ratios ${r.ratio.toFixed(3)} / ${r.ratioReference.toFixed(3)}`);
}
const med = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const median = med(results.map((r) => r.ratio));
const medianReference = med(results.map((r) => r.ratioReference));
const summary = { at: new Date().toISOString(), host: `${os.cpus()[0]?.model} × ${os.cpus().length}`, node: process.version, model: 'mobilenetv2-seeded', threads, iterations, warmup, rounds, medianRatio: median, medianRatioReference: medianReference, target: 1.02, pass: median <= 1.02, results };
console.log(`median p50 ratio aivmm/raw: ${median.toFixed(3)} (target ≤ 1.02: ${summary.pass ? 'PASS' : 'FAIL'}); with --reference: ${medianReference.toFixed(3)}`);
if (out) writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
