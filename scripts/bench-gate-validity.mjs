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
// every decision made by the real CLI (its exit code: 0 unchanged, 10 regressed, 13 too noisy). Decisions
// are independent jobs (a baseline round saves its own baseline, then compares), run round-robin over the
// architectures by --parallel N runners, each pinned to its own --threads cores (taskset -c): N CI jobs
// sharing one host. --time-budget stops launching jobs when the next would not end in time, kills what
// still runs at the budget (its decision is dropped, and counted), and still prints the table and the JSON.
// Prints false-alarm and detection rates with 95% Wilson intervals per architecture and mode; "too noisy"
// is counted apart (neither an alarm nor a detection: the gate refused to guess).
// --investigate: per architecture, one run with the reference workload interleaved: correlation of the
// model's and the reference's block medians, and what dividing by the reference does to the variance.
//
// Usage: node scripts/bench-gate-validity.mjs [--models DIR] [--archs a,b] [--runs 3] [--threads 1]
//        [--duration 3s] [--warmup 1s] [--repeat 3] [--twins 5,8,10] [--max-regression 5%]
//        [--modes against,baseline] [--parallel 1] [--no-pin] [--time-budget 520s] [--calibrate 4s]
//        [--investigate] [--no-gate] [--out results.json]
// (--runs: decisions per architecture, mode and A/A or twin; with --time-budget, at most that many.)
import { spawn, spawnSync } from 'node:child_process';
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
const seconds = (flag, v) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(v).trim());
  if (!m) throw new Error(`${flag} ${v}: give a time (520s, 9m, 800ms)`);
  return Number(m[1]) * ({ ms: 0.001, s: 1, m: 60 }[m[2] ?? 's']);
};
const modelsDir = take('--models', '/work/models');
const archs = take('--archs', 'mobilenet_v2,squeezenet1_1,resnet18,bert_small').split(',');
const runs = Number(take('--runs', '3'));
const threads = take('--threads', '1');
const duration = take('--duration', '3s');
const warmup = take('--warmup', '1s');
const repeat = take('--repeat', '3');
const twinPcts = take('--twins', '5,8,10').split(',').map(Number);
const maxRegression = take('--max-regression', '5%');
const modes = take('--modes', 'against,baseline').split(',');
const parallel = Number(take('--parallel', '1'));
const budgetArg = take('--time-budget');
const budgetS = budgetArg === undefined ? Number.POSITIVE_INFINITY : seconds('--time-budget', budgetArg);
const calibrateS = seconds('--calibrate', take('--calibrate', '4s'));
const out = take('--out');
const investigate = has('--investigate');
const noGate = has('--no-gate');
const noPin = has('--no-pin');
if (args.length) throw new Error(`unknown arguments: ${args.join(' ')}`);
for (const m of modes) if (!['against', 'baseline'].includes(m)) throw new Error(`--modes: 'against' or 'baseline', not '${m}'`);
if (!(parallel >= 1 && Number.isInteger(parallel))) throw new Error('--parallel: a positive integer');

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin/aivmm.js');
const dist = (p) => import(join(root, 'dist', p));
const [{ readModelFile }, { encodeModel }, { median }] = await Promise.all([
  dist('core/onnx/reader.js'),
  dist('core/onnx/writer.js'),
  dist('core/bench/stats.js'),
]);

// ---- runners: N at a time, each pinned to its own cores -----------------------------------------------
const cores = os.cpus().length;
const perRunner = Number(threads);
const canPin = !noPin && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const pinned = canPin && parallel * perRunner <= cores;
const runners = Array.from({ length: parallel }, (_, i) => ({
  id: i,
  cpus: pinned ? Array.from({ length: perRunner }, (_, k) => i * perRunner + k).join(',') : undefined,
}));
const pinNote = pinned
  ? `each pinned (taskset -c) to its own ${perRunner} core(s): ${runners.map((r) => r.cpus).join(' | ')}`
  : parallel > 1
    ? `NOT pinned (${noPin ? '--no-pin' : canPin ? `${parallel}×${perRunner} threads > ${cores} cores` : 'no taskset'}): they share all cores`
    : 'one at a time';

