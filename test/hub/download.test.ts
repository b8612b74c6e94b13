/**
 * downloadFile with the hash computed by a worker thread as the file fills (forced on for small files
 * here), against the test Hub's CDN with its faults: one stream, parallel ranges, cut connections, a
 * server that ignores Range, wrong bytes, a resumed partial file, git-sha1 files. Writes are small here,
 * so several are in flight on every stream when a connection is cut.
 */
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ranges, downloadFile, rangesPathFor, type DownloadSpec } from '../../src/core/hub/download.js';
import { prefixHasher } from '../../src/core/hub/prefix-hash.js';
import { CancelledError, IntegrityError, NetworkError } from '../../src/core/errors.js';
import { FakeHub, bytes, gitSha1, sha256 } from '../helpers/hub-server.js';

const blob = bytes(3 * 1024 * 1024 + 12_345, 5);
const etag = sha256(blob);

async function withHub(fn: (hub: FakeHub, dir: string, spec: (over?: Partial<DownloadSpec>) => DownloadSpec) => Promise<void>): Promise<void> {
  const hub = new FakeHub();
  hub.addRepo('org/big', { commits: { ['a'.repeat(40)]: { 'model.onnx': blob } }, refs: { main: 'a'.repeat(40) } });
  await hub.start();
  const dir = await mkdtemp(join(tmpdir(), 'aivmm-dl-'));
  const spec = (over: Partial<DownloadSpec> = {}): DownloadSpec => ({
    url: `${hub.cdnUrl}/blob/${etag}`,
    headers: {},
    size: blob.length,
    etag,
    dest: join(dir, 'blob.incomplete'),
    connections: 1,
    chunkBytes: 256 * 1024,
    timeoutMs: 5000,
    maxFailures: 4,
    backoffMs: 1,
    sleep: async () => undefined,
    workerHashMinBytes: 0,
    writeBytes: 64 * 1024, // many writes in flight per stream
    ...over,
  });
  try {
    await fn(hub, dir, spec);
  } finally {
    await hub.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const same = async (path: string): Promise<void> => assert.equal(sha256(new Uint8Array(await readFile(path))), etag);

test('worker-thread hashing: one stream and 4 parallel ranges verify and give the exact bytes', async () => {
  await withHub(async (_hub, _dir, spec) => {
    const one = await downloadFile(spec());
    assert.equal(one.mode, 'single');
    await same(spec().dest);
    const par = await downloadFile(spec({ connections: 4 }));
    assert.equal(par.mode, 'parallel');
    await same(spec().dest);
  });
});

test('worker-thread hashing: cut connections resume (one stream and ranges), a Range-ignoring server restarts from byte 0', async () => {
  await withHub(async (hub, _dir, spec) => {
    hub.faults = { cutAfterBytes: 700_000, cuts: 2 };
    const one = await downloadFile(spec());
    assert.equal(one.resumes, 2);
    await same(spec().dest);
    hub.faults = { cutAfterBytes: 100_000, cuts: 3 };
    const par = await downloadFile(spec({ connections: 4 }));
    assert.equal(par.mode, 'parallel');
    assert.equal(par.resumes, 3);
    await same(spec().dest);
    hub.faults = { ignoreRange: true };
    const ignored = await downloadFile(spec({ connections: 4 }));
    assert.equal(ignored.mode, 'single (server ignored Range)');
    await same(spec().dest);
  });
});

test('worker-thread hashing: a partial file from an earlier run is continued and hashed from byte 0; garbage in it is downloaded again at once', async () => {
  await withHub(async (hub, _dir, spec) => {
    await writeFile(spec().dest, blob.subarray(0, 1_500_000));
    const r = await downloadFile(spec({ resume: true }));
    assert.equal(r.resumedFrom, 1_500_000);
    assert.ok(hub.log.some((e) => e.range === `bytes=1500000-${blob.length - 1}`));
    await same(spec().dest);
    // Not the file's first bytes, and no ranges file to say what they are: downloaded again in the same run.
    await writeFile(spec().dest, bytes(1_500_000, 99));
    hub.log.length = 0;
    const again = await downloadFile(spec({ resume: true }));
    assert.equal(again.restarted, true);
    await same(spec().dest);
  });
});

test('worker-thread hashing: wrong bytes from the server are a checksum mismatch, in both modes', async () => {
  await withHub(async (hub, _dir, spec) => {
    hub.faults = { corrupt: true };
    for (const connections of [1, 4]) {
      await assert.rejects(downloadFile(spec({ connections })), (err: unknown) => err instanceof IntegrityError && /checksum mismatch/.test(err.message));
    }
  });
});

test('prefixHasher: git blob sha1 and sha256 from a worker equal the one-pass hashes, whatever the advance steps', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aivmm-ph-'));
  try {
    const data = bytes(5 * 1024 * 1024 + 7, 3);
    const path = join(dir, 'f');
    await writeFile(path, data);
    for (const tag of [sha256(data), gitSha1(data)]) {
      const h = prefixHasher(path, tag, data.length, 0);
      assert.ok(h);
      for (let end = 0; end < data.length; end += 777_777) h.advance(end);
      assert.equal(await h.digest(data.length), tag);
      await h.close();
    }
    assert.equal(prefixHasher(path, 'not-a-hash', data.length, 0), undefined);
    // a file shorter than announced: an error, not a hang
    const short = prefixHasher(path, sha256(data), data.length + 10, 0);
    await assert.rejects(short!.digest(data.length + 10), /file ended at byte/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a failed file write (file-size limit: EFBIG) ends the download at once, not retried as a network failure', { skip: process.platform !== 'linux' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aivmm-efbig-'));
  try {
    // SIGXFSZ ignored (inherited through exec), so the write fails with EFBIG instead of killing the process.
    const script = `trap "" XFSZ; ulimit -f 1024; exec "${process.execPath}" --import tsx test/helpers/efbig-download.ts "${join(dir, 'f')}"`;
    const out = await new Promise<string>((resolve) => {
      let text = '';
      const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout.on('data', (c: Buffer) => (text += c.toString()));
      child.on('close', () => resolve(text));
    });
    assert.deepEqual(JSON.parse(out.trim()), { code: 'EFBIG', retries: 0 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the hashing thread closes its descriptor of the file when stopped early (reset, close) and after a digest', { skip: process.platform !== 'linux' }, async () => {
  const { readdirSync, readlinkSync } = await import('node:fs');
  const dir = await mkdtemp(join(tmpdir(), 'aivmm-ph-fd-'));
  const path = join(dir, 'f');
  const openOnIt = (): number =>
    readdirSync('/proc/self/fd').filter((f) => {
      try {
        return readlinkSync(`/proc/self/fd/${f}`) === path;
      } catch {
        return false;
      }
    }).length;
  // Up to 60 s: a worker thread can take seconds to start on a loaded machine (2 s was the limit before); the
  // assertion after each wait says what was not reached.
  const until = async (cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 6000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  };
  try {
    const data = bytes(4 * 1024 * 1024, 8);
    await writeFile(path, data);
    const h = prefixHasher(path, sha256(data), data.length, 0)!;
    h.advance(2 * 1024 * 1024);
    await until(() => openOnIt() === 1); // the thread has opened the file
    assert.equal(openOnIt(), 1);
    await h.reset(); // stops that thread, starts another
    await until(() => openOnIt() === 1);
    await h.close(); // stopped before any digest
    assert.equal(openOnIt(), 0);
    const h2 = prefixHasher(path, sha256(data), data.length, 0)!;
    assert.equal(await h2.digest(data.length), sha256(data));
    assert.equal(openOnIt(), 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('Ranges: merged, prefix and gaps', () => {
  const r = new Ranges([[10, 20], [0, 5], [5, 8], [19, 30]]);
  assert.deepEqual(r.list, [[0, 8], [10, 30]]);
  assert.equal(r.prefix(), 8);
  assert.equal(r.total(), 28);
  assert.deepEqual(r.gaps(40), [[8, 10], [30, 40]]);
  assert.deepEqual(new Ranges().gaps(3), [[0, 3]]);
});

test('a parallel partial with gaps (what a killed parallel run leaves) is resumed from its ranges file: only the gaps are fetched', async () => {
  await withHub(async (hub, _dir, spec) => {
    const MiB = 1024 * 1024;
    // Bytes [0, 1 MiB) and [2 MiB, 3 MiB) written; the middle never was (zeros), the file is 3 MiB long.
    const partial = Buffer.alloc(3 * MiB);
    partial.set(blob.subarray(0, MiB), 0);
    partial.set(blob.subarray(2 * MiB, 3 * MiB), 2 * MiB);
    await writeFile(spec().dest, partial);
    await writeFile(rangesPathFor(spec().dest), JSON.stringify({ v: 1, size: blob.length, etag, done: [[0, MiB], [2 * MiB, 3 * MiB]], assumed: 0 }));
    hub.cdnBytes = 0;
    const r = await downloadFile(spec({ resume: true, connections: 4 }));
    await same(spec().dest);
    assert.equal(r.resumedFrom, 2 * MiB);
    assert.equal(hub.cdnBytes, blob.length - 2 * MiB, 'only the missing bytes were served');
    assert.equal(await lstat(rangesPathFor(spec().dest)).catch(() => undefined), undefined, 'the ranges file goes with success');
  });
});

test('bytes kept from an earlier run that fail verification (ranges file and all) are downloaded again in the same run, never left for a third', async () => {
  await withHub(async (hub, _dir, spec) => {
    await writeFile(spec().dest, bytes(1_000_000, 42)); // wrong bytes that a killed run had recorded as written
    await writeFile(rangesPathFor(spec().dest), JSON.stringify({ v: 1, size: blob.length, etag, done: [[0, 1_000_000]], assumed: 0 }));
    hub.cdnBytes = 0;
    const retries: string[] = [];
    const r = await downloadFile(spec({ resume: true, connections: 4, onRetry: (w) => retries.push(w) }));
    assert.equal(r.restarted, true);
    await same(spec().dest);
    assert.equal(hub.cdnBytes, blob.length - 1_000_000 + blob.length, 'the gap, then the whole file once more');
    assert.ok(retries.some((w) => /did not match; downloading the file again/.test(w)));
  });
});

test('an aborted parallel download keeps what was written, described; the next run fetches exactly the rest (AbortSignal)', async () => {
  await withHub(async (hub, _dir, spec) => {
    hub.faults = { bytesPerSec: 2_000_000 };
    const ac = new AbortController();
    hub.onCdnBytes = (n) => {
      if (n >= 1_500_000) ac.abort();
    };
    await assert.rejects(downloadFile(spec({ connections: 4, resume: true, signal: ac.signal, flushMs: 20 })), CancelledError);
    hub.onCdnBytes = undefined;
    const side = JSON.parse(await readFile(rangesPathFor(spec().dest), 'utf8')) as { done: [number, number][] };
    const kept = new Ranges(side.done).total();
    assert.ok(kept > 0, 'some ranges were recorded');
    hub.faults = {};
    hub.cdnBytes = 0;
    const r = await downloadFile(spec({ connections: 4, resume: true }));
    await same(spec().dest);
    assert.equal(r.resumedFrom, kept);
    assert.equal(hub.cdnBytes, blob.length - kept);
  });
});

test('a server that sends some bytes and stalls, every time, is given up after a bounded number of attempts, saying what timed out', { timeout: 30_000 }, async () => {
  await withHub(async (hub, _dir, spec) => {
    hub.faults = { stallAfterBytes: 70_000 }; // progress on every attempt, then silence
    const retries: string[] = [];
    await assert.rejects(
      downloadFile(spec({ timeoutMs: 300, maxFailures: 4, onRetry: (w) => retries.push(w) })),
      (e: unknown) => e instanceof NetworkError && /after 5 attempts: the data stalled for 0.3 s/.test(e.message),
    );
    assert.equal(hub.log.filter((l) => l.server === 'cdn').length, 5);
    assert.equal(retries.length, 4);
    assert.match(retries[0] ?? '', /stalled .*resuming at byte 70000 \(attempt 2 of 5\)/);
  });
});

test('a link planted at the partial file is refused, and the file it points to is left as it was', { skip: process.platform === 'win32' }, async () => {
  await withHub(async (_hub, dir, spec) => {
    const outside = join(dir, 'outside.txt');
    await writeFile(outside, 'precious');
    await symlink(outside, spec().dest);
    for (const resume of [true, false]) {
      await assert.rejects(downloadFile(spec({ resume, connections: 4 })), (e: unknown) => e instanceof IntegrityError && /not a regular file/.test(e.message));
      assert.equal(await readFile(outside, 'utf8'), 'precious');
    }
    // The same for a ranges file planted as a link.
    await rm(spec().dest);
    await writeFile(spec().dest, blob.subarray(0, 1000));
    await symlink(outside, rangesPathFor(spec().dest));
    await assert.rejects(downloadFile(spec({ resume: true })), (e: unknown) => e instanceof IntegrityError && /not a regular file/.test(e.message));
    assert.equal(await readFile(outside, 'utf8'), 'precious');
  });
});
