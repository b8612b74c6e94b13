#!/usr/bin/env node
// Is `aivmm bench --server` a faithful load generator? (issue #17) The same endpoint — a JSON v2 infer
// of a tiny model on the real server — driven by `aivmm bench --server --json-data` and by wrk (Debian's
// wrk 4, a Lua script POSTing the same kind of body: the model's input as JSON numbers), at the same
// concurrency (wrk: that many connections) and duration, interleaved (aivmm, wrk, then wrk, aivmm…).
//
// Two placements, each with its own server:
// - pinned: the server (and its lane processes, which inherit the mask) on --server-cpus, the load
//   generator — wrk or aivmm alike — on --client-cpus (taskset, util-linux), as a load generator is meant
//   to run: with its own CPU. The instance gets --server-threads intra-op threads (default: as many as
//   server CPUs), so ORT does not spin more threads than its cores.
// - shared: nothing pinned, the runtime's default threads: client and server share every core, as the
//   first measurement did (there the client's CPU per request is taken from the server).
//
// Per (placement, concurrency): each round's req/s and the ratio aivmm / wrk, the ratio of the means and
// the rounds' spread; p50/p99 as each tool reports them; CPU per answered request of the client
// (user+sys of its process; aivmm's less a short run's, i.e. its start-up) and of the server's process tree (from /proc, over the
// model's success count in /v2/models/m/stats); the server's busy share of its cores while loaded; non-2xx
// counts; the two request bodies' sizes; the load average. Goal: within 5 %.
//
// Before the rounds, per placement:
// - the request each tool sends is captured byte for byte through a loopback TCP proxy (one short run of
//   each at concurrency 1) and printed: request line, headers, body size, the first difference between the
//   two bodies, and in how many reads the proxy got each request (one write, or head and body apart);
// - the server is warmed up (--warmup seconds, default 10, half wrk, half aivmm, at the highest
//   concurrency level, not counted): a fresh server gets faster for its first ~10 s of load (JIT tiers,
//   the heap's young generation growing), and without a warm-up the tool that runs first is penalised
//   (before this was added, aivmm's first round on a cold server read 0.79 × wrk, its second 1.02 ×).
// The third tool, wrk-aivmm-bytes (in --tools by default; --tools aivmm,wrk leaves it out), is wrk sending
// aivmm's captured body and headers, side by side in the same rounds: "wrk-aivmm-bytes / wrk" is what the
// difference in the bytes alone costs the server, "aivmm / wrk-aivmm-bytes" compares the tools on the
// same request. The bodies differ in their values: aivmm's are seeded uniform random FP32, wrk's (this
// script's) a sine; JSON.parse of aivmm's i.i.d. values costs more than of the smooth series of the
// same length (the same values sorted parse as fast as the sine's), about 3 % of the server's CPU here.
//
// Usage: npm run build && node scripts/bench-server-vs-wrk.mjs [--model tiny-convnet] [--concurrency 1,8,64]
//          [--seconds 5] [--rounds 3] [--warmup 10] [--tools aivmm,wrk,wrk-aivmm-bytes]
//          [--pin both|pinned|shared] [--server-cpus 0] [--client-cpus 1] [--server-threads N] [--out file.json]
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bin, flags, fmt, inferBody, modelStats, startServe } from './serve-bench-lib.mjs';

