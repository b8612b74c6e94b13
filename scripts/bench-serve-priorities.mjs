#!/usr/bin/env node
// Priorities under overload (issue #17): the real server with priority_levels 2; a steady high-priority
// client (closed loop, `aivmm-priority: 1`) alone, then with N low-priority clients flooding the model
// (closed loop, each its own `aivmm-client`), then the same flood with the high client sent at the low
// level too (what it would get without priorities). Prints the high client's p50/p99 in each phase
// (goal: overloaded p99 ≤ 2× unloaded) and the low clients' answers: 200, shed (503: the level's
// max_queue_size), dropped past the level's timeout (504), and how many were delayed (timeout_action delay).
//
// The overloaded phase runs once per combination of three levers, side by side in each round (rounds
// interleaved, each with its own unloaded phase; ratios against that round's unloaded p99):
//   --low-backoff none|retry-after|both   none: a refused low client resends after 5 ms (hammering);
//                                         retry-after: it waits the 503's Retry-After, as a polite client does
//   --load inline|child|both              inline: the low clients run in this process, beside the high
//                                         client; child: in a child process at nice +--load-nice (10),
//                                         emulating a load machine apart from the server (on one host they
//                                         still share its cores, but yield them to the server)
//   --low-priority-via body|header|both   body: `parameters.priority` in the request, so the server reads
//                                         and parses every body before it can refuse it; header:
//                                         `aivmm-priority`, refused from the headers alone when full
// The server's CPU per phase (its process only, not the lane's; Linux /proc) is printed beside.
//
// Usage: npm run build && node scripts/bench-serve-priorities.mjs [--model PATH|alias] [--device CPU]
//          [--backend ort-cuda] [--low-clients 32] [--seconds 5] [--rounds 1] [--low-queue 16]
//          [--low-timeout 500ms] [--action reject|delay] [--instances 1] [--low-backoff both]
//          [--load both] [--low-priority-via both] [--load-nice 10] [--batch-size 0] [--out file.json]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { closedLoop, deviceKey, flags, fmt, inferBody, modelStats, processCpuMs, quantile, startServe } from './serve-bench-lib.mjs';

const flag = flags();

// ---- child mode: the low clients of one phase, in their own process ----
const childSpec = flag('child', undefined);
if (childSpec !== undefined) {
  const c = JSON.parse(childSpec);
  const req = await inferBody(c.url, c.model, c.via === 'body' ? { parameters: { priority: 2 } } : {});
  process.stdout.write('ready\n');
  const until = performance.now() + c.ms;
  const lows = await Promise.all(Array.from({ length: c.n }, (_, i) => closedLoop(c.url, c.model, req, 1, until, { 'aivmm-client': `low-${i}`, ...(c.via === 'header' ? { 'aivmm-priority': '2' } : {}) }, { backoff: c.backoff })));
  process.stdout.write(`${JSON.stringify(merge(lows))}\n`);
  process.exit(0);
}

function merge(lows) {
  const status = {};
  const waits = { n: 0, ms: 0 };
  for (const l of lows) {
    for (const [k, v] of Object.entries(l.status)) status[k] = (status[k] ?? 0) + v;
    waits.n += l.waits.n;
    waits.ms += l.waits.ms;
  }
  return { status, waits };
}

const both = (name, values, def = 'both') => {
  const v = flag(name, def);
  const out = v === 'both' ? values : v.split(',');
  for (const x of out) if (!values.includes(x)) throw new Error(`--${name} ${v}: give ${values.join(', ')} or both`);
  return out;
};
const model = flag('model', 'mobilenetv2-seeded');
const device = deviceKey(flag('device', 'CPU'), flag('backend', undefined));
const lowClients = Number(flag('low-clients', '32'));
const seconds = Number(flag('seconds', '5'));
const rounds = Number(flag('rounds', '1'));
const lowQueue = Number(flag('low-queue', '16'));
const lowTimeout = flag('low-timeout', '500ms');
const action = flag('action', 'reject');
const instances = Number(flag('instances', '1'));
const loadNice = Number(flag('load-nice', '10'));
const batchSize = Number(flag('batch-size', '0'));
const backoffs = both('low-backoff', ['none', 'retry-after']);
const loads = both('load', ['inline', 'child']);
const vias = both('low-priority-via', ['body', 'header']);
const out = flag('out', undefined);

