/**
 * The content hash of a file being downloaded, computed on another thread while the download goes on:
 * the downloader says how far the file is complete from byte 0 (`advance`), a worker thread reads that
 * prefix back (from the page cache) and hashes it, and `digest` waits for the rest. The thread that
 * receives and writes the bytes never hashes them, so on a machine with a core to spare verification costs
 * no download time; with parallel range requests the hash follows the contiguous prefix instead of taking
 * a second pass over the file at the end.
 *
 * Small files are hashed after the download in this thread: a worker costs more than it saves there.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Worker } from 'node:worker_threads';

export type HashKind = { algorithm: 'sha256' } | { algorithm: 'sha1'; prefix: string };

/** sha256 for a 64-hex etag (LFS), git's blob sha1 for a 40-hex one, nothing for anything else. */
export function hashKindFor(etag: string, size: number): HashKind | undefined {
  if (/^[0-9a-f]{64}$/.test(etag)) return { algorithm: 'sha256' };
  if (/^[0-9a-f]{40}$/.test(etag)) return { algorithm: 'sha1', prefix: `blob ${size}\0` };
  return undefined;
}

export interface PrefixHasher {
  /** Bytes [0, end) of the file are written and final. Never goes backwards except through `reset`. */
  advance(end: number): void;
  /** Forget what was hashed; call before truncating the file to start over. */
  reset(): Promise<void>;
  /** Hex digest of bytes [0, size), once they are all there. */
  digest(size: number): Promise<string>;
  /** Stops the worker (idempotent); call on every path. */
  close(): Promise<void>;
}

/** Files from this size on are hashed by a worker thread as they arrive. */
export const WORKER_HASH_MIN_BYTES = 16 * 1024 * 1024;

async function hashFile(path: string, kind: HashKind, size: number): Promise<string> {
  const h = createHash(kind.algorithm);
  if (kind.algorithm === 'sha1') h.update(kind.prefix);
  if (size > 0) for await (const chunk of createReadStream(path, { start: 0, end: size - 1 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Hashes the whole file at the end, in this thread. */
function afterwardsHasher(path: string, kind: HashKind): PrefixHasher {
  return {
    advance: () => undefined,
    reset: async () => undefined,
    digest: (size) => hashFile(path, kind, size),
    close: async () => undefined,
  };
}

// The worker: CommonJS evaluated from a string, so it runs the same from dist/ and under tsx. It stops on a
// message, between reads, closing its file descriptor (descriptors are the process's: terminating the
// thread would leak it).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const { path, algorithm, prefix } = workerData;
const hash = createHash(algorithm);
if (prefix) hash.update(prefix);
let pos = 0;
let target = 0;
let finalSize = -1;
let fd = openSync(path, 'r');
const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
function stop() {
  if (fd !== undefined) closeSync(fd);
  fd = undefined;
  parentPort.close(); // nothing left to keep the thread alive: it ends
}
function pump() {
  try {
    while (pos < target) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, target - pos), pos);
      if (n <= 0) throw new Error('the file ended at byte ' + pos + ', before byte ' + target);
      hash.update(buf.subarray(0, n));
      pos += n;
    }
    if (finalSize >= 0 && pos === finalSize) parentPort.postMessage({ digest: hash.digest('hex') });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
}
parentPort.on('message', (m) => {
  if (m.stop) return stop();
  if (typeof m.size === 'number') { finalSize = m.size; target = Math.max(target, m.size); }
  else target = Math.max(target, m.end);
  pump();
});
`;

class WorkerHasher implements PrefixHasher {
  private worker!: Worker;
  private result!: Promise<string>;
  private sent = 0;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly kind: HashKind,
  ) {
    this.start();
  }

  private exited!: Promise<void>;

  private start(): void {
    const { kind } = this;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: this.path, algorithm: kind.algorithm, prefix: kind.algorithm === 'sha1' ? kind.prefix : '' } });
    let failure: Error | undefined;
    worker.on('error', (err) => (failure = err));
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    this.result = new Promise<string>((resolve, reject) => {
      worker.on('message', (m: { digest?: string; error?: string }) => {
        if (m.digest) resolve(m.digest);
        else reject(new Error(`hashing the download failed: ${m.error ?? 'unknown error'}`));
      });
      worker.on('exit', () => reject(failure ?? new Error('the hashing thread stopped')));
    });
    this.result.catch(() => undefined); // observed through digest()
    this.worker = worker;
    this.sent = 0;
  }

  advance(end: number): void {
    // In steps of at least 1 MiB: one message per network read would cost more than it hides.
    if (this.closed || end - this.sent < 1024 * 1024) return;
    this.sent = end;
    this.worker.postMessage({ end });
  }

  /** Asks the thread to stop (it finishes the read in hand and closes its descriptor) and waits for it. */
  private async stop(): Promise<void> {
    this.worker.postMessage({ stop: true });
    await this.exited;
  }

  async reset(): Promise<void> {
    if (this.closed) return;
    await this.stop(); // no read may meet the file after the caller truncates it
    this.start();
  }

  async digest(size: number): Promise<string> {
    this.worker.postMessage({ size });
    try {
      return await this.result;
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stop();
  }
}

/** Follows the contiguous prefix in a worker thread (hashes afterwards if no thread can start). */
function workerHasher(path: string, kind: HashKind): PrefixHasher {
  try {
    return new WorkerHasher(path, kind);
  } catch {
    return afterwardsHasher(path, kind);
  }
}

/** The hasher for `path`; undefined when the etag names no hash we can check (size check only). */
export function prefixHasher(path: string, etag: string, size: number, workerMinBytes = WORKER_HASH_MIN_BYTES): PrefixHasher | undefined {
  const kind = hashKindFor(etag, size);
  if (!kind) return undefined;
  return size >= workerMinBytes ? workerHasher(path, kind) : afterwardsHasher(path, kind);
}