const work = mkdtempSync(join(os.tmpdir(), 'aivmm-validity-'));
const env = { ...process.env, AIVMM_CACHE_DIR: join(work, 'cache'), CI: '1' };
const t0 = Date.now();
const elapsed = () => (Date.now() - t0) / 1000;
const stamp = () => `${elapsed().toFixed(0)}s`;
const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`# bench-gate-validity ${new Date().toISOString()} · ${os.cpus()[0]?.model.trim()} × ${cores} logical cores · load average ${loadavg()}`);
console.log(`# archs ${archs.join(',')} · modes ${modes.join(',')} · runs ≤ ${runs} · --threads ${threads} --duration ${duration} --warmup ${warmup} --repeat ${repeat} · limit ${maxRegression} · twins +${twinPcts.join('%, +')}%${Number.isFinite(budgetS) ? ` · time budget ${budgetS}s` : ''}`);
console.log(`# ${parallel} runner(s) in parallel, ${pinNote}${parallel > 1 ? ': a shared host, as when CI runs several jobs on one machine' : ''}`);

/** Processes still running (their process groups), killed at the time budget. */
const live = new Set();
let cut = 0;
let notStarted = 0;
let budgetHit = false;
function killAll() {
  for (const child of live) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
const budgetTimer = Number.isFinite(budgetS)
  ? setTimeout(() => {
      budgetHit = true;
      killAll();
    }, budgetS * 1000)
  : undefined;
class Cut extends Error {}

function aivmm(runner, argv) {
  return new Promise((resolve, reject) => {
    if (budgetHit) return reject(new Cut('time budget'));
    const cmd = runner.cpus ? 'taskset' : process.execPath;
    const full = runner.cpus ? ['-c', runner.cpus, process.execPath, bin, ...argv] : [bin, ...argv];
    const child = spawn(cmd, full, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      live.delete(child);
      if (budgetHit && signal) return reject(new Cut('time budget'));
      resolve({ status, signal, stdout, stderr });
    });
  });
}

async function bench(runner, model, extra) {
  const argv = ['bench', model, '-d', 'CPU', '--backend', 'ort-cpu', '--threads', threads, '--duration', duration, '--warmup', warmup, '--json', ...extra];
  const r = await aivmm(runner, argv);
  if (![0, 10, 13].includes(r.status)) throw new Error(`aivmm ${argv.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr.slice(-2000)}`);
  const doc = JSON.parse(r.stdout);
  const c = doc.data.gate?.rows.find((x) => x.status === 'compared')?.comparison;
  return { exit: r.status, doc, verdict: c?.verdict, ratio: c?.ratio, ci: c?.ratioCi95 };
}

/**
 * Jobs run on the first free runner, in queue order, once their dependencies are done; a job is not
 * started when its kind's mean wall time so far would take it past the budget.
 */
const queue = [];
const errors = [];
const wall = new Map();
function enqueue(job) {
  queue.push(job);
}
function expected(kind) {
  const w = wall.get(kind);
  return w ? w.sum / w.n : 0;
}
async function runnerLoop(runner, wake) {
  for (;;) {
    const i = queue.findIndex((j) => !j.after || j.after.every((d) => d.done) || j.after.some((d) => d.skipped));
    if (i < 0) {
      if (!queue.length) return;
      await wake.wait();
      continue;
    }
    const [job] = queue.splice(i, 1);
    if (budgetHit || elapsed() + 1.1 * expected(job.kind) > budgetS || job.after?.some((d) => d.skipped)) {
      job.skipped = true;
      job.done = true;
      notStarted++;
      wake.notify();
      continue;
    }
    const s = Date.now();
    try {
      await job.run(runner);
      const w = wall.get(job.kind) ?? { sum: 0, n: 0 };
      w.sum += (Date.now() - s) / 1000;
      w.n++;
      wall.set(job.kind, w);
    } catch (e) {
      job.skipped = true;
      if (e instanceof Cut) cut++;
      else {
        errors.push(`${job.kind}: ${e.message}`);
        console.log(`ERROR ${job.kind}: ${e.message.slice(0, 500)} [${stamp()}]`);
      }
    }
    job.done = true;
    wake.notify();
  }
}
async function drain() {
  const waiters = [];
  const wake = {
    wait: () => new Promise((r) => waiters.push(r)),
    notify: () => waiters.splice(0).forEach((r) => r()),
  };
  await Promise.all(runners.map((r) => runnerLoop(r, wake)));
}

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


