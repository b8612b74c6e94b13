#!/usr/bin/env node
// What one shed request (503, its priority level full) costs the server's HTTP process (issue #17), with
// the priority in the `aivmm-priority` header (refused from the headers, the body never read) against
// `parameters.priority` in the body (read, parsed and decoded before the refusal), side by side.
//
// The real server, MobileNetV2 on one instance, priority_levels 2, level 2 max_queue_size 1. Three level-1
// clients (batch 4, in a child process) keep the instance busy (one runs while the others wait, so level 1
// is never empty when the instance frees) and one level-2 request holds level 2's only place, starved. Then, in rotated windows:
// nothing else (base), or C shedding clients (each resends 5 ms after its 503) with the priority in the
// header or in the body. The server process's CPU (Linux /proc, not the lane's) per window, minus the
// mean of the base windows, ÷ the 503s answered: CPU per shed request.
//
// Usage: npm run build && node scripts/bench-serve-shed-cost.mjs [--model mobilenetv2-seeded] [--clients 8]
//          [--seconds 3] [--rounds 3] [--out file.json]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { closedLoop, flags, fmt, inferBody, modelStats, processCpuMs, startServe } from './serve-bench-lib.mjs';

const flag = flags();

// child mode: the level-1 clients that keep the instance busy, in their own process (so the shedding
// clients' uploads never starve them of the event loop), until told to stop (stdin closes)
const busySpec = flag('busy-child', undefined);
if (busySpec !== undefined) {
  const c = JSON.parse(busySpec);
  const req = await inferBody(c.url, 'm', { batch: c.batch });
  process.stdin.on('end', () => process.exit(0)).resume();
  void closedLoop(c.url, 'm', req, c.n, Number.MAX_SAFE_INTEGER, { 'aivmm-priority': '1', 'aivmm-client': 'busy' });
  process.stdout.write('ready\n');
} else {
const model = flag('model', 'mobilenetv2-seeded');
const clients = Number(flag('clients', '8'));
const seconds = Number(flag('seconds', '3'));
const rounds = Number(flag('rounds', '3'));
const out = flag('out', undefined);

const m = { model, instances: { CPU: 1 }, max_queue: 256, priority_levels: 2, default_priority_level: 2, priority_queue_policy: { 1: { max_queue_size: 64 }, 2: { max_queue_size: 1 } } };
const s = await startServe({ models: { m } });
const windows = [];
try {
  const header = await inferBody(s.url, 'm');
  const body = await inferBody(s.url, 'm', { parameters: { priority: 2 } });
  if (processCpuMs(s.pid) === undefined) throw new Error('no /proc/<pid>/stat here: this script measures CPU on Linux only');
  const post = (req, headers) => fetch(`${s.url}/v2/models/m/infer`, { method: 'POST', headers: { ...req.headers, ...headers }, body: req.body }).then(async (r) => (await r.arrayBuffer(), r.status));
  for (let i = 0; i < 5; i++) await post(header, { 'aivmm-priority': '1' });
  const busy = spawn(process.execPath, [fileURLToPath(import.meta.url), '--busy-child', JSON.stringify({ url: s.url, n: 3, batch: 4 })], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise((r) => busy.stdout.once('data', r));
  const busyDone = new Promise((r) => busy.on('exit', r));
  await new Promise((r) => setTimeout(r, 1000));
  const holder = post(header, { 'aivmm-priority': '2', 'aivmm-client': 'holder' }); // waits at level 2 until the end
  await new Promise((r) => setTimeout(r, 500));
  const kinds = ['base', 'header', 'body'];
  for (let round = 1; round <= rounds; round++) {
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(k + round - 1) % kinds.length];
      const cpu0 = processCpuMs(s.pid);
      const t0 = performance.now();
      const until = t0 + seconds * 1000;
      const r = kind === 'base'
        ? (await new Promise((res) => setTimeout(res, seconds * 1000)), { status: {} })
        : await closedLoop(s.url, 'm', kind === 'header' ? header : body, clients, until, kind === 'header' ? { 'aivmm-priority': '2', 'aivmm-client': 'shed' } : { 'aivmm-client': 'shed' });
      const wallS = (performance.now() - t0) / 1000;
      const st = (await modelStats(s.url, 'm'))?.scheduling?.perLevel;
      const w = { round, kind, wallS, cpuMs: processCpuMs(s.pid) - cpu0, status: r.status, load1: loadavg()[0], dispatched: { 1: st?.['1']?.dispatched, 2: st?.['2']?.dispatched } };
      windows.push(w);
      console.error(`round ${round} ${kind}: server CPU ${fmt(w.cpuMs / wallS, 0)} ms/s, answers ${JSON.stringify(w.status)}, dispatched so far ${JSON.stringify(w.dispatched)}, load ${fmt(w.load1, 2)}`);
    }
  }
  busy.stdin.end();
  await busyDone;
  await holder;
} finally {
  await s.stop();
}

const base = windows.filter((w) => w.kind === 'base');
const baseRate = base.reduce((a, w) => a + w.cpuMs, 0) / base.reduce((a, w) => a + w.wallS, 0);
console.log(`\n${model}, one CPU instance; ${clients} shedding clients; ${seconds} s windows, ${rounds} rounds (rotated); load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
console.log('| priority in | 503/s | other answers | server CPU ms/s (base subtracted) | CPU per 503 (µs) | per round (µs) |');
console.log('|--|--:|--|--:|--:|--|');
const summary = { baseCpuMsPerS: baseRate };
for (const kind of ['header', 'body']) {
  const ws = windows.filter((w) => w.kind === kind);
  const n503 = ws.reduce((a, w) => a + (w.status['503'] ?? 0), 0);
  const wall = ws.reduce((a, w) => a + w.wallS, 0);
  const extra = ws.reduce((a, w) => a + w.cpuMs - baseRate * w.wallS, 0);
  const others = {};
  for (const w of ws) for (const [k, v] of Object.entries(w.status)) if (k !== '503') others[k] = (others[k] ?? 0) + v;
  const per = (extra / n503) * 1000;
  summary[kind] = { per503Us: per, rate503: n503 / wall, extraCpuMsPerS: extra / wall };
  console.log(`| ${kind} | ${fmt(n503 / wall, 0)} | ${JSON.stringify(others)} | ${fmt(extra / wall, 0)} | ${fmt(per, 0)} | ${ws.map((w) => fmt(((w.cpuMs - baseRate * w.wallS) / (w.status['503'] ?? 1)) * 1000, 0)).join(', ')} |`);
}
console.log(`\nbase (busy instance, nothing shed): ${fmt(baseRate, 0)} ms/s of server CPU; header ÷ body CPU per 503: ${fmt(summary.header.per503Us / summary.body.per503Us, 2)}`);
if (out) writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), model, clients, seconds, rounds, summary, windows }, null, 2)}\n`);
}