const flag = flags();
const model = flag('model', 'tiny-convnet');
const levels = flag('concurrency', '8').split(',').map(Number);
const seconds = Number(flag('seconds', '5'));
const rounds = Number(flag('rounds', '3'));
const pin = flag('pin', 'both');
const serverCpus = flag('server-cpus', '0');
const clientCpus = flag('client-cpus', '1');
const out = flag('out', undefined);
const warmupSec = Number(flag('warmup', '10'));
const tools = flag('tools', 'aivmm,wrk,wrk-aivmm-bytes').split(',');
for (const t of tools) if (!['aivmm', 'wrk', 'wrk-aivmm-bytes'].includes(t)) throw new Error(`--tools: unknown tool '${t}' (aivmm, wrk, wrk-aivmm-bytes)`);
if (!tools.includes('aivmm') || !tools.includes('wrk')) throw new Error('--tools must include aivmm and wrk');
const countCpus = (list) => list.split(',').reduce((a, part) => { const [lo, hi] = part.split('-').map(Number); return a + (hi === undefined ? 1 : hi - lo + 1); }, 0);
const canPin = spawnSync('taskset', ['-c', serverCpus, 'true']).status === 0 && spawnSync('taskset', ['-c', clientCpus, 'true']).status === 0;
const placements = (pin === 'both' ? ['pinned', 'shared'] : [pin]).filter((p) => {
  if (p === 'pinned' && !canPin) console.error(`taskset -c ${serverCpus} / ${clientCpus} is not available here: the pinned placement is skipped`);
  return p === 'shared' || canPin;
});
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

/** user+sys seconds of a process tree rooted at `pid` (every descendant alive now), from /proc. */
function treeCpuSec(pid) {
  const stat = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stat.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // gone meanwhile
    }
  }
  let ticks = 0;
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop();
    ticks += stat.get(p)?.ticks ?? 0;
    for (const [q, s] of stat) if (s.ppid === p) todo.push(q);
  }
  return ticks / CLK_TCK;
}

/** Runs argv (under `prefix`), returns its output and the user+sys CPU seconds it took (sh's `times`). */
function timed(prefix, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', '"$@"; s=$?; times >&2; exit $s', 'sh', ...prefix, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d.toString()));
    child.stderr.on('data', (d) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const t = [...stderr.matchAll(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm)].pop(); // the second `times` line: children
      const cpuSec = t ? Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4]) : Number.NaN;
      resolve({ code, stdout, stderr, cpuSec });
    });
  });
}

const wrkLatencyMs = (text, q) => {
  const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(text);
  return m ? Number(m[1]) * (m[2] === 'us' ? 1e-3 : m[2] === 's' ? 1e3 : 1) : Number.NaN;
};

/**
 * A loopback TCP proxy to 127.0.0.1:`port` that keeps the first POST of its connections byte for byte (head
 * and body, as far as the head's content-length), with the number of reads it arrived in.
 */
