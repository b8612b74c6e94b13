/**
 * One file from a URL (over undici) into a temporary file, verified before anyone sees it: parallel HTTP range requests
 * for large files (falling back to one stream when the server ignores Range), interrupted transfers
 * resumed from the last byte written instead of restarted, a timeout per read, then the size and the
 * content hash (sha256 for LFS files, git blob sha1 for small git files) compared with the etag.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { request as undiciRequest } from 'undici';
import { IntegrityError, NetworkError, errorMessage } from '../errors.js';
import { RETRYABLE } from './http.js';
import { prefixHasher, type PrefixHasher } from './prefix-hash.js';

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
  /** Size of each file write (default 4 MiB; up to 3 in flight per stream). */
  writeBytes?: number;
  /** Files of at least this many bytes are hashed by a worker thread while they download (default 16 MiB). */
  workerHashMinBytes?: number;
}

export interface DownloadResult {
  mode: 'single' | 'parallel' | 'single (server ignored Range)';
  /** Requests that continued a transfer after a failure, within this run. */
  resumes: number;
  /** Bytes kept from an earlier, interrupted run (`resume`), not downloaded again. */
  resumedFrom: number;
}

class RangeIgnored extends Error {}

/** Network chunks are gathered to this size: one (vectored) write per few MiB instead of one per chunk. */
const WRITE_BYTES = 4 * 1024 * 1024;
/**
 * Writes in flight per stream. Writes run on libuv's thread pool: while they do, this thread goes on
 * receiving (one write at a time stalled the socket and halved the rate on a 16-core host).
 */
const WRITES_IN_FLIGHT = 3;

/** Writes `bufs` (n bytes together) at `position`, continuing after short writes. */
async function writeAll(fh: FileHandle, bufs: Buffer[], n: number, position: number): Promise<void> {
  let written = 0;
  let rest = bufs;
  while (written < n) {
    const { bytesWritten } = await fh.writev(rest, position + written);
    if (bytesWritten <= 0) throw Object.assign(new Error('write wrote nothing'), { code: 'EIO', syscall: 'write' });
    written += bytesWritten;
    if (written >= n) break;
    // Drop what was written, keeping the tail of a partly written buffer.
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) skip -= b.length;
      else {
        next.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    rest = next;
  }
}

/**
 * Reads a response body into `fh` from `cursor.pos`. `cursor.pos` only ever covers bytes whose write
 * completed (and every write before them), so a failure mid-body still says how far the file is good;
 * `progressed` is called each time it advances. Every write has settled when this returns or throws.
 */
async function drain(body: AsyncIterable<Buffer>, fh: FileHandle, cursor: { pos: number }, limit: number, spec: DownloadSpec, progressed: () => void): Promise<void> {
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let next = cursor.pos; // where the next write goes
  const queue: { done: Promise<void>; n: number }[] = [];
  let failure: unknown;
  const settleOldest = async (): Promise<void> => {
    const w = queue.shift();
    if (!w) return;
    await w.done;
    if (failure !== undefined) throw failure;
    cursor.pos += w.n;
    spec.onBytes?.(w.n);
    progressed();
  };
  const flush = async (): Promise<void> => {
    if (pendingLen > 0) {
      const bufs = pending;
      const n = pendingLen;
      pending = [];
      pendingLen = 0;
      // One vectored write of the network chunks as they came (no copy into one buffer first). Rejections
      // are recorded and rethrown in order by settleOldest, never left unhandled.
      queue.push({ done: writeAll(fh, bufs, n, next).then(() => undefined, (err: unknown) => void (failure ??= fileError(err))), n });
      next += n;
    }
    while (queue.length >= WRITES_IN_FLIGHT) await settleOldest();
  };
  try {
    for await (const chunk of body) {
      const take = Math.min(chunk.byteLength, limit - next - pendingLen);
      if (take <= 0) break;
      pending.push(take === chunk.byteLength ? chunk : chunk.subarray(0, take));
      pendingLen += take;
      if (pendingLen >= (spec.writeBytes ?? WRITE_BYTES) || pending.length >= 512) await flush(); // 512: well under IOV_MAX
    }
  } finally {
    // Keep what arrived (a resumed request continues after it), and let no write outlive this call. A
    // failed write (disk full) outranks the error that ended the body, if any.
    let writeError: unknown;
    try {
      await flush();
    } catch (err) {
      writeError = err;
    }
    while (queue.length > 0) {
      try {
        await settleOldest();
      } catch (err) {
        writeError ??= err;
      }
    }
    if (writeError !== undefined) throw writeError;
  }
}

/**
 * Errors of the local file (disk full, read-only, I/O error), as opposed to the connection: a socket's
 * errors carry syscall 'read' too, so file errors are marked where they happen instead of guessed.
 */
const fileErrors = new WeakSet<object>();
function fileError(err: unknown): unknown {
  if (typeof err === 'object' && err !== null) fileErrors.add(err);
  return err;
}
const isFileError = (err: unknown): boolean => typeof err === 'object' && err !== null && fileErrors.has(err);

interface State {
  hasher: PrefixHasher | undefined;
  resumes: number;
  ignored: boolean;
}