async function referenceTracking(runner, model) {
  const { doc } = await bench(runner, model, ['--reference', '--repeat', '1', '--duration', '8s']);
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
const results = {
  at: new Date().toISOString(),
  host: { cpu: os.cpus()[0]?.model.trim(), cores, loadavgStart: os.loadavg() },
  settings: { runs, threads, duration, warmup, repeat, maxRegression, twinPcts, modes, parallel, pinned, runnerCpus: runners.map((r) => r.cpus ?? 'all'), timeBudgetS: Number.isFinite(budgetS) ? budgetS : null },
  archs: {},
};
const record = (x, runner, s) => ({ exit: x.exit, verdict: x.verdict, ratio: x.ratio, ci: x.ci, runner: runner.id, startS: Math.round(s), wallS: Math.round(elapsed() - s) });
try {
  // Per architecture: copies, the probe calibration (a CLI --against run; the branch's cost is linear in
  // its units), then the twins; calibrations of different architectures run in parallel.
  const prep = {};
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
    const P = (prep[arch] = { A, A2, dir, res, src, calibrated: { kind: `${arch} calibration` } });
    if (investigate) {
      enqueue({
        kind: `${arch} investigation`,
        run: async (runner) => {
          res.reference = await referenceTracking(runner, A);
          const t = res.reference;
          console.log(`${arch}: model p50 ${t.model.toFixed(2)} ms, reference ${t.reference.toFixed(2)} ms; over ${t.blocks} blocks corr(log model, log reference) = ${t.correlation.toFixed(2)}; sd of log block medians ${(t.sdModel * 100).toFixed(1)}% raw (reference ${(t.sdReference * 100).toFixed(1)}%), ${(t.sdRatio * 100).toFixed(1)}% divided by the reference (${t.sdRatio < t.sdModel ? 'reduced' : 'INCREASED'}) [${stamp()}]`);
        },
      });
    }
    if (noGate) continue;
    P.calibrated.run = async (runner) => {
      const { model } = await readModelFile(src);
      const image = model.graph.inputs.some((i) => i.dataType === 'float32' && i.shape?.length === 4);
      // A probe twin big enough (≥ 20% slower) for its slowdown to stand out of the noise, then a second
      // at a quarter of its units: the branch costs a fixed part (its extra nodes run whatever the size)
      // plus a part linear in its units, and one probe alone takes the fixed part for linear (the H200
      // run's "+8%" twins of the small CNNs came out +14–17%). Each target is sized from both.
      let probeUnits = image ? 16 : 4;
      const probe = dir('probe');
      const slowdown = async (units) => {
        writeFileSync(probe, withBranch(model, units));
        return (await bench(runner, probe, ['--against', A, '--duration', `${calibrateS}s`, '--max-regression', '99%'])).ratio ?? 1;
      };
      let r0 = 1;
      for (let i = 0; i < 4; i++) {
        r0 = await slowdown(probeUnits);
        if (r0 >= 1.2) break;
        probeUnits *= r0 > 1.05 ? Math.min(4, Math.ceil(0.3 / (r0 - 1))) : 4;
      }
      const smallUnits = Math.max(1, Math.round(probeUnits / 4));
      const r1 = smallUnits < probeUnits ? await slowdown(smallUnits) : r0;
      let perUnit = smallUnits < probeUnits ? (r0 - r1) / (probeUnits - smallUnits) : (r0 - 1) / probeUnits;
      if (!(perUnit > 1e-4)) perUnit = Math.max(1e-4, (r0 - 1) / probeUnits);
      const fixed = Math.max(0, r0 - 1 - perUnit * probeUnits);
      const unit = image ? 'conv channels' : 'MatMul layers';
      console.log(`${arch}: probe twins ${probeUnits} and ${smallUnits} ${unit}: ${((r0 - 1) * 100).toFixed(1)}% and ${((r1 - 1) * 100).toFixed(1)}% slower → fixed ${(fixed * 100).toFixed(1)}% + ${(perUnit * 100).toFixed(2)}% per unit [${stamp()}]`);
      for (const p of twinPcts) {
        const units = Math.max(1, Math.round((p / 100 - fixed) / perUnit));
        const path = dir(`twin${p}`);
        writeFileSync(path, withBranch(model, units));
        const measured = 1 + fixed + units * perUnit;
        res.twins[p] = { path, units, measured, fixed, perUnit };
        console.log(`${arch}: +${p}% twin: ${units} ${unit} (${((measured - 1) * 100).toFixed(1)}% by the probes${measured - 1 > (p / 100) * 1.25 ? ': the fixed part alone exceeds it' : ''}; measured by --against below)`);
      }
    };
    enqueue(P.calibrated);
  }
  // Decisions, round-robin: run r of every architecture and mode before run r + 1 of any, so a budget
  // that cuts the run leaves every cell with about the same count.
  const line = (arch, r, mode, what, x) => console.log(`${arch} run ${r} ${mode} ${what}: ${x.verdict ?? `exit ${x.exit}`} ${x.ratio?.toFixed(3) ?? ''} [${stamp()}]`);
  for (let r = 1; r <= runs && !noGate; r++) {
    for (const arch of archs) {
      const { A, A2, res, calibrated } = prep[arch];
      for (const mode of modes) {
        if (mode === 'against') {
          enqueue({
            kind: `${arch} against`,
            after: [calibrated],
            run: async (runner) => {
              const s = elapsed();
              const aa = await bench(runner, A, ['--against', A2, '--max-regression', maxRegression]);
              res.against.aa.push(record(aa, runner, s));
              line(arch, r, 'against', 'A/A', aa);
            },
          });
          for (const p of twinPcts) {
            enqueue({
              kind: `${arch} against`,
              after: [calibrated],
              run: async (runner) => {
                const s = elapsed();
                const ab = await bench(runner, res.twins[p].path, ['--against', A, '--max-regression', maxRegression]);
                (res.against.ab[p] ??= []).push(record(ab, runner, s));
                line(arch, r, 'against', `+${p}%`, ab);
              },
            });
          }
        } else {
          // One round: a fresh baseline (--repeat processes), then A/A (A again, saved) and each twin
          // against that second file: the design of a CI run against the previous run's --save.
          enqueue({
            kind: `${arch} baseline round`,
            after: [calibrated],
            run: async (runner) => {
              const b0 = join(work, arch, `base-${r}-0.json`);
              const b1 = join(work, arch, `base-${r}-1.json`);
              await bench(runner, A, ['--save', b0, '--repeat', repeat]);
              let s = elapsed();
              const aa = await bench(runner, A, ['--save', b1, '--repeat', repeat, '--baseline', b0, '--max-regression', maxRegression]);
              res.baseline.aa.push(record(aa, runner, s));
              line(arch, r, 'baseline', 'A/A', aa);
              for (const p of twinPcts) {
                s = elapsed();
                const ab = await bench(runner, res.twins[p].path, ['--repeat', repeat, '--baseline', b1, '--max-regression', maxRegression]);
                (res.baseline.ab[p] ??= []).push(record(ab, runner, s));
                line(arch, r, 'baseline', `+${p}%`, ab);
              }
            },
          });
        }
      }
    }
  }
  await drain();
} finally {
  if (budgetTimer) clearTimeout(budgetTimer);
  killAll();
  rmSync(work, { recursive: true, force: true });
}

