#!/usr/bin/env -S node --import tsx
// Where the time goes in a loopback download (issue #4's uncapped figure): one file from the bench
// server (scripts/bench-pull.ts --serve, its own process), read by undici `request` and discarded, then
// hashed (sha256), then written to a file; then fetch(); then aivmm's downloadFile with 1, 4 and 8
// connections, verified and size-checked only; then curl to a new file and over the file just written.
// Usage: node --import tsx scripts/bench-download-limits.ts [size-mb=128]
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { bytes, sha256 } from '../test/helpers/hub-server.js';
import { downloadFile } from '../src/core/hub/download.js';

const sizeMb = Number(process.argv[2] ?? 128);
const MB = 1024 * 1024;
// From the repository under tsx; bundled (esbuild, as bench-pull.ts says), beside the bundled bench-pull.js.
const bundled = !import.meta.url.endsWith('.ts');
const server = spawn(process.execPath, [...(bundled ? [] : ['--import', 'tsx']), fileURLToPath(new URL(bundled ? './bench-pull.js' : './bench-pull.ts', import.meta.url)), '--serve', '--size-mb', String(sizeMb), '--capped-mb', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
const urls = await new Promise<{ cdnUrl: string }>((resolve) => server.stdout.once('data', (c) => resolve(JSON.parse(String(c)) as { cdnUrl: string })));
const etag = sha256(bytes(sizeMb * MB, 11));
const url = `${urls.cdnUrl}/blob/${etag}`;
const tmp = join(os.tmpdir(), `aivmm-limits-${process.pid}.bin`);

for (const mode of ['read', 'read+sha256', 'read+write', 'fetch read']) {
  const t0 = performance.now();
  let n = 0;
  const h = createHash('sha256');
  const fh = mode === 'read+write' ? await open(tmp, 'w') : undefined;
  if (mode === 'fetch read') {
    const r = await fetch(url);
    for await (const c of r.body as unknown as AsyncIterable<Uint8Array>) n += c.byteLength;
  } else {
    const r = await request(url);
    for await (const c of r.body as AsyncIterable<Buffer>) {
      if (mode === 'read+sha256') h.update(c);
      if (fh) await fh.write(c, 0, c.length, n);
      n += c.length;
    }
  }
  await fh?.close();
  console.log(`${mode.padEnd(12)} ${(n / MB / ((performance.now() - t0) / 1000)).toFixed(0)} MiB/s`);
}
for (const connections of [1, 4, 8]) {
  const t0 = performance.now();
  const r = await downloadFile({ url, headers: {}, size: sizeMb * MB, etag, dest: tmp, connections, chunkBytes: 8 * MB, timeoutMs: 10_000, maxFailures: 5, backoffMs: 1, sleep: async () => undefined });
  console.log(`downloadFile ${connections} connection(s) (${r.mode}, verified) ${(sizeMb / ((performance.now() - t0) / 1000)).toFixed(0)} MiB/s`);
}
// The same without a hash to check (size only): what verification costs.
for (const connections of [1, 8]) {
  const t0 = performance.now();
  await downloadFile({ url, headers: {}, size: sizeMb * MB, etag: 'no-hash', dest: tmp, connections, chunkBytes: 8 * MB, timeoutMs: 10_000, maxFailures: 5, backoffMs: 1, sleep: async () => undefined });
  console.log(`downloadFile ${connections} connection(s), size check only   ${(sizeMb / ((performance.now() - t0) / 1000)).toFixed(0)} MiB/s`);
}
// curl to a fresh file and to the file just written (page-cache and writeback effects differ).
await rm(tmp, { force: true });
const curlT0 = performance.now();
await new Promise((resolve) => spawn('curl', ['-s', '-o', tmp, url], { stdio: 'ignore' }).on('close', resolve));
console.log(`curl -o new file (nothing verified)   ${(sizeMb / ((performance.now() - curlT0) / 1000)).toFixed(0)} MiB/s`);
const curlT1 = performance.now();
await new Promise((resolve) => spawn('curl', ['-s', '-o', tmp, url], { stdio: 'ignore' }).on('close', resolve));
console.log(`curl -o same file (nothing verified)   ${(sizeMb / ((performance.now() - curlT1) / 1000)).toFixed(0)} MiB/s`);
await rm(tmp, { force: true });
const t2 = performance.now();
await downloadFile({ url, headers: {}, size: sizeMb * MB, etag, dest: tmp, connections: 1, chunkBytes: 8 * MB, timeoutMs: 10_000, maxFailures: 5, backoffMs: 1, sleep: async () => undefined });
console.log(`downloadFile 1 connection to a new file (verified)   ${(sizeMb / ((performance.now() - t2) / 1000)).toFixed(0)} MiB/s`);
await rm(tmp, { force: true });
server.kill();
