// The sequential --against rule's power by the most looks allowed (issue #21), on the synthetic streams of
// test/unit/bench-gate-sequential.test.ts (seed 31, 300 runs per cell, 25 block pairs per look):
// A/A, +2% (inside the 5% limit) and +8% twins; prints the verdict counts and the mean looks used.
// Usage: node --import tsx scripts/experiments/gate-sequential-power.ts [block noise 0.04] [pairs per look 25] [position effect 0.03] [seed 31]
import { PAIRS_PER_UNIT, evaluateLook, lookLevels, minUnits, pairUnits, sequentialPaired } from '../../src/core/bench/gate-stats.js';
import { seededRandom } from '../../src/core/random.js';
function gauss(rand: () => number): number { return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()); }
const noise = { block: Number(process.argv[2] ?? 0.04), burst: 0.05, position: Number(process.argv[4] ?? 0.03) };
const per = Number(process.argv[3] ?? 25);
const seed = Number(process.argv[5] ?? 31);
for (const K of [1, 4, 6, 8, 10]) for (const slow of [1, 1.02, 1.08]) {
  const rand = seededRandom(seed); const c: Record<string, number> = {}; let looksUsed = 0;
  for (let i = 0; i < 300; i++) {
    const cur: number[] = [], old: number[] = []; let m = 0;
    const first = PAIRS_PER_UNIT * minUnits(lookLevels(K).level); const at = (j: number) => Math.max(j * per, first + (j - 1) * PAIRS_PER_UNIT);
    for (let k = 0; k < at(K); k++) { m = 0.9 * m + 0.2 * gauss(rand); const st = 1 + rand() * Math.exp(m); const b = () => Math.exp(noise.block * gauss(rand)) * (rand() < noise.burst ? 1.5 + rand() * 1.5 : 1); const f = k % 2 === 0; cur.push(10 * slow * st * b() * (f ? 1 + noise.position : 1)); old.push(10 * st * b() * (f ? 1 : 1 + noise.position)); }
    const u = pairUnits(cur, old); const looks: number[] = [];
    for (let j = 1; j <= K; j++) { looks.push(Math.floor(at(j) / PAIRS_PER_UNIT)); if (j < K && evaluateLook(u, looks[looks.length - 1] as number, K, 0.05).clear) break; }
    const v = sequentialPaired(u, looks, K, 0.05).verdict; c[v] = (c[v] ?? 0) + 1; looksUsed += looks.length;
  }
  console.log(`K=${K} slow=${slow}: ${JSON.stringify(c)} mean looks ${(looksUsed / 300).toFixed(1)}`);
}
