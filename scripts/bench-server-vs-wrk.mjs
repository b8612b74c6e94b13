#!/usr/bin/env node
// Is `aivmm bench --server` a faithful load generator? (issue #17) The same endpoint — a JSON v2 infer
// of a tiny model on the real server — driven by `aivmm bench --server --json-data` and by wrk (Debian's
// wrk 4, a Lua script POSTing the same kind of body: the model's input as JSON numbers), at the same
// concurrency (wrk: that many connections) and duration, interleaved (aivmm, wrk, aivmm, wrk…). Prints
// each throughput and the ratio aivmm / wrk (goal: within 5%).
//
// Usage: npm run build && node scripts/bench-server-vs-wrk.mjs [--model tiny-convnet] [--concurrency 8]
//          [--seconds 5] [--rounds 2] [--threads 2] [--out file.json]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchServer, flags, fmt, inferBody, startServe } from './serve-bench-lib.mjs';

const flag = flags();
const model = flag('model', 'tiny-convnet');
const c = Number(flag('concurrency', '8'));
const seconds = Number(flag('seconds', '5'));
const rounds = Number(flag('rounds', '2'));
const wrkThreads = Number(flag('threads', String(Math.min(2, c))));
const out = flag('out', undefined);

function wrk(url, luaFile) {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t', String(wrkThreads), '-c', String(c), '-d', `${seconds}s`, '--latency', '-s', luaFile, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d.toString()));
    child.stderr.on('data', (d) => (text += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
      const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
      if (code !== 0 || !rps) reject(new Error(`wrk exited ${code}:\n${text}`));
      else resolve({ reqPerSec: Number(rps[1]), non2xx: non2xx ? Number(non2xx[1]) : 0, text });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'aivmm-wrk-'));
const s = await startServe({ models: { m: { model, max_queue: 4096 } } });
const rows = [];
try {
  const req = await inferBody(s.url, 'm');
  const bodyFile = join(dir, 'body.json');
  writeFileSync(bodyFile, JSON.stringify(req.json));
  const lua = join(dir, 'post.lua');
  writeFileSync(lua, `local f = io.open(${JSON.stringify(bodyFile)}, "rb")\nwrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\nwrk.headers["Content-Type"] = "application/json"\n`);
  const url = `${s.url}/v2/models/m/infer`;
  for (let r = 0; r < rounds; r++) {
    // aivmm bench measures in windows (stable, or 3 windows); the same total time as wrk's run.
    const [p] = await benchServer(s.url, 'm', c, { windowMs: Math.max(500, Math.round((seconds * 1000) / 3)), maxWindows: 3, warmup: '500ms', jsonData: true });
    const errs = Object.values(p.errors).reduce((a, b) => a + b, 0);
    rows.push({ tool: 'aivmm', round: r, reqPerSec: p.throughput.requestsPerSec, errors: errs });
    console.error(`round ${r} aivmm bench: ${fmt(p.throughput.requestsPerSec)} req/s (${errs} errors)`);
    const w = await wrk(url, lua);
    rows.push({ tool: 'wrk', round: r, reqPerSec: w.reqPerSec, errors: w.non2xx });
    console.error(`round ${r} wrk:         ${fmt(w.reqPerSec)} req/s (${w.non2xx} non-2xx)`);
  }
} finally {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
}
const mean = (t) => rows.filter((r) => r.tool === t).reduce((a, r) => a + r.reqPerSec, 0) / rounds;
const a = mean('aivmm');
const w = mean('wrk');
console.log(`\n${model}, JSON v2 infer, concurrency ${c}, ${seconds} s per run, ${rounds} round(s) interleaved\n`);
console.log('| tool | ' + Array.from({ length: rounds }, (_, r) => `round ${r + 1} req/s`).join(' | ') + ' | mean |');
console.log('|--|' + Array.from({ length: rounds }, () => '--:').join('|') + '|--:|');
for (const t of ['aivmm', 'wrk']) console.log(`| ${t} | ${rows.filter((r) => r.tool === t).map((r) => fmt(r.reqPerSec)).join(' | ')} | ${fmt(mean(t))} |`);
const ratio = a / w;
console.log(`\naivmm / wrk = ${fmt(ratio, 3)} (goal within 5%: ${Math.abs(ratio - 1) <= 0.05 ? 'met' : 'NOT met'})`);
if (out) writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), model, concurrency: c, seconds, rounds, rows, ratio }, null, 2)}\n`);
