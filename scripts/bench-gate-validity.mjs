#!/usr/bin/env node
// Benchmark of the benchmark (issues #3, #21): is the CI gate valid on models it was not tuned on?
// Over architectures nobody here designed (torchvision exports in --models DIR: mobilenet_v2,
// squeezenet1_1, resnet18, bert_small, …), for each: compute twins that the script makes (+5%, +8%, +10%:
// an extra branch whose result is added ×0 to the output, so it must be computed — a Conv on the image
// input for CNNs, a MatMul chain on the hidden states for encoders), sized by a paired calibration and
// their real slowdown measured and printed. Then, per run and per mode:
//   baseline file: `bench A --save A_r.json --baseline A_{r-1}.json`  (A/A: must not flag)
//                  `bench twin --baseline A_r.json`                   (A/B: must flag, exit 10)
//   --against:     `bench A --against A_copy`                         (A/A)
//                  `bench twin --against A`                           (A/B)
// every decision made by the real CLI (its exit code: 0 unchanged, 10 regressed, 13 too noisy).
// Prints false-alarm and detection rates with 95% Wilson intervals per architecture and mode; "too noisy"
// is counted apart (neither an alarm nor a detection: the gate refused to guess).
// --investigate: per architecture, one run with the reference workload interleaved: correlation of the
// model's and the reference's block medians, and what dividing by the reference does to the variance.
//
// Usage: node scripts/bench-gate-validity.mjs [--models DIR] [--archs a,b] [--runs 3] [--threads 1]
//        [--duration 3s] [--repeat 3] [--twins 5,8,10] [--max-regression 5%] [--modes baseline,against]
//        [--investigate] [--no-gate] [--out results.json]
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const args = process.argv.slice(2);
const take = (flag, def) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args.splice(i, 2)[1] : def;
};
const has = (flag) => {
  const i = args.indexOf(flag);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
};
const modelsDir = take('--models', '/work/models');
const archs = take('--archs', 'mobilenet_v2,squeezenet1_1,resnet18,bert_small').split(',');
const runs = Number(take('--runs', '3'));
const threads = take('--threads', '1');
const duration = take('--duration', '3s');
const repeat = take('--repeat', '3');
const twinPcts = take('--twins', '5,8,10').split(',').map(Number);
const maxRegression = take('--max-regression', '5%');
const modes = take('--modes', 'baseline,against').split(',');
const out = take('--out');
const investigate = has('--investigate');
const noGate = has('--no-gate');
if (args.length) throw new Error(`unknown arguments: ${args.join(' ')}`);

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin/aivmm.js');
const dist = (p) => import(join(root, 'dist', p));
const [{ readModelFile }, { encodeModel }, { openSession, CPU_TARGET }, { measurePaired }, { planShapes, randomTensor }, { median }] = await Promise.all([
  dist('core/quantize/onnx-reader.js'),
  dist('core/quantize/onnx-writer.js'),
  dist('core/backends/registry.js'),
  dist('core/bench/measure.js'),
  dist('core/bench/inputs.js'),
  dist('core/bench/stats.js'),
]);

