#!/usr/bin/env node
// Measures wall time of `aivmm devices --json` as a user sees it (process start to exit), plain and
// with the probe cache read. Target (issue #2): ≤ 400 ms on the 2-core dev machine.
// Usage: node scripts/bench-devices.mjs [runs=20]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const bin = fileURLToPath(new URL('../bin/aivmm.js', import.meta.url));
const runs = Number(process.argv[2] ?? 20);

function measure(args) {
  spawnSync(process.execPath, [bin, ...args], { stdio: 'ignore' }); // warm the file cache
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`aivmm ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    JSON.parse(r.stdout);
    times.push(ms);
  }
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { min: times[0], p50: q(0.5), p90: q(0.9), max: times[times.length - 1] };
}

const baseline = (() => {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0']);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
})();

console.log(`host: ${os.cpus()[0]?.model} × ${os.cpus().length}, node ${process.version}, ${runs} runs each`);
console.log(`node -e 0 (process start only): p50 ${baseline.toFixed(0)} ms`);
for (const args of [['devices', '--json', '--no-cache'], ['devices', '--json']]) {
  const s = measure(args);
  console.log(`aivmm ${args.join(' ').padEnd(26)} min ${s.min.toFixed(0)} ms  p50 ${s.p50.toFixed(0)} ms  p90 ${s.p90.toFixed(0)} ms  max ${s.max.toFixed(0)} ms  ${s.p90 <= 400 ? '(within 400 ms)' : '(OVER 400 ms)'}`);
}