async function captureProxy(port) {
  let first;
  const conns = new Set();
  const server = createServer((c) => {
    const up = connect(port, '127.0.0.1');
    conns.add(c).add(up);
    c.setNoDelay(true);
    up.setNoDelay(true);
    let parts = [];
    let reads = 0;
    c.on('data', (d) => {
      up.write(d);
      if (first) return;
      parts.push(d);
      reads++;
      const b = Buffer.concat(parts);
      const end = b.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = b.toString('latin1', 0, end);
      const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      if (b.length < end + 4 + len) return;
      if (head.startsWith('POST ')) first = { head, body: b.subarray(end + 4, end + 4 + len), reads };
      else {
        parts = [b.subarray(end + 4 + len)];
        reads = 0;
      }
    });
    up.on('data', (d) => c.write(d));
    for (const [a, b] of [[c, up], [up, c]]) {
      a.on('close', () => b.destroy());
      a.on('error', () => b.destroy());
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    first: () => first,
    close: () => {
      for (const c of conns) c.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

/** What each tool sends, captured through the proxy: one short run of each at concurrency 1. */
async function captureRequests(serverUrl, luas) {
  const got = {};
  for (const [tool, lua] of Object.entries(luas)) {
    const p = await captureProxy(Number(new URL(serverUrl).port));
    try {
      if (lua) await timed([], ['wrk', '-t', '1', '-c', '1', '-d', '1s', '-s', lua, `${p.url}/v2/models/m/infer`]);
      else await runAivmm([], 1, p.url, { windowMs: 50, warmupMs: 0 });
    } finally {
      await p.close();
    }
    got[tool] = p.first();
    if (!got[tool]) throw new Error(`no POST from ${tool} came through the capture proxy`);
  }
  return got;
}

function describeCapture(got) {
  const lines = [];
  for (const [tool, x] of Object.entries(got)) lines.push(`  ${tool.padEnd(15)} ${x.head.split('\r\n').join(' | ')} || body ${x.body.length} B; request in ${x.reads} read(s) at the proxy`);
  const a = got.aivmm.body;
  const w = got.wrk.body;
  let i = 0;
  while (i < a.length && i < w.length && a[i] === w[i]) i++;
  const around = (b) => JSON.stringify(b.toString('utf8', Math.max(0, i - 20), i + 40));
  lines.push(a.equals(w) ? '  bodies: identical' : `  bodies differ from byte ${i}: aivmm ${around(a)} · wrk ${around(w)}`);
  if (got['wrk-aivmm-bytes']) lines.push(`  wrk-aivmm-bytes's body ${got['wrk-aivmm-bytes'].body.equals(a) ? 'is' : 'is NOT'} aivmm's, byte for byte`);
  return lines.join('\n');
}

async function runWrk(prefix, c, url, lua, threads, secs = seconds) {
  const r = await timed(prefix, ['wrk', '-t', String(Math.min(threads, c)), '-c', String(c), '-d', `${secs}s`, '--latency', '-s', lua, url]);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  const total = /(\d+) requests in/.exec(r.stdout);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(r.stdout);
  const sockErr = /Socket errors: (.*)/.exec(r.stdout);
  if (r.code !== 0 || !rps) throw new Error(`wrk exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return { reqPerSec: Number(rps[1]), requests: Number(total?.[1]), errors: (non2xx ? Number(non2xx[1]) : 0), socketErrors: sockErr?.[1], p50: wrkLatencyMs(r.stdout, 50), p99: wrkLatencyMs(r.stdout, 99), clientCpuSec: r.cpuSec, loadSec: secs };
}

async function runAivmm(prefix, c, base, { windowMs = Math.max(500, Math.round((seconds * 1000) / 3)), warmupMs = 500 } = {}) {
  // aivmm bench measures in windows (stable, or 3 windows) after a 500 ms warm-up: the same total time as wrk's run
  const r = await timed(prefix, [process.execPath, bin, 'bench', '--server', base, '--model', 'm', '--concurrency', String(c), '--window', `${windowMs}ms`, '--max-windows', '3', '--warmup', `${warmupMs}ms`, '--json-data', '--json']);
  let d;
  try {
    d = JSON.parse(r.stdout).data;
  } catch {
    throw new Error(`aivmm bench --server exited ${r.code} without JSON:\n${r.stderr.slice(-2000)}`);
  }
  const p = d.points[0];
  return { reqPerSec: p.throughput.requestsPerSec, errors: Object.values(p.errors).reduce((a, b) => a + b, 0), p50: p.stats?.p50, p99: p.stats?.p99, clientCpuSec: r.cpuSec, loadSec: (500 + p.windows * windowMs) / 1000, bodyBytes: d.request.bytes };
}

/**
 * The server's own count of answered requests per second while `running` (a tool's run) loads it: from
 * when its first `c` answers have come (the tool's start-up over, for aivmm a node process) plus 0.5 s, for
 * seconds - 1 s, polling the model's stats. A judge the same for both tools: what each reports against
 * what the server did (a tool's own count may differ at its run's ends, e.g. wrk's requests still in flight
 * when it stops).
 */
async function serverCount(base, running, c) {
  let finished = false;
  running.then(() => (finished = true), () => (finished = true));
  const ok = async () => (await modelStats(base, 'm'))?.inference_stats?.success ?? 0;
  const first = await ok();
  while (!finished && (await ok()) < first + c) await sleep(20);
  await sleep(500);
  const t1 = performance.now();
  const n1 = await ok();
  await sleep(Math.max(500, (seconds - 1) * 1000));
  const n2 = await ok();
  const t2 = performance.now();
  return finished ? Number.NaN : ((n2 - n1) * 1000) / (t2 - t1);
}

const rows = [];
const meta = { at: new Date().toISOString(), model, levels, seconds, rounds, warmupSec, tools, cores: availableParallelism(), serverCpus, clientCpus, loadBefore: load() };
console.error(`load average ${meta.loadBefore}; ${meta.cores} cores; placements: ${placements.join(', ')}`);
for (const placement of placements) {
  const pinned = placement === 'pinned';
  const serverThreads = pinned ? Number(flag('server-threads', String(countCpus(serverCpus)))) : undefined;
  const clientPrefix = pinned ? ['taskset', '-c', clientCpus] : [];
  const wrkThreads = pinned ? countCpus(clientCpus) : 2;
  const dir = mkdtempSync(join(tmpdir(), 'aivmm-wrk-'));
  const s = await startServe({ models: { m: { model, max_queue: 4096, ...(serverThreads ? { threads: serverThreads } : {}) } } }, [], { prefix: pinned ? ['taskset', '-c', serverCpus] : [] });
  try {
    const req = await inferBody(s.url, 'm');
    const bodyFile = join(dir, 'body.json');
    const wrkBody = JSON.stringify(req.json);
    writeFileSync(bodyFile, wrkBody);
    const lua = join(dir, 'post.lua');
    writeFileSync(lua, `local f = io.open(${JSON.stringify(bodyFile)}, "rb")\nwrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\nwrk.headers["Content-Type"] = "application/json"\n`);
    const url = `${s.url}/v2/models/m/infer`;
    const captured = await captureRequests(s.url, { aivmm: undefined, wrk: lua });
    // wrk with aivmm's bytes: its body and every header but host and content-length (wrk writes those)
    const luaAivmm = join(dir, 'post-aivmm.lua');
    writeFileSync(join(dir, 'body-aivmm.json'), captured.aivmm.body);
    const aivmmHeaders = captured.aivmm.head.split('\r\n').slice(1).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]).filter(([k]) => !/^(host|content-length)$/i.test(k));
    writeFileSync(luaAivmm, `local f = io.open(${JSON.stringify(join(dir, 'body-aivmm.json'))}, "rb")\nwrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\nwrk.headers["Content-Type"] = nil\n${aivmmHeaders.map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join('\n')}\n`);
    if (tools.includes('wrk-aivmm-bytes')) Object.assign(captured, await captureRequests(s.url, { 'wrk-aivmm-bytes': luaAivmm }));
    console.error(`${placement}: the requests as sent (captured through a loopback proxy):\n${describeCapture(captured)}`);
    if (placement === placements[0]) meta.capture = Object.fromEntries(Object.entries(captured).map(([k, x]) => [k, { head: x.head, bodyBytes: x.body.length, reads: x.reads }]));
    // aivmm's process start (node, modules, metadata) is not per request: a short run (3 × 50 ms windows)
    // measures start-up + a few requests, and each run's client CPU per request is the difference's
    const short = async () => {
      const ok0 = (await modelStats(s.url, 'm'))?.inference_stats?.success ?? 0;
      const x = await runAivmm(clientPrefix, 1, s.url, { windowMs: 50, warmupMs: 0 });
      return { cpuSec: x.clientCpuSec, served: ((await modelStats(s.url, 'm'))?.inference_stats?.success ?? 0) - ok0 };
    };
    await short(); // the first start reads the files from disk
    const startup = await short();
    console.error(`${placement}: aivmm start-up + ${startup.served} requests: ${fmt(startup.cpuSec * 1000, 0)} ms of CPU`);
    if (warmupSec > 0) {
      // not counted: a fresh server is slower for its first seconds of load, whichever tool drives it
      const cMax = Math.max(...levels);
      await runWrk(clientPrefix, cMax, url, lua, wrkThreads, Math.max(1, Math.round(warmupSec / 2)));
      await runAivmm(clientPrefix, cMax, s.url, { windowMs: Math.max(100, Math.round((warmupSec * 1000) / 2 / 3)), warmupMs: 0 });
      console.error(`${placement}: server warmed up (${warmupSec} s at concurrency ${cMax}, wrk then aivmm)`);
    }
    for (const c of levels) {
      for (let r = 0; r < rounds; r++) {
        // alternate which tool goes first (a rotation with more tools), so a drift in the machine's load falls on all alike
        const order = tools.length === 2 ? (r % 2 === 0 ? tools : [...tools].reverse()) : tools.map((_, i) => tools[(i + r) % tools.length]);
        for (const tool of order) {
          const before = { cpu: treeCpuSec(s.pid), ok: (await modelStats(s.url, 'm'))?.inference_stats?.success ?? 0 };
          const running = tool === 'aivmm' ? runAivmm(clientPrefix, c, s.url) : runWrk(clientPrefix, c, url, tool === 'wrk' ? lua : luaAivmm, wrkThreads);
          const counted = await serverCount(s.url, running, c);
          const x = await running;
          const after = { cpu: treeCpuSec(s.pid), ok: (await modelStats(s.url, 'm'))?.inference_stats?.success ?? 0 };
          const served = after.ok - before.ok;
          const row = { placement, concurrency: c, round: r, tool, ...x, serverReqPerSec: counted, wrkBodyBytes: wrkBody.length, served, clientCpuUsPerReq: tool !== 'aivmm' ? (x.clientCpuSec / served) * 1e6 : ((x.clientCpuSec - startup.cpuSec) / (served - startup.served)) * 1e6, serverCpuUsPerReq: ((after.cpu - before.cpu) / served) * 1e6, serverBusy: (after.cpu - before.cpu) / x.loadSec / (pinned ? countCpus(serverCpus) : meta.cores), load: load() };
          rows.push(row);
          console.error(`${placement} c=${c} round ${r + 1} ${tool.padEnd(tools.length > 2 ? 15 : 5)} ${fmt(x.reqPerSec).padStart(7)} req/s (server's count ${fmt(counted).padStart(7)})  p50 ${fmt(x.p50, 2)} p99 ${fmt(x.p99, 2)} ms  errors ${x.errors}  client ${fmt(row.clientCpuUsPerReq, 0)} µs/req  server ${fmt(row.serverCpuUsPerReq, 0)} µs/req, busy ${fmt(row.serverBusy * 100, 0)} %  (load ${row.load})`);
        }
      }
    }
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
meta.loadAfter = load();

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const summary = [];
console.log(`\n${model}, JSON v2 infer, ${seconds} s per run, ${rounds} round(s) interleaved; load average before ${meta.loadBefore}, after ${meta.loadAfter}`);
console.log(`pinned: server on CPU ${serverCpus} (instance threads ${flag('server-threads', String(countCpus(serverCpus)))}), load generator on CPU ${clientCpus}; shared: nothing pinned, default threads\n`);
console.log("| placement | concurrency | aivmm req/s (rounds) | wrk req/s (rounds) | aivmm / wrk | per-round ratios | by the server's count | p50 ms aivmm · wrk | p99 ms aivmm · wrk | client CPU µs/req aivmm · wrk | server CPU µs/req aivmm · wrk | server busy aivmm · wrk | errors |");
console.log('|--|--:|--|--|--:|--|--:|--|--|--|--|--|--|');
for (const placement of placements) {
  for (const c of levels) {
    const sel = (tool) => rows.filter((x) => x.placement === placement && x.concurrency === c && x.tool === tool);
    const a = sel('aivmm');
    const w = sel('wrk');
    const perRound = a.map((x, i) => x.reqPerSec / w[i].reqPerSec);
    const ratio = mean(a.map((x) => x.reqPerSec)) / mean(w.map((x) => x.reqPerSec));
    const m = (xs, f, d = 1) => fmt(mean(xs.map(f)), d);
    const serverRatio = mean(a.map((x) => x.serverReqPerSec)) / mean(w.map((x) => x.serverReqPerSec));
    summary.push({ placement, concurrency: c, ratio, perRound, serverRatio, met: Math.abs(ratio - 1) <= 0.05 });
    console.log(`| ${placement} | ${c} | ${m(a, (x) => x.reqPerSec)} (${a.map((x) => fmt(x.reqPerSec, 0)).join(', ')}) | ${m(w, (x) => x.reqPerSec)} (${w.map((x) => fmt(x.reqPerSec, 0)).join(', ')}) | **${fmt(ratio, 3)}** | ${fmt(Math.min(...perRound), 3)}–${fmt(Math.max(...perRound), 3)} | ${fmt(serverRatio, 3)} | ${m(a, (x) => x.p50, 2)} · ${m(w, (x) => x.p50, 2)} | ${m(a, (x) => x.p99, 2)} · ${m(w, (x) => x.p99, 2)} | ${m(a, (x) => x.clientCpuUsPerReq, 0)} · ${m(w, (x) => x.clientCpuUsPerReq, 0)} | ${m(a, (x) => x.serverCpuUsPerReq, 0)} · ${m(w, (x) => x.serverCpuUsPerReq, 0)} | ${m(a, (x) => x.serverBusy * 100, 0)} % · ${m(w, (x) => x.serverBusy * 100, 0)} % | ${a.reduce((s, x) => s + x.errors, 0)} · ${w.reduce((s, x) => s + x.errors, 0)} |`);
  }
}
const bodies = rows.find((r) => r.tool === 'aivmm');
if (bodies) console.log(`\nrequest bodies: aivmm ${bodies.bodyBytes} B, wrk ${bodies.wrkBodyBytes} B (both the model's input as JSON numbers). aivmm's client CPU per request excludes its process start (a short run's CPU subtracted); wrk's errors are non-2xx responses.`);
if (tools.includes('wrk-aivmm-bytes')) {
  for (const placement of placements) {
    for (const c of levels) {
      const sel = (tool) => rows.filter((x) => x.placement === placement && x.concurrency === c && x.tool === tool);
      const [b, w] = [sel('wrk-aivmm-bytes'), sel('wrk')];
      const a = sel('aivmm');
      const r = (xs, ys, f = (x) => x.reqPerSec) => fmt(mean(xs.map(f)) / mean(ys.map(f)), 3);
      console.log(`${placement}, concurrency ${c}: wrk with aivmm's bytes / wrk = ${r(b, w)} (rounds ${b.map((x, i) => fmt(x.reqPerSec / w[i].reqPerSec, 3)).join(', ')}; server CPU µs/req ${fmt(mean(b.map((x) => x.serverCpuUsPerReq)), 0)} · ${fmt(mean(w.map((x) => x.serverCpuUsPerReq)), 0)}): what the bytes alone cost`);
      console.log(`${placement}, concurrency ${c}: aivmm / wrk with aivmm's bytes = ${r(a, b)} (rounds ${a.map((x, i) => fmt(x.reqPerSec / b[i].reqPerSec, 3)).join(', ')}; by the server's count ${r(a, b, (x) => x.serverReqPerSec)}): the tools alone, the same request`);
    }
  }
}
for (const s of summary) console.log(`${s.placement}, concurrency ${s.concurrency}: aivmm / wrk = ${fmt(s.ratio, 3)} (rounds ${s.perRound.map((x) => fmt(x, 3)).join(', ')}; goal within 5%: ${s.met ? 'met' : 'NOT met'}); by the server's count ${fmt(s.serverRatio, 3)}`);
if (out) writeFileSync(out, `${JSON.stringify({ ...meta, rows, summary }, null, 2)}\n`);
