/**
 * One file from a URL (over undici) into a temporary file, verified before anyone sees it: parallel HTTP range requests
 * for large files (falling back to one stream when the server ignores Range), interrupted transfers
 * resumed from the last byte written instead of restarted, a timeout per read, then the size and the
 * content hash (sha256 for LFS files, git blob sha1 for small git files) compared with the etag.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { request as undiciRequest } from 'undici';
import { IntegrityError, NetworkError, errorMessage } from '../errors.js';
import { RETRYABLE } from './http.js';

export interface DownloadSpec {
  url: string;
  headers: Record<string, string>;
  size: number;
  /** 64 hex: sha256 of the content; 40 hex: git blob sha1; anything else: size check only. */
  etag: string;
  /** The temporary file to write (created or truncated). */
  dest: string;
  /** Parallel range requests for files of at least 2 chunks; 1 = one stream. */
  connections: number;
  chunkBytes: number;
  /** Longest wait for the next bytes. */
  timeoutMs: number;
  /** Consecutive failures tolerated per stream (the count resets whenever bytes arrive). */
  maxFailures: number;
  backoffMs: number;
  sleep: (ms: number) => Promise<void>;
  onBytes?: (n: number) => void;
  onRetry?: (why: string) => void;
  /** Continue a partial `dest` left by an earlier run (the caller holds the blob's lock). */
  resume?: boolean;
}

export interface DownloadResult {
  mode: 'single' | 'parallel' | 'single (server ignored Range)';
  /** Requests that continued a transfer after a failure, within this run. */
  resumes: number;
  /** Bytes kept from an earlier, interrupted run (`resume`), not downloaded again. */
  resumedFrom: number;
}

class RangeIgnored extends Error {}

function hasherFor(etag: string, size: number): Hash | undefined {
  if (/^[0-9a-f]{64}$/.test(etag)) return createHash('sha256');
  if (/^[0-9a-f]{40}$/.test(etag)) return createHash('sha1').update(`blob ${size}\0`);
  return undefined;
}

/** Writes are coalesced to this size: one syscall per few MiB instead of one per network chunk. */
const WRITE_BYTES = 4 * 1024 * 1024;

/**
 * Reads a response body into `fh` at `cursor.pos` (advanced as bytes land, so a failure mid-body still
 * says how far it got), hashing in order when asked.
 */
async function drain(body: AsyncIterable<Buffer>, fh: FileHandle, cursor: { pos: number }, limit: number, spec: DownloadSpec, hash: Hash | undefined, progressed: () => void): Promise<void> {
  let pending: Buffer[] = [];
  let pendingLen = 0;
  const flush = async (): Promise<void> => {
    if (pendingLen === 0) return;
    const buf = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingLen);
    const n = pendingLen;
    pending = [];
    pendingLen = 0;
    await fh.write(buf, 0, n, cursor.pos);
    hash?.update(buf);
    cursor.pos += n;
    spec.onBytes?.(n);
    progressed();
  };
  try {
    for await (const chunk of body) {
      const take = Math.min(chunk.byteLength, limit - cursor.pos - pendingLen);
      if (take <= 0) break;
      pending.push(take === chunk.byteLength ? chunk : chunk.subarray(0, take));
      pendingLen += take;
      if (pendingLen >= WRITE_BYTES) await flush();
    }
  } finally {
    await flush();
  }
}

/**
 * Bytes [start, end) into `fh`, resuming after failures with `Range: bytes=<pos>-<end-1>`.
 * `whole`: this segment is the whole file, so a 200 to a range request can restart from zero.
 */