if (!noGate) {
  console.log(`\n${parallel} runner(s) in parallel, ${pinNote}. time budget: ${notStarted} job(s) not started, ${cut} killed while running (dropped)${errors.length ? `, ${errors.length} failed (ERROR lines above)` : ''}.`);
  console.log('(twin slowdowns in brackets: the median --against ratio over all runs, or the calibration where --against did not run)');
  console.log(`| architecture | mode | A/A false alarms (exit 10) | A/A too noisy (13) | ${twinPcts.map((p) => `+${p}% twin (measured) detected | too noisy`).join(' | ')} |`);
  console.log(`|---|---|---|---|${twinPcts.map(() => '---|---').join('|')}|`);
  for (const [arch, res] of Object.entries(results.archs)) {
    for (const mode of modes) {
      const m = res[mode];
      const count = (xs, v) => xs.filter((x) => x.verdict === v).length;
      const cells = [rate(count(m.aa, 'regressed'), m.aa.length), rate(count(m.aa, 'too-noisy'), m.aa.length)];
      for (const p of twinPcts) {
        const xs = m.ab[p] ?? [];
        if (!res.twins[p]) {
          cells.push('–', '–');
          continue;
        }
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
results.cut = { notStarted, killed: cut };
results.errors = errors;
console.log(`# done in ${stamp()}, load average ${loadavg()}`);
if (out) writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