const work = mkdtempSync(join(os.tmpdir(), 'aivmm-validity-'));
const env = { ...process.env, AIVMM_CACHE_DIR: join(work, 'cache'), CI: '1' };
const t0 = Date.now();
const stamp = () => `${((Date.now() - t0) / 1000).toFixed(0)}s`;
console.log(`# bench-gate-validity ${new Date().toISOString()} · ${os.cpus()[0]?.model.trim()} × ${os.cpus().length} · load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`# archs ${archs.join(',')} · runs ${runs} · --threads ${threads} --duration ${duration} --repeat ${repeat} · limit ${maxRegression} · twins +${twinPcts.join('%, +')}%`);

// ---- twins -------------------------------------------------------------------------------------------
let seed = 1;
function normal(n, std) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const u = (seed + 1) / 2 ** 32;
    seed = (seed * 1103515245 + 12345) >>> 0;
    const v = (seed + 1) / 2 ** 32;
    a[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return a;
}

/** The model with an extra branch of `units` (Conv output channels, or MatMul layers) whose result is added ×0 to output 0. */
function withBranch(model, units) {
  const g = model.graph;
  const outName = g.outputs[0].name;
  const pre = `${outName}__pre_twin`;
  const nodes = g.nodes.map((n) => ({ ...n, inputs: n.inputs.map((x) => (x === outName ? pre : x)), outputs: n.outputs.map((x) => (x === outName ? pre : x)) }));
  const inits = [...g.initializers];
  const image = g.inputs.find((i) => i.dataType === 'float32' && i.shape?.length === 4);
  let h;
  if (image) {
    const cin = Number(image.shape[1]);
    inits.push({ name: 'twin_w', dataType: 'float32', dims: [units, cin, 3, 3], data: normal(units * cin * 9, 0.1) });
    nodes.push({ opType: 'Conv', inputs: [image.name, 'twin_w'], outputs: ['twin_c'], attributes: [{ name: 'pads', type: 'ints', value: [1, 1, 1, 1] }] });
    nodes.push({ opType: 'Relu', inputs: ['twin_c'], outputs: ['twin_h'] });
    h = 'twin_h';
  } else {
    const d = Number(g.outputs[0].shape?.at(-1));
    h = pre;
    for (let k = 0; k < units; k++) {
      inits.push({ name: `twin_w${k}`, dataType: 'float32', dims: [d, d], data: normal(d * d, 1 / Math.sqrt(d)) });
      nodes.push({ opType: 'MatMul', inputs: [h, `twin_w${k}`], outputs: [`twin_m${k}`] });
      nodes.push({ opType: 'Relu', inputs: [`twin_m${k}`], outputs: [`twin_r${k}`] });
      h = `twin_r${k}`;
    }
  }
  inits.push({ name: 'twin_zero', dataType: 'float32', dims: [], data: new Float32Array([0]) });
  nodes.push({ opType: 'ReduceMean', inputs: [h], outputs: ['twin_mean'], attributes: [{ name: 'keepdims', type: 'int', value: 0 }] });
  nodes.push({ opType: 'Mul', inputs: ['twin_mean', 'twin_zero'], outputs: ['twin_zeroed'] });
  nodes.push({ opType: 'Add', inputs: [pre, 'twin_zeroed'], outputs: [outName] });
  return encodeModel({ ...model, graph: { ...g, nodes, initializers: inits } });
}

/** Paired in-process slowdown of `twinPath` over `basePath` (median block ratio), the gate's own design. */
async function pairedSlowdown(basePath, twinPath, ms = 2500) {
  const opts = { threads: Number(threads) };
  const a = (await openSession(CPU_TARGET, twinPath, opts)).session;
  const b = (await openSession(CPU_TARGET, basePath, opts)).session;
  try {
    const shapes = planShapes(b.inputs, [], 1);
    const feeds = Object.fromEntries(b.inputs.map((s, i) => [s.name, randomTensor(s, shapes[s.name] ?? [], 42 + i)]));
    const m = await measurePaired(() => a.run(feeds), () => b.run(feeds), { warmup: { iterations: 3 }, durationMs: ms, minBlocks: 12 });
    return median(m.aBlocks.map((x, k) => x / m.bBlocks[k]));
  } finally {
    await a.dispose();
    await b.dispose();
  }
}

// ---- the CLI ------------------------------------------------------------------------------------------
function bench(model, extra) {
  const argv = [bin, 'bench', model, '-d', 'CPU', '--backend', 'ort-cpu', '--threads', threads, '--duration', duration, '--warmup', '1s', '--json', ...extra];
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', env, maxBuffer: 256 << 20 });
  if (![0, 10, 13].includes(r.status)) throw new Error(`aivmm ${argv.slice(1).join(' ')} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const doc = JSON.parse(r.stdout);
  const c = doc.data.gate?.rows.find((x) => x.status === 'compared')?.comparison;
  return { exit: r.status, doc, verdict: c?.verdict, ratio: c?.ratio, ci: c?.ratioCi95 };
}

function wilson(k, n) {
  if (n === 0) return [0, 1];
  const z = 1.959964;
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}
const pct = (x) => `${(x * 100).toFixed(0)}%`;
const rate = (k, n) => (n ? `${k}/${n} = ${pct(k / n)} [${wilson(k, n).map(pct).join('–')}]` : '–');

// ---- investigation: does the reference workload track the model? -------------------------------------
const pearson = (x, y) => {
  const n = x.length;
  const mx = x.reduce((a, v) => a + v, 0) / n;
  const my = y.reduce((a, v) => a + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
};
const sd = (xs) => {
  const m = xs.reduce((a, v) => a + v, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, v) => a + (v - m) ** 2, 0) / (xs.length - 1));
};

function referenceTracking(model) {
  const { doc } = bench(model, ['--reference', '--repeat', '1', '--duration', '8s']);
  const row = doc.data.rows[0];
  const { samples, at } = row.reference;
  // Segments between bursts (3 reference runs each): the model's median there vs the burst's median.
  const m = [];
  const r = [];
  for (let k = 0; k + 3 <= at.length; k += 3) {
    const from = k === 0 ? 0 : at[k - 1];
    const seg = row.samples.slice(from, at[k]);
    if (seg.length < 2) continue;
    m.push(Math.log(median(seg)));
    r.push(Math.log(median(samples.slice(k, k + 3))));
  }
  const ratio = m.map((x, i) => x - r[i]);
  return { model: row.stats.p50, reference: row.reference.p50, blocks: m.length, correlation: pearson(m, r), sdModel: sd(m), sdReference: sd(r), sdRatio: sd(ratio) };
}

// ---- main ---------------------------------------------------------------------------------------------
const results = { at: new Date().toISOString(), host: { cpu: os.cpus()[0]?.model.trim(), cores: os.cpus().length, loadavgStart: os.loadavg() }, settings: { runs, threads, duration, repeat, maxRegression, twinPcts }, archs: {} };
try {
  for (const arch of archs) {
    const src = join(modelsDir, `${arch}.onnx`);
    if (!existsSync(src)) throw new Error(`${src} not found (--models DIR)`);
    const dir = (name) => {
      const d = join(work, arch, name);
      mkdirSync(d, { recursive: true });
      return join(d, 'model.onnx');
    };
    const A = dir('a');
    const A2 = dir('a-copy');
    copyFileSync(src, A);
    copyFileSync(src, A2);
    const res = (results.archs[arch] = { twins: {}, baseline: { aa: [], ab: {} }, against: { aa: [], ab: {} } });
    if (investigate) {
      res.reference = referenceTracking(A);
      const t = res.reference;
      console.log(`${arch}: model p50 ${t.model.toFixed(2)} ms, reference ${t.reference.toFixed(2)} ms; over ${t.blocks} blocks corr(log model, log reference) = ${t.correlation.toFixed(2)}; sd of log block medians ${(t.sdModel * 100).toFixed(1)}% raw (reference ${(t.sdReference * 100).toFixed(1)}%), ${(t.sdRatio * 100).toFixed(1)}% divided by the reference (${t.sdRatio < t.sdModel ? 'reduced' : 'INCREASED'}) [${stamp()}]`);
    }
    if (noGate) continue;
    // Calibrate: the branch's cost is linear in its units; one probe twin, then size each target.
    const { model } = await readModelFile(src);
    const image = model.graph.inputs.some((i) => i.dataType === 'float32' && i.shape?.length === 4);
    // A probe twin big enough (≥ 20% slower) for its slowdown to stand out of a loaded machine's noise;
    // the twins are then sized linearly from it (re-measuring a 5% twin on a loaded machine adds noise, not accuracy).
    let probeUnits = image ? 16 : 4;
    const probe = dir('probe');
    let r0 = 1;
    for (let i = 0; i < 4; i++) {
      writeFileSync(probe, withBranch(model, probeUnits));
      r0 = await pairedSlowdown(A, probe, 4000);
      if (r0 >= 1.2) break;
      probeUnits *= r0 > 1.05 ? Math.min(4, Math.ceil(0.3 / (r0 - 1))) : 4;
    }
    const perUnit = Math.max(1e-4, (r0 - 1) / probeUnits);
    console.log(`${arch}: probe twin ${probeUnits} ${image ? 'conv channels' : 'MatMul layers'}: ${((r0 - 1) * 100).toFixed(1)}% slower [${stamp()}]`);
    for (const p of twinPcts) {
      const units = Math.max(1, Math.round(p / 100 / perUnit));
      const path = dir(`twin${p}`);
      writeFileSync(path, withBranch(model, units));
      const measured = 1 + units * perUnit;
      res.twins[p] = { path, units, measured };
      console.log(`${arch}: +${p}% twin: ${units} ${image ? 'conv channels' : 'MatMul layers'} (${((measured - 1) * 100).toFixed(1)}% by the probe; measured by --against below)`);
    }
    let prev;
    if (modes.includes('baseline')) {
      prev = join(work, arch, 'base-0.json');
      bench(A, ['--save', prev, '--repeat', repeat]);
    }
    for (let r = 1; r <= runs; r++) {
      const line = [];
      if (modes.includes('baseline')) {
        const cur = join(work, arch, `base-${r}.json`);
        const aa = bench(A, ['--save', cur, '--repeat', repeat, '--baseline', prev, '--max-regression', maxRegression]);
        res.baseline.aa.push({ exit: aa.exit, verdict: aa.verdict, ratio: aa.ratio, ci: aa.ci });
        line.push(`base A/A ${aa.verdict} ${aa.ratio?.toFixed(3)}`);
        for (const p of twinPcts) {
          const ab = bench(res.twins[p].path, ['--repeat', repeat, '--baseline', cur, '--max-regression', maxRegression]);
          (res.baseline.ab[p] ??= []).push({ exit: ab.exit, verdict: ab.verdict, ratio: ab.ratio, ci: ab.ci });
          line.push(`+${p}% ${ab.verdict} ${ab.ratio?.toFixed(3)}`);
        }
        prev = cur;
      }
      if (modes.includes('against')) {
        const aa = bench(A, ['--against', A2, '--max-regression', maxRegression]);
        res.against.aa.push({ exit: aa.exit, verdict: aa.verdict, ratio: aa.ratio, ci: aa.ci });
        line.push(`against A/A ${aa.verdict} ${aa.ratio?.toFixed(3)}`);
        for (const p of twinPcts) {
          const ab = bench(res.twins[p].path, ['--against', A, '--max-regression', maxRegression]);
          (res.against.ab[p] ??= []).push({ exit: ab.exit, verdict: ab.verdict, ratio: ab.ratio, ci: ab.ci });
          line.push(`+${p}% ${ab.verdict} ${ab.ratio?.toFixed(3)}`);
        }
      }
      console.log(`${arch} run ${r}: ${line.join(' · ')} [${stamp()}]`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (!noGate) {
  console.log('\n(twin slowdowns in brackets: the median --against ratio over all runs, or the calibration where --against did not run)');
  console.log(`| architecture | mode | A/A false alarms (exit 10) | A/A too noisy (13) | ${twinPcts.map((p) => `+${p}% twin (measured) detected | too noisy`).join(' | ')} |`);
  console.log(`|---|---|---|---|${twinPcts.map(() => '---|---').join('|')}|`);
  for (const [arch, res] of Object.entries(results.archs)) {
    for (const mode of modes) {
      const m = res[mode];
      const count = (xs, v) => xs.filter((x) => x.verdict === v).length;
      const cells = [rate(count(m.aa, 'regressed'), m.aa.length), rate(count(m.aa, 'too-noisy'), m.aa.length)];
      for (const p of twinPcts) {
        const xs = m.ab[p] ?? [];
        // The twin's real slowdown: the median of its --against ratios over all runs (paired, through the CLI), else the calibration's.
        const paired = (res.against.ab[p] ?? []).map((x) => x.ratio).filter((x) => x > 0);
        const real = paired.length ? median(paired) : res.twins[p].measured;
        res.twins[p].real = real;
        cells.push(`${rate(count(xs, 'regressed'), xs.length)} (${((real - 1) * 100).toFixed(1)}%)`, rate(count(xs, 'too-noisy'), xs.length));
      }
      console.log(`| ${arch} | ${mode === 'baseline' ? 'baseline file' : '--against'} | ${cells.join(' | ')} |`);
    }
  }
}
results.host.loadavgEnd = os.loadavg();
console.log(`# done in ${stamp()}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
if (out) writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