async function segment(spec: DownloadSpec, fh: FileHandle, start: number, end: number, whole: boolean, state: { hash?: Hash | undefined; resumes: number; ignored: boolean }): Promise<void> {
  const cursor = { pos: start };
  let failures = 0;
  let firstRequest = true;
  while (cursor.pos < end) {
    const pos = cursor.pos;
    const ranged = !(whole && pos === 0);
    let why: string;
    try {
      const res = await undiciRequest(spec.url, {
        method: 'GET',
        headers: { ...spec.headers, 'accept-encoding': 'identity', ...(ranged ? { range: `bytes=${pos}-${end - 1}` } : {}) },
        headersTimeout: spec.timeoutMs,
        bodyTimeout: spec.timeoutMs,
      });
      if (res.statusCode === 200 && ranged) {
        if (!whole) {
          res.body.destroy();
          throw new RangeIgnored();
        }
        // The server sent the whole file: start over from byte 0 with it.
        state.ignored = true;
        state.hash = hasherFor(spec.etag, spec.size);
        await fh.truncate(0);
        cursor.pos = 0;
      } else if (res.statusCode === 416) {
        await res.body.dump().catch(() => undefined);
        throw new IntegrityError(`the server has fewer bytes than the ${spec.size} announced (no byte ${pos})`, 'run the command again later; nothing was kept');
      } else if (res.statusCode !== 200 && res.statusCode !== 206) {
        await res.body.dump().catch(() => undefined);
        if (!RETRYABLE.has(res.statusCode)) throw new NetworkError(`download of ${new URL(spec.url).pathname} failed: HTTP ${res.statusCode}`);
        why = `HTTP ${res.statusCode}`;
        failures++;
        if (failures > spec.maxFailures) throw new NetworkError(`download failed: HTTP ${res.statusCode} ${failures} times in a row`, 'try again later');
        spec.onRetry?.(why);
        await spec.sleep(spec.backoffMs * Math.min(8, 2 ** (failures - 1)));
        continue;
      }
      if (!firstRequest) state.resumes++;
      firstRequest = false;
      const before = cursor.pos;
      await drain(res.body, fh, cursor, end, spec, whole ? state.hash : undefined, () => (failures = 0));
      if (cursor.pos >= end) return;
      why = `connection closed after ${cursor.pos - before} bytes`;
    } catch (err) {
      if (err instanceof RangeIgnored || err instanceof NetworkError || err instanceof IntegrityError) throw err;
      const e = err as { code?: string; message?: string };
      why = e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_HEADERS_TIMEOUT' ? `no data for ${spec.timeoutMs / 1000} s` : errorMessage(err);
    }
    failures++;
    if (failures > spec.maxFailures) throw new NetworkError(`download of ${new URL(spec.url).pathname} failed ${failures} times in a row: ${why}`, 'check the network and run the command again');
    spec.onRetry?.(`${why}; resuming at byte ${cursor.pos}`);
    await spec.sleep(spec.backoffMs * Math.min(8, 2 ** (failures - 1)));
  }
}

async function hashFile(path: string, etag: string, size: number): Promise<string | undefined> {
  const h = hasherFor(etag, size);
  if (!h) return undefined;
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function downloadFile(spec: DownloadSpec): Promise<DownloadResult> {
  const existing = spec.resume ? ((await stat(spec.dest).catch(() => undefined))?.size ?? 0) : 0;
  const from = existing > 0 && existing < spec.size ? existing : 0;
  const fh = await open(spec.dest, from > 0 ? 'r+' : 'w+');
  const state: { hash?: Hash | undefined; resumes: number; ignored: boolean } = { resumes: 0, ignored: false };
  let mode: DownloadResult['mode'] = 'single';
  try {
    if (from === 0) await fh.truncate(0);
    else await fh.truncate(from);
    const chunks = Math.ceil((spec.size - from) / spec.chunkBytes);
    let done = false;
    if (spec.connections > 1 && chunks >= 2) {
      mode = 'parallel';
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < chunks) {
          const i = next++;
          try {
            await segment(spec, fh, from + i * spec.chunkBytes, Math.min(spec.size, from + (i + 1) * spec.chunkBytes), false, state);
          } catch (err) {
            next = chunks; // the other workers stop after their current chunk
            throw err;
          }
        }
      };
      // Settle every worker before touching the file again.
      const results = await Promise.allSettled(Array.from({ length: Math.min(spec.connections, chunks) }, worker));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (!failed) done = true;
      else if (failed.reason instanceof RangeIgnored) {
        mode = 'single (server ignored Range)';
        await fh.truncate(0);
      } else throw failed.reason;
    }
    if (!done) {
      const h = hasherFor(spec.etag, spec.size);
      if (h && from > 0 && mode === 'single') {
        // Hash the bytes kept from the earlier run, then continue the stream after them.
        for await (const chunk of createReadStream(spec.dest, { start: 0, end: from - 1 })) h.update(chunk as Buffer);
      }
      if (h) state.hash = h;
      const start = mode === 'single' ? from : 0; // after a Range-ignoring server, start over
      if (start === 0 && from > 0) await fh.truncate(0);
      await segment(spec, fh, start, spec.size, true, state);
    }
    const { size } = await fh.stat();
    if (size !== spec.size) throw new IntegrityError(`downloaded ${size} bytes, expected ${spec.size}`, 'run the command again; nothing was kept');
  } finally {
    await fh.close();
  }
  const digest = mode === 'parallel' ? await hashFile(spec.dest, spec.etag, spec.size) : state.hash?.digest('hex');
  if (digest !== undefined && digest !== spec.etag) {
    throw new IntegrityError(`checksum mismatch: got ${digest.slice(0, 16)}…, the Hub says ${spec.etag.slice(0, 16)}…`, 'run the command again; nothing was kept');
  }
  return { mode: state.ignored ? 'single (server ignored Range)' : mode, resumes: state.resumes, resumedFrom: state.ignored || mode !== 'single' && mode !== 'parallel' ? 0 : from };
}
