#!/usr/bin/env node
// Text generation under load (issues #17, #18): the real `aivmm serve` process (bin/aivmm.js, a worker
// lane, the OpenAI routes) serving one text-generation model with max_sequences M, and N concurrent
// streaming chat clients (each sends its next request as soon as its last one ends) for --seconds each.
// Per (M, N): requests, aggregate output tokens/s, TTFT p50/p95 and TPOT p50 measured by the clients
// (TTFT: from sending the request to the first content chunk; TPOT: the mean gap between the request's
// later chunks), and the server's own gen_ai_server_time_to_first_token mean from /metrics. Needs
// `npm run build`.
// Usage: node scripts/bench-serve-generation.mjs [--model test/fixtures/tiny-llama/model.onnx] [--clients 1,2,4,8]
//        [--max-sequences 1,4] [--seconds 10] [--max-tokens 32] [--json]
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const MODEL = resolve(arg('--model', join(root, 'test/fixtures/tiny-llama/model.onnx')));
const CLIENTS = arg('--clients', '1,2,4,8').split(',').map(Number);
const MAXSEQ = arg('--max-sequences', '1,4').split(',').map(Number);
const SECONDS = Number(arg('--seconds', '10'));
const MAX_TOKENS = Number(arg('--max-tokens', '32'));
const JSON_OUT = args.includes('--json');
const PROMPTS = ['hello world', 'hello', 'world hello', 'hi there', 'hello hello world', 'world', 'say hello', 'hello again'];

const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Starts `aivmm serve` with a config naming the model `llm` with max_sequences M; resolves its URL. */
async function startServe(dir, m) {
  const cfg = join(dir, `serve-${m}.yaml`);
  await writeFile(cfg, `models:\n  llm:\n    model: ${JSON.stringify(MODEL)}\n    max_sequences: ${m}\n    max_queue: 1024\n`);
  const child = spawn(process.execPath, [join(root, 'bin/aivmm.js'), 'serve', '--config', cfg, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AIVMM_API_KEY: '' } });
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  const url = await new Promise((res, rej) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        try {
          res(JSON.parse(line).data.url);
        } catch {
          rej(new Error(`unexpected first line: ${line}`));
        }
      }
    });
    child.on('exit', (code) => rej(new Error(`serve exited (${code}): ${err.slice(-500)}`)));
  });
  return { url, stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.on('exit', () => r()), child.kill('SIGTERM')))) };
}

/** One streaming chat: the times of its content chunks (ms after the send) and the tokens the usage chunk reports. */
async function chat(url, prompt, seed) {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'llm', messages: [{ role: 'user', content: prompt }], max_tokens: MAX_TOKENS, temperature: 0.8, seed, stream: true, stream_options: { include_usage: true } }),
  });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${(await r.text()).slice(0, 200)}`);
  const times = [];
  let tokens = 0;
  let buf = '';
  const dec = new TextDecoder();
  for await (const chunk of r.body) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      const ev = JSON.parse(line.slice(6));
      if (ev.error) throw new Error(ev.error.message);
      if (ev.choices?.[0]?.delta?.content) times.push(performance.now() - t0);
      if (ev.usage) tokens = ev.usage.completion_tokens;
    }
  }
  return { times, tokens };
}

/** The server's own TTFT histogram (sum and count over its label sets), from /metrics. */
async function metricsTtft(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const total = (suffix) => [...text.matchAll(new RegExp(`^gen_ai_server_time_to_first_token_seconds_${suffix}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
  return { sum: total('sum'), count: total('count') };
}

const dir = await mkdtemp(join(tmpdir(), 'aivmm-bench-gen-'));
const rows = [];
try {
  for (const m of MAXSEQ) {
    const server = await startServe(dir, m);
    try {
      await chat(server.url, 'warm up', 1); // opens the pipeline in the lane
      for (const n of CLIENTS) {
        const before = await metricsTtft(server.url);
        const ttft = [];
        const tpot = [];
        let tokens = 0;
        let requests = 0;
        const failures = [];
        const end = performance.now() + SECONDS * 1000;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: n }, async (_, c) => {
            for (let k = 0; performance.now() < end; k++) {
              try {
                const r = await chat(server.url, PROMPTS[(c + k) % PROMPTS.length], 1 + c * 1000 + k);
                requests++;
                tokens += r.tokens;
                if (r.times.length) ttft.push(r.times[0]);
                if (r.times.length > 1) tpot.push((r.times.at(-1) - r.times[0]) / (r.times.length - 1));
              } catch (err) {
                failures.push(String(err));
              }
            }
          }),
        );
        const wall = (performance.now() - t0) / 1000;
        const after = await metricsTtft(server.url);
        const serverTtft = after.count > before.count ? ((after.sum - before.sum) / (after.count - before.count)) * 1000 : NaN;
        rows.push({ maxSequences: m, clients: n, requests, failures: failures.length, tokensPerSec: tokens / wall, ttftP50Ms: pct(ttft, 50), ttftP95Ms: pct(ttft, 95), tpotP50Ms: pct(tpot, 50), serverTtftMeanMs: serverTtft, firstFailure: failures[0] });
      }
    } finally {
      await server.stop();
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const env = { model: MODEL, maxTokens: MAX_TOKENS, seconds: SECONDS, cpus: cpus().length, loadavg1: Number(loadavg()[0].toFixed(2)), node: process.version };
if (JSON_OUT) {
  process.stdout.write(`${JSON.stringify({ env, rows }, null, 2)}\n`);
} else {
  process.stdout.write(`model ${MODEL}, max_tokens ${MAX_TOKENS}, ${SECONDS} s per cell, ${env.cpus} CPUs, load ${env.loadavg1}\n`);
  process.stdout.write('max_seq clients requests fail  tok/s  TTFT p50  TTFT p95  TPOT p50  server TTFT mean (ms)\n');
  const f = (v, w) => (Number.isFinite(v) ? v.toFixed(1) : '-').padStart(w);
  for (const r of rows) process.stdout.write(`${String(r.maxSequences).padStart(7)} ${String(r.clients).padStart(7)} ${String(r.requests).padStart(8)} ${String(r.failures).padStart(4)} ${f(r.tokensPerSec, 6)} ${f(r.ttftP50Ms, 9)} ${f(r.ttftP95Ms, 9)} ${f(r.tpotP50Ms, 9)} ${f(r.serverTtftMeanMs, 10)}${r.firstFailure ? `  (${r.firstFailure})` : ''}\n`);
}
