#!/usr/bin/env node
// Experiment (issue #7, concurrency lever, 2026-11-26): what aggregate throughput do N *processes* get, each
// with its own onnxruntime session (and, on WebGPU, its own Dawn device), running the same model at the same
// time — what a multi-process server would get? Two WebGPU sessions on two threads of one process crash
// onnxruntime-node 1.30 (docs/performance.md); processes do not share that state. Answer: WebGPU 1.9× with two
// processes, saturating at ~8,850 img/s (batch 32); CUDA 4 processes 11,345 img/s, below --concurrency 4.
// Logs: docs/results/2026-11-26-h200-explore.log, …-cuda.log, …-cuda-first.log, …-cuda-config.log.
//
// Run: node scripts/experiments/gpu-processes.mjs <model.onnx> --batch 32 --procs 1,2,3,4 --seconds 4 [--ep webgpu|cpu|cuda]
//        [--threads T] [--log 0-4] [--profile DIR] [--opt key=value]...   (keys with a dot become session config entries, as in aivmm)
// Prints one JSON line per process count: {procs, batch, itemsPerSecond, perProcess: [{runs, p50}]}.
//
// Each child creates its session, warms up, says "ready" and waits; the parent says "go <deadline>" to all at
// once; each child runs until the wall-clock deadline and reports the runs it completed and when the last one
// ended. Aggregate = Σ items / (latest end − go).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const opts = [];
for (let i = 0; i < argv.length; i++) if (argv[i] === '--opt') opts.push(argv[i + 1]);
const model = argv[0];
const batch = Number(flag('batch', '32'));
const ep = flag('ep', 'webgpu');
const seconds = Number(flag('seconds', '4'));

if (argv.includes('--child')) {
  const ort = (await import('onnxruntime-node')).default;
  const provider = { name: ep };
  const extra = {};
  for (const o of opts) {
    const [k, v] = o.split('=');
    if (k.includes('.')) extra[k] = v;
    else provider[k] = v;
  }
  const options = { executionProviders: [provider], logSeverityLevel: Number(flag('log', '3')), extra };
  const profile = flag('profile');
  if (profile) {
    options.enableProfiling = true;
    options.profileFilePrefix = `${profile}/p${process.pid}`;
  }
  const threads = flag('threads');
  if (threads) options.intraOpNumThreads = Number(threads);
  const session = await ort.InferenceSession.create(model, options);
  const meta = session.inputMetadata[0];
  const dims = meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? batch : 1));
  const size = dims.reduce((a, b) => a * b, 1);
  let tensor;
  if (meta.type === 'float16') {
    const data = new Uint16Array(size);
    for (let i = 0; i < size; i++) data[i] = 0x3800 + (i % 512); // 0.5 … ~0.75, finite halves
    tensor = new ort.Tensor('float16', data, dims);
  } else {
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = Math.random() * 2 - 1;
    tensor = new ort.Tensor('float32', data, dims);
  }
  const feeds = { [meta.name]: tensor };
  for (let i = 0; i < 20; i++) await session.run(feeds);
  process.stdout.write('ready\n');
  const rl = createInterface({ input: process.stdin });
  const line = await new Promise((resolve) => rl.once('line', resolve));
  const deadline = Number(line.split(' ')[1]);
  const times = [];
  let last = Date.now();
  while (Date.now() < deadline) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
    last = Date.now();
  }
  times.sort((a, b) => a - b);
  let summary;
  if (profile) {
    session.endProfiling();
    const { readdirSync, readFileSync } = await import('node:fs');
    const file = readdirSync(profile).find((f) => f.startsWith(`p${process.pid}`));
    const events = JSON.parse(readFileSync(`${profile}/${file}`, 'utf8'));
    // Per category and per op type: total µs and count, divided by the number of timed runs.
    const runs = events.filter((e) => e.name === 'model_run').length;
    const by = {};
    for (const e of events) {
      const key = `${e.cat}:${e.args?.op_name ?? e.name.replace(/^.*_(kernel_time|fence_before|fence_after)$/, '$1')}`;
      by[key] ??= { us: 0, n: 0 };
      by[key].us += e.dur ?? 0;
      by[key].n += 1;
    }
    summary = { runs, perRun: Object.fromEntries(Object.entries(by).sort((a, b) => b[1].us - a[1].us).slice(0, 25).map(([k, v]) => [k, { us: Math.round(v.us / runs), n: Number((v.n / runs).toFixed(1)) }])) };
  }
  process.stdout.write(`${JSON.stringify({ runs: times.length, p50: times[Math.floor(times.length / 2)], last, summary })}\n`);
  rl.close();
  await session.release();
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
for (const procs of flag('procs', '1').split(',').map(Number)) {
  const children = [];
  for (let p = 0; p < procs; p++) {
    const child = spawn(process.execPath, [self, ...argv, '--child'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    const queue = [];
    const waiters = [];
    lines.on('line', (l) => (waiters.length ? waiters.shift()(l) : queue.push(l)));
    const next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)));
    const exited = new Promise((r) => child.on('exit', (code, signal) => r(signal ?? code)));
    children.push({ child, next, exited });
  }
  const ready = await Promise.race([
    Promise.all(children.map((c) => c.next())),
    Promise.all(children.map((c) => c.exited)).then((codes) => `exited ${codes}`),
  ]);
  if (!Array.isArray(ready)) {
    process.stdout.write(`${JSON.stringify({ procs, batch, error: ready })}\n`);
    continue;
  }
  const go = Date.now() + 50;
  const deadline = go + seconds * 1000;
  await new Promise((r) => setTimeout(r, 50));
  for (const c of children) c.child.stdin.write(`go ${deadline}\n`);
  const results = await Promise.all(children.map((c) => c.next().then((l) => JSON.parse(l))));
  await Promise.all(children.map((c) => c.exited));
  const end = Math.max(...results.map((r) => r.last));
  const items = results.reduce((a, r) => a + r.runs * batch, 0);
  const itemsPerSecond = Math.round(items / ((end - go) / 1000));
  process.stdout.write(`${JSON.stringify({ procs, batch, ep, itemsPerSecond, perProcess: results.map((r) => ({ runs: r.runs, p50: Number(r.p50.toFixed(3)), ...(r.summary ? { profile: r.summary } : {}) })) })}\n`);
}
