#!/usr/bin/env node
// Cost of the worker runtime's hop (src/runtime): p50 of one run() on the same model through an
// in-process session, a thread lane and a process lane, interleaved round by round (the order rotates)
// so machine drift hits all three. probe-mlp shows the hop itself (compute ≈ 0); mobilenetv2-seeded at
// batch 1 adds a 588 KiB feed. Needs dist/ (npm run build).
// Usage: node scripts/bench-lane.mjs [rounds=5] [iterations=300]
import { CPU_TARGET, openSession } from '../dist/core/backends/registry.js';
import { embeddedModel } from '../dist/core/models/embedded.js';
import { Lane } from '../dist/runtime/lane.js';

const [rounds = 5, iterations = 300] = process.argv.slice(2).map(Number);
const models = {
  'probe-mlp': { bytes: embeddedModel('probe-mlp').build(), feeds: { x: { type: 'float32', dims: [1, 16], data: Float32Array.from({ length: 16 }, (_, i) => Math.sin(i)) } } },
  'mobilenetv2-seeded': { bytes: embeddedModel('mobilenetv2-seeded').build(), feeds: { input: { type: 'float32', dims: [1, 3, 224, 224], data: Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.cos(i)) } } },
};
const p50 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(run, n) {
  for (let i = 0; i < 20; i++) await run();
  const s = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await run();
    s.push(performance.now() - t0);
  }
  return p50(s);
}

const results = {};
for (const [name, m] of Object.entries(models)) {
  const n = name === 'probe-mlp' ? iterations : Math.max(20, iterations / 10);
  const { session } = await openSession(CPU_TARGET, m.bytes, { threads: 1 });
  const thread = await Lane.start({ name: 'thread', target: CPU_TARGET, host: 'thread' });
  const proc = await Lane.start({ name: 'process', target: CPU_TARGET });
  await thread.load('m', m.bytes, { threads: 1 });
  await proc.load('m', m.bytes, { threads: 1 });
  const ways = { 'in-process': () => session.run(m.feeds), thread: () => thread.run('m', m.feeds), process: () => proc.run('m', m.feeds) };
  const per = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    const order = Object.keys(ways);
    for (let k = 0; k < r % order.length; k++) order.push(order.shift());
    for (const w of order) per[w].push(await time(ways[w], n));
  }
  await Promise.all([thread.close(), proc.close(), session.dispose()]);
  results[name] = Object.fromEntries(Object.entries(per).map(([w, xs]) => [w, Number(p50(xs).toFixed(3))]));
  const base = results[name]['in-process'];
  console.log(`${name} (p50 ms, median of ${rounds} rounds × ${n} runs): ` + Object.entries(results[name]).map(([w, v]) => `${w} ${v} (+${(v - base).toFixed(3)})`).join(', '));
}