/**
 * Bytes [start, end) into `fh`, resuming after failures with `Range: bytes=<pos>-<end-1>`.
 * `whole`: this segment is the whole file, so a 200 to a range request can restart from zero.
 */
async function segment(spec: DownloadSpec, fh: FileHandle, start: number, end: number, whole: boolean, state: State, cursor: { pos: number } = { pos: start }): Promise<void> {
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
        await state.hasher?.reset();
        await fh.truncate(0).catch((err: unknown) => Promise.reject(fileError(err)));
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
      await drain(res.body, fh, cursor, end, spec, () => {
        failures = 0;
        if (whole) state.hasher?.advance(cursor.pos);
      });
      if (cursor.pos >= end) return;
      why = `connection closed after ${cursor.pos - before} bytes`;
    } catch (err) {
      if (err instanceof RangeIgnored || err instanceof NetworkError || err instanceof IntegrityError) throw err;
      if (isFileError(err)) throw err; // the disk, not the network: retrying will not help
      const e = err as { code?: string; message?: string };
      why = e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_HEADERS_TIMEOUT' ? `no data for ${spec.timeoutMs / 1000} s` : errorMessage(err);
    }
    failures++;
    if (failures > spec.maxFailures) throw new NetworkError(`download of ${new URL(spec.url).pathname} failed ${failures} times in a row: ${why}`, 'check the network and run the command again');
    spec.onRetry?.(`${why}; resuming at byte ${cursor.pos}`);
    await spec.sleep(spec.backoffMs * Math.min(8, 2 ** (failures - 1)));
  }
}

export async function downloadFile(spec: DownloadSpec): Promise<DownloadResult> {
  const existing = spec.resume ? ((await stat(spec.dest).catch(() => undefined))?.size ?? 0) : 0;
  const from = existing > 0 && existing < spec.size ? existing : 0;
  const fh = await open(spec.dest, from > 0 ? 'r+' : 'w+');
  const state: State = { hasher: undefined, resumes: 0, ignored: false };
  let mode: DownloadResult['mode'] = 'single';
  try {
    if (from === 0) await fh.truncate(0);
    else await fh.truncate(from);
    // Hashed on another thread as the file fills from byte 0 (bytes kept from an earlier run included).
    state.hasher = prefixHasher(spec.dest, spec.etag, spec.size, spec.workerHashMinBytes);
    state.hasher?.advance(from);
    const chunks = Math.ceil((spec.size - from) / spec.chunkBytes);
    let done = false;
    if (spec.connections > 1 && chunks >= 2) {
      mode = 'parallel';
      let next = 0;
      // Each chunk's write position; the hash follows the prefix [0, p) that every chunk below p completed.
      const cursors: { pos: number; end: number }[] = [];
      let prefixChunk = 0;
      const advancePrefix = (): void => {
        while (prefixChunk < chunks && cursors[prefixChunk] && cursors[prefixChunk]!.pos >= cursors[prefixChunk]!.end) prefixChunk++;
        const head = cursors[prefixChunk];
        state.hasher?.advance(prefixChunk === chunks ? spec.size : head ? head.pos : from + prefixChunk * spec.chunkBytes);
      };
      const worker = async (): Promise<void> => {
        while (next < chunks) {
          const i = next++;
          const start = from + i * spec.chunkBytes;
          const cursor = { pos: start, end: Math.min(spec.size, start + spec.chunkBytes) };
          cursors[i] = cursor;
          try {
            await segment({ ...spec, onBytes: (n) => (spec.onBytes?.(n), advancePrefix()) }, fh, start, cursor.end, false, state, cursor);
          } catch (err) {
            next = chunks; // the other workers stop after their current chunk
            throw err;
          }
          advancePrefix();
        }
      };
      // Settle every worker before touching the file again.
      const results = await Promise.allSettled(Array.from({ length: Math.min(spec.connections, chunks) }, worker));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (!failed) done = true;
      else if (failed.reason instanceof RangeIgnored) {
        mode = 'single (server ignored Range)';
        await state.hasher?.reset();
        await fh.truncate(0);
      } else throw failed.reason;
    }
    if (!done) {
      const start = mode === 'single' ? from : 0; // after a Range-ignoring server, start over
      if (start === 0 && from > 0) {
        await state.hasher?.reset();
        await fh.truncate(0);
      }
      await segment(spec, fh, start, spec.size, true, state);
    }
    const { size } = await fh.stat();
    if (size !== spec.size) throw new IntegrityError(`downloaded ${size} bytes, expected ${spec.size}`, 'run the command again; nothing was kept');
    const digest = await state.hasher?.digest(spec.size).catch((err: unknown) => {
      throw new IntegrityError(`could not verify the download: ${errorMessage(err)}`, 'run the command again; nothing was kept', { cause: err });
    });
    if (digest !== undefined && digest !== spec.etag) {
      throw new IntegrityError(`checksum mismatch: got ${digest.slice(0, 16)}…, the Hub says ${spec.etag.slice(0, 16)}…`, 'run the command again; nothing was kept');
    }
  } finally {
    await state.hasher?.close();
    await fh.close();
  }
  return { mode: state.ignored ? 'single (server ignored Range)' : mode, resumes: state.resumes, resumedFrom: state.ignored || mode !== 'single' && mode !== 'parallel' ? 0 : from };
}
