#!/usr/bin/env node
// Which unit and statistic should the --against gate decide on (issue #21)? Reads `aivmm bench --against
// --json` reports (their paired block medians) and prints, per report: the AB-vs-BA order effect (mean
// log ratio of pairs that ran A first minus those that ran B first), and for windows of W pairs the width
// of the 95% interval of the median by order statistics on (a) pair ratios, (b) ABBA quadruple ratios,
// and (c) the t-interval of the mean log quadruple ratio; plus each one's spread (sd of log units ×
// √units, comparable across unit sizes: smaller is more power per block).
// Then, on A/A reports, coverage: how often an order-statistic 95% interval of windows of 8/16/32 units
// excludes 1 (should be ≤ 5%) for pair ratios, ABBA quadruples and units of 4 pairs (the gate's unit), and
// the lag-1…4 autocorrelations of the log pair ratios (correlated pairs make pair intervals too narrow).
// Usage: node scripts/experiments/gate-units.mjs [--window 20] report.json…  (needs a build: dist/)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { pairedRatio, studentTQuantile } = await import(join(root, 'dist/core/bench/gate-stats.js'));
/** One unit per ABBA quadruple: the geometric mean of its AB pair's ratio and its BA pair's (position effects cancel). */
const abbaRatios = (a, b) => {
  const out = [];
  for (let k = 0; k + 1 < a.length; k += 2) out.push(Math.sqrt((a[k] / b[k]) * (a[k + 1] / b[k + 1])));
  return out;
};
const args = process.argv.slice(2);
const wi = args.indexOf('--window');
const W = wi >= 0 ? Number(args.splice(wi, 2)[1]) : 20;
const mean = (xs) => xs.reduce((a, x) => a + x, 0) / xs.length;
const sd = (xs) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const rows = [];
for (const f of args) {
  const doc = JSON.parse(readFileSync(f, 'utf8'));
  for (const row of doc.data.rows) {
    const p = row.paired;
    if (!p) continue;
    const pairs = p.current.map((c, k) => c / p.old[k]);
    const lp = pairs.map(Math.log);
    const order = mean(lp.filter((_, k) => k % 2 === 0)) - mean(lp.filter((_, k) => k % 2 === 1));
    const w = { pair: [], quad: [], tquad: [] };
    for (let s = 0; s + W <= pairs.length; s += W) {
      const win = pairs.slice(s, s + W);
      const e = pairedRatio(win);
      w.pair.push(Math.log(e.ci95[1] / e.ci95[0]));
      const q = abbaRatios(p.current.slice(s, s + W), p.old.slice(s, s + W));
      const eq = pairedRatio(q);
      w.quad.push(Math.log(eq.ci95[1] / eq.ci95[0]));
      const lq = q.map(Math.log);
      w.tquad.push(2 * studentTQuantile(0.975, lq.length - 1) * sd(lq) / Math.sqrt(lq.length));
    }
    const q = abbaRatios(p.current, p.old).map(Math.log);
    const r = { file: f.split('/').pop(), model: row.model, p50: row.stats.p50.toFixed(1), block: p.blockSize, pairs: pairs.length, orderEffect: `${(order * 100).toFixed(1)}%`,
      sdPair: (sd(lp) * 100).toFixed(1), sdQuad: (sd(q) * Math.SQRT2 * 100).toFixed(1),
      madPair: (1.4826 * med(lp.map((x) => Math.abs(x - med(lp)))) * 100).toFixed(1), madQuad: (1.4826 * med(q.map((x) => Math.abs(x - med(q)))) * Math.SQRT2 * 100).toFixed(1),
      widthPair: `${(med(w.pair) * 100).toFixed(1)}%`, widthQuad: `${(med(w.quad) * 100).toFixed(1)}%`, widthTQuad: `${(med(w.tquad) * 100).toFixed(1)}%`, windows: w.pair.length,
      aaPair: ((med(pairs) - 1) * 100).toFixed(1), aaQuad: ((Math.exp(med(q)) - 1) * 100).toFixed(1) };
    rows.push(r);
  }
}
console.log(`# window ${W} pairs; widths: median over windows of log(hi/lo) of the 95% interval; sd/mad: of log units, quads ×√2 (per pair of blocks, comparable)`);
console.table(rows);

// ---- A/A coverage by unit ----------------------------------------------------------------------------
const acf = (xs, lag) => {
  const m = mean(xs);
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    den += (xs[i] - m) ** 2;
    if (i + lag < xs.length) num += (xs[i] - m) * (xs[i + lag] - m);
  }
  return num / den;
};
const group = (r, g) => {
  const out = [];
  for (let i = 0; i + g <= r.length; i += g) out.push(Math.exp(mean(r.slice(i, i + g).map(Math.log))));
  return out;
};
const cov = {};
for (const f of args) {
  const p = JSON.parse(readFileSync(f, 'utf8')).data.rows[0]?.paired;
  if (!p) continue;
  const r = p.current.map((c, k) => c / p.old[k]);
  console.log(`${f.split('/').pop()}: ${r.length} pairs, autocorrelation of log ratios at lag 1…4: ${[1, 2, 3, 4].map((k) => acf(r.map(Math.log), k).toFixed(2)).join(' ')}`);
  for (const [name, g] of [['pairs', 1], ['ABBA quadruples', 2], ['units of 4 pairs', 4]]) {
    const u = group(r, g);
    for (const w of [8, 16, 32]) {
      for (let s = 0; s + w <= u.length; s += Math.max(1, w >> 1)) {
        const e = pairedRatio(u.slice(s, s + w), 0.95);
        const key = `${name}, windows of ${w}`;
        cov[key] ??= { n: 0, miss: 0 };
        cov[key].n++;
        if (e.ci95[0] > 1 || e.ci95[1] < 1) cov[key].miss++;
      }
    }
  }
}
console.log('# A/A only: 95% intervals that exclude 1 (half-overlapping windows)');
for (const [k, v] of Object.entries(cov)) console.log(`${k}: ${v.miss}/${v.n} = ${((100 * v.miss) / v.n).toFixed(0)}%`);
