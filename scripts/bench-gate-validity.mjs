#!/usr/bin/env node
// Benchmark of the benchmark (issue #3): is the --baseline gate valid on this machine?
// Each round benches a fresh baseline of model A (MobileNetV2 architecture), then, against it,
//   A/A: model A again                  → must not be flagged (exit 0);
//   A/B: model B under the same file name (one more inverted-residual block in the 96- and in the
//        160-channel stage: ~9% more compute, measured 1.08–1.12× at 1 thread) → must be flagged (exit 10) every time.
// The two comparisons run in alternating order, so drift does not favour either.
// Usage: node scripts/bench-gate-validity.mjs [rounds=20] [threads=1] [iterations=300] [--max-regression 5%] [--repeat N] [--raw] [--out file.json]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const args = process.argv.slice(2);
const take = (flag, def) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args.splice(i, 2)[1] : def;
};
const out = take('--out');
const raw = args.includes('--raw'); // compare raw times: no reference workload (shows what it buys)
if (raw) args.splice(args.indexOf('--raw'), 1);
const maxRegression = take('--max-regression', '5%');
const repeat = take('--repeat', '1'); // processes per bench (aivmm bench --repeat)
const [rounds = 20, threads = 1, iterations = 300] = args.map(Number);
const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin/aivmm.js');
const { buildMobilenetV2, MOBILENETV2_STAGES } = await import(join(root, 'dist/index.js'));

const work = mkdtempSync(join(os.tmpdir(), 'aivmm-gate-'));
const env = { ...process.env, AIVMM_CACHE_DIR: join(work, 'cache') };
mkdirSync(join(work, 'a'));
mkdirSync(join(work, 'b'));
const modelA = join(work, 'a', 'model.onnx');
const modelB = join(work, 'b', 'model.onnx');
writeFileSync(modelA, buildMobilenetV2());
writeFileSync(modelB, buildMobilenetV2(MOBILENETV2_STAGES.map(([t, c, n, s]) => (c === 96 || c === 160 ? [t, c, n + 1, s] : [t, c, n, s]))));

function bench(model, extra) {
  const argv = [bin, 'bench', model, '-d', 'CPU', '--threads', String(threads), '-n', String(iterations), '--warmup', '30', '--repeat', repeat, '--json', ...(raw ? ['--no-reference'] : []), ...extra];
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  if (r.status !== 0 && r.status !== 10) throw new Error(`aivmm ${argv.slice(1).join(' ')} exited ${r.status}: ${r.stderr}`);
  return { code: r.status, doc: JSON.parse(r.stdout) };
}

const results = [];
for (let i = 0; i < rounds; i++) {
  const base = join(work, `base-${i}.json`);
  bench(modelA, ['--save', base]);
  const compare = (model) => {
    const { code, doc } = bench(model, ['--baseline', base, '--max-regression', maxRegression]);
    const c = doc.data.gate.rows[0].comparison;
    return { exit: code, verdict: c.verdict, ratio: c.ratio, ratioCi95: c.ratioCi95, pSlower: c.pSlower };
  };
  const [aa, ab] = i % 2 === 0 ? [compare(modelA), compare(modelB)] : (() => { const b = compare(modelB); return [compare(modelA), b]; })();
  results.push({ round: i + 1, aa, ab });
  const f = (c) => `${c.verdict.padEnd(9)} ratio ${c.ratio.toFixed(3)} [${c.ratioCi95.map((x) => x.toFixed(3)).join(', ')}] exit ${c.exit}`;
  console.log(`round ${String(i + 1).padStart(2)}: A/A ${f(aa)} · A/B ${f(ab)}`);
}
const falseAlarms = results.filter((r) => r.aa.exit === 10).length;
const misses = results.filter((r) => r.ab.exit !== 10).length;
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = {
  at: new Date().toISOString(),
  host: `${os.cpus()[0]?.model} × ${os.cpus().length}`,
  rounds, threads, iterations, maxRegression, repeat: Number(repeat), referenceWorkload: !raw,
  medianRatioAA: med(results.map((r) => r.aa.ratio)),
  medianRatioAB: med(results.map((r) => r.ab.ratio)),
  falseAlarms, misses,
  pass: falseAlarms === 0 && misses === 0,
  results,
};
console.log(`A/A false alarms: ${falseAlarms}/${rounds} · A/B misses: ${misses}/${rounds} · median ratio A/A ${summary.medianRatioAA.toFixed(3)}, A/B ${summary.medianRatioAB.toFixed(3)}: ${summary.pass ? 'PASS' : 'FAIL'}`);
if (out) writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