const m = {
  model,
  instances: { [device]: instances },
  max_queue: 256,
  priority_levels: 2,
  default_priority_level: 2,
  priority_queue_policy: { 1: { max_queue_size: 64 }, 2: { max_queue_size: lowQueue, timeout: lowTimeout, timeout_action: action } },
  // --batch-size N: dynamic batching (fixed, 2 ms window); low-priority batches are then capped while level-1 work is recent
  ...(batchSize > 0 ? { dynamic_batching: { max_batch_size: batchSize, max_queue_delay: '2ms' } } : {}),
};
const combos = [];
for (const backoff of backoffs) for (const load of loads) for (const via of vias) combos.push({ backoff, load, via, name: `${backoff === 'none' ? 'hammer' : 'retry-after'} · ${load} · ${via}` });
// Without priorities: the most polite flood asked for (the last combination), the high client at level 2.
const last = combos[combos.length - 1];

const self = fileURLToPath(import.meta.url);
/** The low clients in a child process at nice +loadNice: `ready` once it starts its clock, `done` with their merged result. */
function childLow(url, ms, c) {
  const child = spawn(process.execPath, [self, '--child', JSON.stringify({ url, model: 'm', n: lowClients, ms, backoff: c.backoff, via: c.via })], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    setPriority(child.pid, loadNice);
  } catch {
    childNiceFailed = true;
  }
  let buf = '';
  let started;
  const ready = new Promise((r) => (started = r));
  child.stdout.on('data', (d) => {
    buf += d.toString();
    if (buf.startsWith('ready\n')) started();
  });
  const done = new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      started();
      try {
        resolve(JSON.parse(buf.split('\n').filter(Boolean).pop()));
      } catch {
        reject(new Error(`low-client child exited ${code}: ${buf.slice(-500)}`));
      }
    });
  });
  return { ready, done };
}
let childNiceFailed = false;

const s = await startServe({ models: { m } });
const results = []; // { round, phase, combo?, high: {...}, low, serverCpuMs }
try {
  const highReq = await inferBody(s.url, 'm');
  for (let i = 0; i < 10; i++) await fetch(`${s.url}/v2/models/m/infer`, { method: 'POST', headers: highReq.headers, body: highReq.body }).then((r) => r.arrayBuffer());
  const lowReqs = { body: await inferBody(s.url, 'm', { parameters: { priority: 2 } }), header: highReq };
  const phase = async (round, name, highPriority, c) => {
    const cpu0 = processCpuMs(s.pid);
    const t0 = performance.now();
    let low = Promise.resolve(undefined);
    if (c && c.load === 'inline') {
      const until = t0 + seconds * 1000;
      low = Promise.all(Array.from({ length: lowClients }, (_, i) => closedLoop(s.url, 'm', lowReqs[c.via], 1, until, { 'aivmm-client': `low-${i}`, ...(c.via === 'header' ? { 'aivmm-priority': '2' } : {}) }, { backoff: c.backoff }))).then(merge);
    } else if (c) {
      const ch = childLow(s.url, seconds * 1000, c);
      await ch.ready; // the child has its body ready and starts its clock now
      low = ch.done;
    }
    // The high client starts a moment after the flood, so it meets a full queue.
    if (c) await new Promise((r) => setTimeout(r, 300));
    const until = (c ? performance.now() - 300 : performance.now()) + seconds * 1000;
    const high = await closedLoop(s.url, 'm', highReq, 1, until, { 'aivmm-priority': String(highPriority), 'aivmm-client': 'high' });
    const lows = (await low) ?? { status: {}, waits: { n: 0, ms: 0 } };
    const cpu1 = processCpuMs(s.pid);
    const wallS = (performance.now() - t0) / 1000;
    const r = { round, phase: name, ...(c ? { backoff: c.backoff, load: c.load, via: c.via } : {}), high: { n: high.lat.length, lat: high.lat, p50: quantile(high.lat, 0.5), p99: quantile(high.lat, 0.99), status: high.status }, low: lows.status, lowWaits: lows.waits, serverCpuPerS: cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / wallS : undefined, load1: loadavg()[0] };
    results.push(r);
    console.error(`round ${round} ${name}: high p50 ${fmt(r.high.p50)} ms p99 ${fmt(r.high.p99)} ms (${r.high.n} ok); low ${JSON.stringify(r.low)}; server CPU ${fmt(r.serverCpuPerS, 0)} ms/s; load ${fmt(r.load1, 2)}`);
  };
  for (let round = 1; round <= rounds; round++) {
    await phase(round, 'unloaded', 1, undefined);
    // rotate the combinations' order from round to round
    for (let k = 0; k < combos.length; k++) {
      const c = combos[(k + round - 1) % combos.length];
      await phase(round, c.name, 1, c);
    }
    await phase(round, `no priority (${last.name})`, 2, last);
  }
  const ms = await modelStats(s.url, 'm');
  results.stats = ms?.scheduling;
  results.batching = ms?.batching;
} finally {
  await s.stop();
}

