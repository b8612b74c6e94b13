#!/usr/bin/env node
// Priorities under overload (issue #17): the real server with priority_levels 2; a steady high-priority
// client (closed loop, `aivmm-priority: 1`) alone, then with N low-priority clients flooding the model
// (closed loop, each its own `aivmm-client`), then the same flood with the high client sent at the low
// level too (what it would get without priorities). Prints the high client's p50/p99 in each phase
// (goal: overloaded p99 ≤ 2× unloaded) and the low clients' answers: 200, shed (503: the level's
// max_queue_size), dropped past the level's timeout (504), and how many were delayed (timeout_action delay).
//
// Usage: npm run build && node scripts/bench-serve-priorities.mjs [--model PATH|alias] [--device CPU]
//          [--backend ort-cuda] [--low-clients 32] [--seconds 5] [--low-queue 16] [--low-timeout 500ms]
//          [--action reject|delay] [--instances 1] [--out file.json]
import { writeFileSync } from 'node:fs';
import { closedLoop, deviceKey, flags, fmt, inferBody, modelStats, quantile, startServe } from './serve-bench-lib.mjs';

const flag = flags();
const model = flag('model', 'mobilenetv2-seeded');
const device = deviceKey(flag('device', 'CPU'), flag('backend', undefined));
const lowClients = Number(flag('low-clients', '32'));
const seconds = Number(flag('seconds', '5'));
const lowQueue = Number(flag('low-queue', '16'));
const lowTimeout = flag('low-timeout', '500ms');
const action = flag('action', 'reject');
const instances = Number(flag('instances', '1'));
const out = flag('out', undefined);

const m = {
  model,
  instances: { [device]: instances },
  max_queue: 256,
  priority_levels: 2,
  default_priority_level: 2,
  priority_queue_policy: { 1: { max_queue_size: 64 }, 2: { max_queue_size: lowQueue, timeout: lowTimeout, timeout_action: action } },
};
const s = await startServe({ models: { m } });
const phases = {};
try {
  const req = await inferBody(s.url, 'm');
  for (let i = 0; i < 10; i++) await fetch(`${s.url}/v2/models/m/infer`, { method: 'POST', headers: req.headers, body: req.body }).then((r) => r.arrayBuffer());
  const phase = async (name, highPriority, withLoad) => {
    const until = performance.now() + seconds * 1000;
    const low = withLoad ? Array.from({ length: lowClients }, (_, i) => closedLoop(s.url, 'm', req, 1, until, { 'aivmm-priority': '2', 'aivmm-client': `low-${i}` })) : [];
    // The high client starts a moment after the flood, so it meets a full queue.
    if (withLoad) await new Promise((r) => setTimeout(r, 300));
    const high = await closedLoop(s.url, 'm', req, 1, until, { 'aivmm-priority': String(highPriority), 'aivmm-client': 'high' });
    const lows = await Promise.all(low);
    const lowStatus = {};
    for (const l of lows) for (const [k, v] of Object.entries(l.status)) lowStatus[k] = (lowStatus[k] ?? 0) + v;
    phases[name] = { high: { n: high.lat.length, p50: quantile(high.lat, 0.5), p99: quantile(high.lat, 0.99), status: high.status }, low: lowStatus };
    console.error(`${name}: high p50 ${fmt(phases[name].high.p50)} ms p99 ${fmt(phases[name].high.p99)} ms (${high.lat.length} ok); low ${JSON.stringify(lowStatus)}`);
  };
  await phase('unloaded', 1, false);
  await phase('overloaded', 1, true);
  await phase('overloaded, no priority', 2, true);
  phases.stats = (await modelStats(s.url, 'm'))?.scheduling;
} finally {
  await s.stop();
}

const u = phases.unloaded.high.p99;
const o = phases.overloaded.high.p99;
console.log(`\n${model} on ${device} × ${instances}; ${lowClients} low-priority clients (level 2: max_queue_size ${lowQueue}, timeout ${lowTimeout} ${action}); ${seconds} s per phase\n`);
console.log('| phase | high p50 ms | high p99 ms | high ok | low 200 | low 503 (shed) | low 504 (timed out) |');
console.log('|--|--:|--:|--:|--:|--:|--:|');
for (const name of ['unloaded', 'overloaded', 'overloaded, no priority']) {
  const p = phases[name];
  console.log(`| ${name} | ${fmt(p.high.p50)} | ${fmt(p.high.p99)} | ${p.high.n} | ${p.low['200'] ?? 0} | ${p.low['503'] ?? 0} | ${p.low['504'] ?? 0} |`);
}
const lv2 = phases.stats?.perLevel?.['2'];
console.log(`\nhigh-priority p99 overloaded / unloaded: ${fmt(o / u, 2)}× (goal ≤ 2×: ${o <= 2 * u ? 'met' : 'NOT met'})`);
if (lv2) console.log(`level 2 (whole run): admitted ${lv2.admitted}, refused ${lv2.rejected}, timed out ${lv2.timedOut}, delayed ${lv2.delayed}, dispatched ${lv2.dispatched}`);
if (out) writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), model, device, instances, lowClients, seconds, lowQueue, lowTimeout, action, phases }, null, 2)}\n`);
