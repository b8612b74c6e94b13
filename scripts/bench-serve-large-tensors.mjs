#!/usr/bin/env node
// The server's own cost per large binary request (issue #17: at concurrency 16 on the H200 the HTTP thread,
// not the GPU, bounded batching). A model that does almost nothing with a 602 KB FP32 input (224² RGB,
// GlobalAveragePool → Gemm → 1000 logits, ResNet-50's input and output) served by `aivmm serve` and driven by
// `aivmm bench --server` (binary tensors, closed loop): req/s, p95, and the CPU time per request of the
// server process (all its threads) and of the load generator, from /proc. With --roots, the servers of other
// checkouts (e.g. a worktree of an older commit, built) run side by side, interleaved per point and round,
// all driven by this checkout's load generator.
//
// Usage: npm run build && node scripts/bench-serve-large-tensors.mjs [--roots .,../old] [--lanes thread,process]
//          [--modes off,fixed] [--concurrency 16,64] [--seconds 2] [--rounds 2] [--out docs/results/x.json]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { flags, processCpuMs, root, startServe } from './serve-bench-lib.mjs';

const flag = flags();
const roots = flag('roots', '.')
  .split(',')
  .map((r) => resolve(r));
const lanes = flag('lanes', 'thread,process').split(',');
const modes = flag('modes', 'off,fixed').split(',');
const levels = flag('concurrency', '16,64').split(',').map(Number);
const seconds = Number(flag('seconds', '2'));
const rounds = Number(flag('rounds', '2'));
const out = flag('out', undefined);

const { GraphBuilder } = await import(join(root, 'dist/core/onnx/builder.js'));
const { encodeModel } = await import(join(root, 'dist/core/onnx/writer.js'));
const dir = mkdtempSync(join(tmpdir(), 'aivmm-large-'));
const modelPath = join(dir, 'pool-gemm-224.onnx');
{
  const b = new GraphBuilder(1);
  let x = b.input({ name: 'input', dataType: 'float32', shape: ['batch', 3, 224, 224] });
  x = b.op('GlobalAveragePool', [x]);
  x = b.op('Flatten', [x], [{ name: 'axis', type: 'int', value: 1 }]);
  x = b.gemm(x, 3, 1000);
  b.op('Identity', [x], [], 'logits');
  b.output({ name: 'logits', dataType: 'float32', shape: ['batch', 1000] });
  writeFileSync(modelPath, encodeModel({ producerName: 'aivmm-bench', producerVersion: '1', graph: b.graph('pool-gemm-224') }));
}

/** Runs the load generator; resolves with its JSON point and its own CPU seconds (from wait4 via /usr/bin/time). */
function load(bin, url, c) {
  const args = [
    '-f',
    '%U %S',
    process.execPath,
    bin,
    'bench',
    '--server',
    url,
    '--model',
    'm',
    '--concurrency',
    String(c),
    '--window',
    `${seconds * 1000}ms`,
    '--max-windows',
    '3',
    '--warmup',
    '1s',
    '--json',
  ];
  return new Promise((res, rej) => {
    const child = spawn('/usr/bin/time', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let so = '';
    let se = '';
    child.stdout.on('data', (d) => (so += d));
    child.stderr.on('data', (d) => (se += d));
    child.on('exit', () => {
      try {
        const [u, s] = se.trim().split('\n').pop().split(' ').map(Number);
        res({ point: JSON.parse(so).data.points[0], cpuS: u + s });
      } catch (e) {
        rej(new Error(`bench --server failed: ${se.slice(-800)} ${e}`));
      }
    });
  });
}
async function served(url) {
  const t = await (await fetch(`${url}/metrics`)).text();
  return Number(/aivmm_inference_request_success_total\{[^}]*\} (\d+)/.exec(t)?.[1] ?? 0);
}

const rows = [];
for (let round = 1; round <= rounds; round++) {
  for (const lane of lanes) {
    for (const mode of modes) {
      for (const c of levels) {
        for (const r of roots) {
          const bin = join(r, 'bin', 'aivmm.js');
          const m = {
            model: modelPath,
            instances: { CPU: 1 },
            threads: 1,
            max_queue: 1024,
            ...(mode === 'fixed' ? { dynamic_batching: { max_batch_size: 32, max_queue_delay: '2ms' } } : {}),
          };
          let s;
          try {
            s = await startServe({ server: { lane }, models: { m } }, [], { bin });
          } catch (e) {
            console.log(`round ${round} ${lane} ${mode} c=${c} ${r}: the server did not start: ${String(e.message).slice(0, 1200)}`);
            continue;
          }
          try {
            const c0 = processCpuMs(s.pid) / 1000;
            const n0 = await served(s.url);
            const { point, cpuS } = await load(join(root, 'bin', 'aivmm.js'), s.url, c); // one load generator for every build
            const c1 = processCpuMs(s.pid) / 1000;
            const n = (await served(s.url)) - n0;
            const row = {
              root: r,
              round,
              lane,
              mode,
              concurrency: c,
              reqPerSec: point.throughput.requestsPerSec,
              p95Ms: point.stats?.p95,
              errors: point.errors,
              requests: n,
              serverCpuUsPerReq: Math.round(((c1 - c0) / n) * 1e6),
              clientCpuUsPerReq: Math.round((cpuS / n) * 1e6),
            };
            rows.push(row);
            console.log(
              `round ${round} ${lane.padEnd(7)} ${mode.padEnd(5)} c=${String(c).padStart(2)} ${r === root.replace(/\/$/, '') ? '(this)' : r}: ${row.reqPerSec.toFixed(1)} req/s · p95 ${row.p95Ms?.toFixed(1)} ms · server ${row.serverCpuUsPerReq} µs/req · client ${row.clientCpuUsPerReq} µs/req`,
            );
          } finally {
            await s.stop();
          }
        }
      }
    }
  }
}
rmSync(dir, { recursive: true, force: true });
// Medians over rounds, per root and point.
const key = (x) => `${x.lane} ${x.mode} c=${x.concurrency}`;
const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log('\n| point | ' + roots.map((r) => `${r.split('/').pop()} req/s · p95 · server µs/req`).join(' | ') + ' |');
console.log('|---|' + roots.map(() => '---|').join(''));
for (const k of [...new Set(rows.map(key))]) {
  const cells = roots.map((r) => {
    const xs = rows.filter((x) => x.root === r && key(x) === k);
    return `${med(xs.map((x) => x.reqPerSec)).toFixed(0)} · ${med(xs.map((x) => x.p95Ms)).toFixed(1)} ms · ${med(xs.map((x) => x.serverCpuUsPerReq)).toFixed(0)}`;
  });
  console.log(`| ${k} | ${cells.join(' | ')} |`);
}
if (out) writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), seconds, rounds, rows }, null, 2));
