// Shared by scripts/bench-serve-{batching,priorities,balance}.mjs and bench-server-vs-wrk.mjs: start the
// real server (`node bin/aivmm.js serve --config FILE --port 0 --json`) and stop it, run the real load
// generator (`aivmm bench --server`), read a model's stats, and a small closed-loop client for headers
// the load generator does not send (priority, client). Node only, no network beyond loopback, so it runs
// on the GPU machine with the node from .gpu as it is (process.execPath is reused for every child).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const bin = join(root, 'bin', 'aivmm.js');

export function flags(argv = process.argv.slice(2)) {
  return (name, def) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
  };
}

/** The device key for the config: GPU.0 + ort-cuda → "GPU.0@ort-cuda"; CPU alone → "CPU". */
export function deviceKey(device, backend) {
  return backend ? `${device}@${backend}` : device;
}

/** Starts `aivmm serve` with `config` (an object, written as JSON, which YAML includes); resolves with its URL and pid. */
export async function startServe(config, extraArgs = [], { prefix = [], bin: serveBin = bin } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'aivmm-bench-serve-'));
  const file = join(dir, 'aivmm.json');
  writeFileSync(file, JSON.stringify(config));
  // prefix: a command the server runs under, e.g. ['taskset', '-c', '0'] (its lane processes inherit it);
  // bin: another checkout's bin/aivmm.js (a build to compare with, side by side)
  const argv = [process.execPath, serveBin, 'serve', '--config', file, '--port', '0', '--json', '--log-level', 'warn', ...extraArgs];
  const child = spawn(prefix.length ? prefix[0] : argv[0], [...prefix.slice(1), ...(prefix.length ? argv : argv.slice(1))], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
  let out = '';
  let err = '';
  child.stderr.on('data', (c) => (err += c.toString()));
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (c) => {
      out += c.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        try {
          resolve(JSON.parse(line).data.url);
        } catch {
          // not the ready line (an error envelope is printed over several lines): the exit shows all of it
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited (${code}) before ready:\n${out.slice(0, 1500)}${err.slice(-2000)}`)));
  });
  return {
    url,
    pid: child.pid,
    stderr: () => err,
    async stop() {
      const done = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await done;
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `aivmm bench --server URL --model M --concurrency c --json …`: the report's points. */
export async function benchServer(url, model, concurrency, { windowMs = 2000, maxWindows = 5, warmup = '1s', jsonData = false } = {}) {
  const args = [bin, 'bench', '--server', url, '--model', model, '--concurrency', String(concurrency), '--window', `${windowMs}ms`, '--max-windows', String(maxWindows), '--warmup', warmup, '--json'];
  if (jsonData) args.push('--json-data');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c.toString()));
  child.stderr.on('data', (c) => (err += c.toString()));
  const code = await new Promise((r) => child.on('exit', r));
  let env;
  try {
    env = JSON.parse(out);
  } catch {
    throw new Error(`aivmm bench --server exited ${code} without JSON:\n${err.slice(-2000)}`);
  }
  return env.data.points;
}

export async function modelStats(url, model) {
  const r = await fetch(`${url}/v2/models/${model}/stats`);
  return (await r.json()).model_stats?.[0];
}

/**
 * A binary-extension infer body for the model's first input (batch `batch`, default 1; other -1 dims as
 * 224); `parameters` go into the request's JSON header (e.g. {priority: 2}).
 */
export async function inferBody(url, model, { parameters, batch = 1 } = {}) {
  const meta = await (await fetch(`${url}/v2/models/${model}`)).json();
  const inp = meta.inputs[0];
  const shape = inp.shape.map((d, k) => (d > 0 ? d : k === 0 ? batch : 224));
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n).map((_, i) => Math.sin(i) * 0.5);
  const header = Buffer.from(JSON.stringify({ ...(parameters ? { parameters } : {}), inputs: [{ name: inp.name, shape, datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }] }));
  return { body: Buffer.concat([header, Buffer.from(data.buffer)]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) }, shape, json: { inputs: [{ name: inp.name, shape, datatype: 'FP32', data: Array.from(data) }] } };
}

/**
 * `n` closed-loop clients until `until` (performance.now()): each sends one request, waits for the
 * answer, sends the next. Latencies of 200s, counts by status. After a refusal (any non-200) a client
 * pauses 5 ms (`backoff: 'none'`, the hammering client), or, with `backoff: 'retry-after'`, the seconds a
 * 503/429's Retry-After names (5 ms when it names none), as a well-behaved client does; `waits` counts those.
 */
export async function closedLoop(url, model, req, n, untilMs, headers = {}, { backoff = 'none' } = {}) {
  const lat = [];
  const status = {};
  const waits = { n: 0, ms: 0 };
  const one = async () => {
    while (performance.now() < untilMs) {
      const t0 = performance.now();
      let s;
      let retryAfter;
      try {
        const r = await fetch(`${url}/v2/models/${model}/infer`, { method: 'POST', headers: { ...req.headers, ...headers }, body: req.body });
        await r.arrayBuffer();
        s = r.status;
        retryAfter = r.headers.get('retry-after');
      } catch {
        s = 'network';
      }
      status[s] = (status[s] ?? 0) + 1;
      if (s === 200) {
        lat.push(performance.now() - t0);
        continue;
      }
      let ms = 5;
      if (backoff === 'retry-after' && (s === 503 || s === 429) && /^\d+$/.test(retryAfter ?? '')) {
        ms = Math.min(Number(retryAfter) * 1000, Math.max(0, untilMs - performance.now()));
        waits.n++;
        waits.ms += ms;
      }
      await new Promise((r) => setTimeout(r, ms));
    }
  };
  await Promise.all(Array.from({ length: n }, one));
  return { lat, status, waits };
}

/** CPU time (user + system, ms) of process `pid` so far, from /proc (Linux); undefined elsewhere. */
export function processCpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    // fields 14 and 15 (utime, stime) are at 11 and 12 after the state field; clock ticks, 100 per second on Linux
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
}

export const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
