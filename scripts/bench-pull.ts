#!/usr/bin/env -S node --import tsx
// Benchmark of `aivmm pull` downloads (issue #4), on loopback against the test suite's Hub server
// (test/helpers/hub-server.ts: real HTTP, a second "CDN" server for LFS files):
//   1. capped: the CDN limits each connection to --cap MB/s; parallel range requests (8 connections)
//      must be ≥ 2× one stream;
//   2. uncapped: aivmm (1 and 8 connections, sha256 verified) against `curl -o file` of the same URL;
//      target ≥ 90% of curl's rate.
// Runs are interleaved and repeated; medians are reported. Usage:
//   node --import tsx scripts/bench-pull.ts [--size-mb 256] [--capped-mb 64] [--cap 16] [--rounds 3] [--out file.json]
// Without dev dependencies (the GPU machine): npx esbuild scripts/bench-pull.ts scripts/bench-download-limits.ts
//   --bundle --platform=node --format=esm --packages=external --outdir=.scratch/b --entry-names=[name],
//   then node .scratch/b/bench-pull.js … (and .scratch/b/bench-download-limits.js, which finds it beside it)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { FakeHub, bytes, sha256 } from '../test/helpers/hub-server.js';
import { pullModel } from '../src/core/hub/pull.js';
import { hubSettings } from '../src/core/hub/settings.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const outIdx = args.indexOf('--out');
const out = outIdx >= 0 ? args[outIdx + 1] : undefined;
const MB = 1024 * 1024;
const sizeMb = arg('size-mb', 256);
const cappedMb = arg('capped-mb', 64);
const cap = arg('cap', 16);
const rounds = arg('rounds', 3);

const COMMIT = 'd'.repeat(40);
const big = bytes(sizeMb * MB, 11);
const capped = bytes(cappedMb * MB, 12);

if (args.includes('--serve')) {
  // The server runs in its own process, as a real Hub would: it must not share the client's event loop.
  const server = new FakeHub();
  server.addRepo('bench/big', { commits: { [COMMIT]: { 'model.onnx': big } }, refs: { main: COMMIT } });
  server.addRepo('bench/capped', { commits: { [COMMIT]: { 'model.onnx': capped } }, refs: { main: COMMIT } });
  await server.start();
  process.stdout.write(`${JSON.stringify({ hubUrl: server.hubUrl, cdnUrl: server.cdnUrl })}\n`);
  await new Promise(() => undefined); // until killed
}

// Under tsx (the repository) the server needs tsx too; a bundled copy (esbuild, for machines without dev
// dependencies) runs as it is.
const loader = import.meta.url.endsWith('.ts') ? ['--import', 'tsx'] : [];
const child = spawn(process.execPath, [...loader, fileURLToPath(import.meta.url), '--serve', '--size-mb', String(sizeMb), '--capped-mb', String(cappedMb)], { stdio: ['ignore', 'pipe', 'inherit'] });
const urls = await new Promise<{ hubUrl: string; cdnUrl: string }>((resolve) => {
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    buf += c;
    if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0] ?? '{}'));
  });
});
const hub = {
  ...urls,
  async setFaults(f: object): Promise<void> {
    await fetch(`${urls.hubUrl}/__faults`, { method: 'POST', body: JSON.stringify(f) });
  },
};

async function pullOnce(repo: string, connections: number): Promise<number> {
  const home = mkdtempSync(join(os.tmpdir(), 'aivmm-bench-pull-'));
  try {
    const settings = hubSettings({ HF_HOME: home, HF_ENDPOINT: hub.hubUrl });
    const t0 = performance.now();
    const r = await pullModel({ id: repo }, { settings, userAgent: 'aivmm-bench', connections });
    const s = (performance.now() - t0) / 1000;
    if (!r.files[0]?.downloaded) throw new Error('nothing downloaded');
    return r.files[0].size / MB / s;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** curl in a child process (asynchronously: the server answering it lives in this process). */
async function curlOnce(blob: Uint8Array): Promise<number> {
  const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-bench-curl-'));
  try {
    const url = `${hub.cdnUrl}/blob/${sha256(blob)}`;
    const t0 = performance.now();
    const code = await new Promise<number | null>((resolve) => spawn('curl', ['-s', '-f', '-o', join(dir, 'f'), url], { stdio: 'ignore' }).on('close', resolve));
    const s = (performance.now() - t0) / 1000;
    if (code !== 0) throw new Error(`curl exited ${code}`);
    return blob.length / MB / s;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const results: Record<string, number[]> = { cappedSingle: [], cappedParallel: [], single: [], parallel: [], curl: [] };
for (let r = 0; r < rounds; r++) {
  await hub.setFaults({ bytesPerSec: cap * MB });
  results.cappedSingle!.push(await pullOnce('bench/capped', 1));
  results.cappedParallel!.push(await pullOnce('bench/capped', 8));
  await hub.setFaults({});
  const order = r % 2 === 0 ? ['curl', 'single', 'parallel'] : ['parallel', 'single', 'curl'];
  for (const what of order) {
    if (what === 'curl') results.curl!.push(await curlOnce(big));
    else results[what]!.push(await pullOnce('bench/big', what === 'single' ? 1 : 8));
  }
  console.log(`round ${r + 1}: capped ${cap} MB/s per connection: 1 stream ${results.cappedSingle!.at(-1)!.toFixed(1)} MiB/s, 8 connections ${results.cappedParallel!.at(-1)!.toFixed(1)} MiB/s · uncapped ${sizeMb} MiB: curl ${results.curl!.at(-1)!.toFixed(0)}, aivmm 1 stream ${results.single!.at(-1)!.toFixed(0)}, 8 connections ${results.parallel!.at(-1)!.toFixed(0)} MiB/s`);
}
child.kill();
const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)])) as Record<string, number>;
const speedup = m['cappedParallel']! / m['cappedSingle']!;
const vsCurl = Math.max(m['single']!, m['parallel']!) / m['curl']!;
const summary = { at: new Date().toISOString(), host: `${os.cpus()[0]?.model} × ${os.cpus().length}`, node: process.version, sizeMb, cappedMb, capMBps: cap, rounds, medians: m, parallelSpeedupCapped: speedup, bestVsCurl: vsCurl, pass: speedup >= 2 && vsCurl >= 0.9, results };
console.log(`capped: 8 connections / 1 stream = ${speedup.toFixed(2)}× (target ≥ 2) · uncapped: best aivmm / curl = ${vsCurl.toFixed(2)} (target ≥ 0.9): ${summary.pass ? 'PASS' : 'FAIL'}`);
if (out) writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