// Pooled over rounds: every sample of a phase; the ratio against the pooled unloaded p99, and per round.
const pooled = (name) => {
  const rs = results.filter((r) => r.phase === name);
  const lat = rs.flatMap((r) => r.high.lat);
  const low = {};
  for (const r of rs) for (const [k, v] of Object.entries(r.low)) low[k] = (low[k] ?? 0) + v;
  const cpu = rs.map((r) => r.serverCpuPerS).filter((x) => x !== undefined);
  return { rs, n: lat.length, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), low, waits: rs.reduce((a, r) => a + r.lowWaits.n, 0), cpu: cpu.length ? cpu.reduce((a, b) => a + b, 0) / cpu.length : undefined };
};
const u = pooled('unloaded');
const names = ['unloaded', ...combos.map((c) => c.name), `no priority (${last.name})`];
console.log(`\n${model} on ${device} × ${instances}; ${lowClients} low-priority clients (level 2: max_queue_size ${lowQueue}, timeout ${lowTimeout} ${action}); ${seconds} s per phase, ${rounds} round(s); child load at nice +${loadNice}${childNiceFailed ? ' (setPriority refused: at the same nice)' : ''}; load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
console.log('| phase (low: backoff · load · priority via) | high p50 ms | high p99 ms | p99 ÷ unloaded | per round | high ok | low 200 | low 503 | low 504 | low waits | server CPU ms/s |');
console.log('|--|--:|--:|--:|--|--:|--:|--:|--:|--:|--:|');
const summary = [];
for (const name of names) {
  const p = pooled(name);
  const perRound = p.rs.map((r) => fmt(r.high.p99 / results.find((x) => x.round === r.round && x.phase === 'unloaded').high.p99, 1)).join(', ');
  const ratio = p.p99 / u.p99;
  summary.push({ phase: name, p50: p.p50, p99: p.p99, ratio, n: p.n, low: p.low, waits: p.waits, serverCpuPerS: p.cpu });
  console.log(`| ${name} | ${fmt(p.p50)} | ${fmt(p.p99)} | ${name === 'unloaded' ? '1' : `${fmt(ratio, 2)}×`} | ${name === 'unloaded' ? '' : perRound} | ${p.n} | ${p.low['200'] ?? 0} | ${p.low['503'] ?? 0} | ${p.low['504'] ?? 0} | ${p.waits} | ${fmt(p.cpu, 0)} |`);
}
const best = summary.filter((x) => !x.phase.startsWith('no priority') && x.phase !== 'unloaded').sort((a, b) => a.ratio - b.ratio)[0];
console.log(`\nbest: ${best.phase}: high-priority p99 overloaded / unloaded ${fmt(best.ratio, 2)}× (goal ≤ 2×: ${best.ratio <= 2 ? 'met' : 'NOT met'})`);
const lv2 = results.stats?.perLevel?.['2'];
if (results.batching) console.log(`batching (max ${batchSize}): mean batch ${fmt(results.batching.meanBatchSize, 2)}, sizes ${JSON.stringify(results.batching.sizes)}, low-priority batches capped ${results.batching.lowCappedBatches ?? 0} (cap now ${results.batching.lowCap ?? 'none'})`);
if (lv2) console.log(`level 2 (whole run): admitted ${lv2.admitted}, refused ${lv2.rejected}, timed out ${lv2.timedOut}, delayed ${lv2.delayed}, dispatched ${lv2.dispatched}`);
if (out) writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), model, device, instances, lowClients, seconds, rounds, lowQueue, lowTimeout, action, loadNice, summary, phases: results.map(({ high: { lat: _l, ...h }, ...r }) => ({ ...r, high: h })), stats: results.stats, batching: results.batching }, null, 2)}\n`);
