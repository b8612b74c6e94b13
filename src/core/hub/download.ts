/**
 * One file from a URL (over undici) into a temporary file, verified before anyone sees it: parallel HTTP range requests
 * for large files (falling back to one stream when the server ignores Range), interrupted transfers
 * resumed instead of restarted, a timeout per read, then the size and the content hash (sha256 for LFS
 * files, git blob sha1 for small git files) compared with the etag.
 *
 * Parallel ranges leave gaps in a partial file, so its size says nothing about what is complete: the
 * ranges whose writes finished are kept beside it (`<partial>.ranges`, JSON, replaced atomically, always
 * a subset of what is on disk), and a later run fetches only the gaps. A partial with no ranges file
 * (huggingface_hub's, written by one stream) is taken as complete up to its size, as huggingface_hub
 * does. Whenever bytes kept from an earlier run fail verification, the file is downloaded again in the
 * same run.
 */
import { constants } from 'node:fs';
import { lstat, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { request as undiciRequest } from 'undici';
import { writeFileAtomic } from '../atomic-write.js';
import { CancelledError, IntegrityError, NetworkError, errorMessage } from '../errors.js';
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
  /** Failed attempts tolerated per range (as huggingface_hub, bytes arriving do not reset the count). */
  maxFailures: number;
  backoffMs: number;
  sleep: (ms: number) => Promise<void>;
  onBytes?: (n: number) => void;
  /** Bytes kept from an earlier run, reported before the transfer starts (progress starts there); negative when they are dropped for a restart. */
  onKept?: (n: number) => void;
  onRetry?: (why: string) => void;
  /** Continue a partial `dest` left by an earlier run (the caller holds the blob's lock). */
  resume?: boolean;
  /** Cancels the transfer (CancelledError); what was written is kept for a later run. */
  signal?: AbortSignal;
  /** Longest time data waits in memory before it is written (default 100 ms): progress and resume points stay fresh on slow links. */
  flushMs?: number;
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
  /** True when bytes kept from an earlier run failed verification and the file was downloaded again in this run. */
  restarted?: boolean;
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
async function drain(body: AsyncIterable<Buffer>, fh: FileHandle, cursor: { pos: number }, limit: number, spec: DownloadSpec, written: (start: number, end: number) => void): Promise<void> {
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let next = cursor.pos; // where the next write goes
  const queue: { done: Promise<void>; n: number; settled: boolean }[] = [];
  let failure: unknown;
  const settleOldest = async (): Promise<void> => {
    const w = queue.shift();
    if (!w) return;
    await w.done;
    if (failure !== undefined) throw failure;
    const from = cursor.pos;
    cursor.pos += w.n;
    spec.onBytes?.(w.n);
    written(from, cursor.pos);
  };
  const flush = async (): Promise<void> => {
    if (pendingLen > 0) {
      const bufs = pending;
      const n = pendingLen;
      pending = [];
      pendingLen = 0;
      // One vectored write of the network chunks as they came (no copy into one buffer first). Rejections
      // are recorded and rethrown in order by settleOldest, never left unhandled.
      const w = { done: Promise.resolve(), n, settled: false };
      w.done = writeAll(fh, bufs, n, next).then(
        () => void (w.settled = true),
        (err: unknown) => void ((w.settled = true), (failure ??= fileError(err))),
      );
      queue.push(w);
      next += n;
    }
    while (queue.length >= WRITES_IN_FLIGHT) await settleOldest();
  };
  const flushMs = spec.flushMs ?? 100;
  let firstPending = 0;
  try {
    for await (const chunk of body) {
      const take = Math.min(chunk.byteLength, limit - next - pendingLen);
      if (take <= 0) break;
      if (pendingLen === 0) firstPending = performance.now();
      pending.push(take === chunk.byteLength ? chunk : chunk.subarray(0, take));
      pendingLen += take;
      // 512: well under IOV_MAX. The time bound keeps a slow link's bytes from waiting seconds for 4 MiB.
      if (pendingLen >= (spec.writeBytes ?? WRITE_BYTES) || pending.length >= 512 || performance.now() - firstPending >= flushMs) await flush();
      else while (queue[0]?.settled) await settleOldest(); // progress as soon as a write lands, not 3 writes later
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

/** Completed byte ranges, sorted and merged: [start, end) pairs. */
export class Ranges {
  list: [number, number][] = [];
  constructor(list: readonly (readonly [number, number])[] = []) {
    for (const [s, e] of list) this.add(s, e);
  }
  add(start: number, end: number): void {
    if (end <= start) return;
    const out: [number, number][] = [];
    let s = start;
    let e = end;
    for (const r of this.list) {
      if (r[1] < s || r[0] > e) out.push(r);
      else {
        s = Math.min(s, r[0]);
        e = Math.max(e, r[1]);
      }
    }
    out.push([s, e]);
    this.list = out.sort((a, b) => a[0] - b[0]);
  }
  /** Bytes covered. */
  total(): number {
    return this.list.reduce((a, [s, e]) => a + e - s, 0);
  }
  /** End of the complete prefix [0, p). */
  prefix(): number {
    const first = this.list[0];
    return first && first[0] === 0 ? first[1] : 0;
  }
  /** What is missing in [0, size). */
  gaps(size: number): [number, number][] {
    const out: [number, number][] = [];
    let at = 0;
    for (const [s, e] of this.list) {
      if (s > at) out.push([at, Math.min(s, size)]);
      at = Math.max(at, e);
    }
    if (at < size) out.push([at, size]);
    return out.filter(([s, e]) => e > s);
  }
}

/** The ranges file beside a partial download. */
export const rangesPathFor = (partial: string): string => `${partial}.ranges`;

interface RangesFile {
  v: 1;
  size: number;
  etag: string;
  done: [number, number][];
  /** Bytes [0, assumed) came from a partial with no ranges file (trusted as huggingface_hub does, not known). */
  assumed: number;
}

const refuseLink = (path: string): IntegrityError =>
  new IntegrityError(`refusing ${path}: it is not a regular file (a symbolic link or other entry planted in the cache)`, 'something other than pull put it there (check what writes to this cache); pull never follows links in the cache except the snapshot links it creates');

/** Opens the partial without following a link, and refuses anything but a regular file. */
async function openPartial(path: string, truncate: boolean): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | (truncate ? constants.O_TRUNC : 0), 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw refuseLink(path);
    throw fileError(err);
  }
  if (!(await fh.stat()).isFile()) {
    await fh.close();
    throw refuseLink(path);
  }
  return fh;
}

/** What an earlier run left: the ranges known complete, or [0, size) assumed for a partial without a ranges file. */
async function earlier(spec: DownloadSpec): Promise<{ ranges: Ranges; assumed: number }> {
  const none = { ranges: new Ranges(), assumed: 0 };
  const st = await lstat(spec.dest).catch(() => undefined);
  if (!st) return none;
  if (!st.isFile()) throw refuseLink(spec.dest);
  const side = rangesPathFor(spec.dest);
  const sst = await lstat(side).catch(() => undefined);
  if (!sst) return st.size > 0 && st.size < spec.size ? { ranges: new Ranges([[0, st.size]]), assumed: st.size } : none;
  if (!sst.isFile()) throw refuseLink(side);
  try {
    const j = JSON.parse(await readFile(side, 'utf8')) as Partial<RangesFile>;
    const ok = j.v === 1 && j.size === spec.size && j.etag === spec.etag && Array.isArray(j.done) && j.done.every((r) => Array.isArray(r) && r.length === 2 && r.every((x) => Number.isSafeInteger(x) && x >= 0) && r[0] < r[1] && r[1] <= spec.size);
    if (!ok) return none; // another file's, or damaged: nothing in the partial is known
    // Never more than the file holds (it may have been truncated since).
    const ranges = new Ranges((j.done ?? []).map(([s, e]) => [s, Math.min(e, st.size)] as [number, number]));
    return { ranges, assumed: Math.min(Number.isSafeInteger(j.assumed) ? (j.assumed as number) : 0, ranges.prefix()) };
  } catch {
    return none;
  }
}

/** Saves the ranges at most every `everyMs` (and on flush); saves never overlap. */
class RangesSaver {
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly path: string,
    private readonly spec: DownloadSpec,
    private readonly state: { ranges: Ranges; assumed: number },
    private readonly everyMs = 250,
  ) {}
  mark(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch(() => undefined); // a later flush reports a failing disk
    }, this.everyMs);
  }
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const body: RangesFile = { v: 1, size: this.spec.size, etag: this.spec.etag, done: this.state.ranges.list.map(([s, e]) => [s, e]), assumed: this.state.assumed };
    const text = JSON.stringify(body);
    this.chain = this.chain.catch(() => undefined).then(() => writeFileAtomic(this.path, text));
    return this.chain;
  }
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
  settled(): Promise<void> {
    return this.chain.catch(() => undefined);
  }
}

interface State {
  hasher: PrefixHasher | undefined;
  resumes: number;
  ignored: boolean;
  fh: FileHandle;
  written: (start: number, end: number) => void;
  /** Forget every byte: the server sent the whole file to a range request. */
  restart: () => Promise<void>;
}

const cancelled = (): CancelledError => new CancelledError('the download was cancelled', 'run the command again to continue where it stopped');

function sleepOrAbort(spec: DownloadSpec, ms: number): Promise<void> {
  if (spec.signal?.aborted) return Promise.reject(cancelled());
  if (!spec.signal) return spec.sleep(ms);
  const signal = spec.signal;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    spec.sleep(ms).then(
      () => (signal.removeEventListener('abort', onAbort), resolve()),
      (err: unknown) => (signal.removeEventListener('abort', onAbort), reject(err as Error)),
    );
  });
}

/** Why an attempt failed, in words (undici's codes for the two timeouts; the OS's otherwise). */
function failureText(err: unknown, spec: DownloadSpec): string {
  const e = err as { code?: string };
  if (e.code === 'UND_ERR_BODY_TIMEOUT') return `the data stalled for ${spec.timeoutMs / 1000} s (HF_HUB_DOWNLOAD_TIMEOUT)`;
  if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT') return `no answer within ${spec.timeoutMs / 1000} s (HF_HUB_DOWNLOAD_TIMEOUT)`;
  return errorMessage(err);
}

/** Errors that no retry heals: a bad URL or port, an unknown host, TLS certificate failures. */
function permanent(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return ['ENOTFOUND', 'ERR_INVALID_URL', 'UND_ERR_INVALID_ARG', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN'].includes(e.code ?? '') || /bad port/i.test(e.message ?? '');
}

/**
 * Bytes [start, end) into the file, resuming after failures with `Range: bytes=<pos>-<end-1>`.
 * `whole`: this segment is the whole file, so a 200 to a range request can restart from zero.
 */
async function segment(spec: DownloadSpec, start: number, end: number, whole: boolean, state: State): Promise<void> {
  const cursor = { pos: start };
  let failures = 0;
  let firstRequest = true;
  while (cursor.pos < end) {
    if (spec.signal?.aborted) throw cancelled();
    const pos = cursor.pos;
    const ranged = !(whole && pos === 0);
    let why: string;
    try {
      const res = await undiciRequest(spec.url, {
        method: 'GET',
        headers: { ...spec.headers, 'accept-encoding': 'identity', ...(ranged ? { range: `bytes=${pos}-${end - 1}` } : {}) },
        headersTimeout: spec.timeoutMs,
        bodyTimeout: spec.timeoutMs,
        ...(spec.signal ? { signal: spec.signal } : {}),
      });
      if (res.statusCode === 200 && ranged) {
        if (!whole) {
          res.body.destroy();
          throw new RangeIgnored();
        }
        // The server sent the whole file: start over from byte 0 with it.
        state.ignored = true;
        await state.restart();
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
        spec.onRetry?.(`${why} (attempt ${failures + 1} of ${spec.maxFailures + 1})`);
        await sleepOrAbort(spec, spec.backoffMs * Math.min(8, 2 ** (failures - 1)));
        continue;
      }
      if (!firstRequest) state.resumes++;
      firstRequest = false;
      const before = cursor.pos;
      await drain(res.body, state.fh, cursor, end, spec, state.written);
      if (cursor.pos >= end) return;
      why = `connection closed after ${cursor.pos - before} bytes`;
    } catch (err) {
      if (err instanceof RangeIgnored || err instanceof NetworkError || err instanceof IntegrityError || err instanceof CancelledError) throw err;
      if (isFileError(err)) throw err; // the disk, not the network: retrying will not help
      if (spec.signal?.aborted) throw cancelled();
      if (permanent(err)) throw new NetworkError(`download of ${new URL(spec.url).pathname} failed: ${failureText(err, spec)}`, 'check HF_ENDPOINT and the network; retrying would not help');
      why = failureText(err, spec);
    }
    failures++;
    if (failures > spec.maxFailures) throw new NetworkError(`download of ${new URL(spec.url).pathname} failed after ${failures} attempts: ${why}`, 'check the network and run the command again; what arrived is kept');
    spec.onRetry?.(`${why}; resuming at byte ${cursor.pos} (attempt ${failures + 1} of ${spec.maxFailures + 1})`);
    await sleepOrAbort(spec, spec.backoffMs * Math.min(8, 2 ** (failures - 1)));
  }
}

class Mismatch extends IntegrityError {}

export async function downloadFile(spec: DownloadSpec): Promise<DownloadResult> {
  const known = spec.resume ? await earlier(spec) : { ranges: new Ranges(), assumed: 0 };
  try {
    return await attempt(spec, known);
  } catch (err) {
    // Bytes kept from an earlier run (trusted from a partial with no ranges file, or written by a run that
    // never got to verify them) were wrong: download it all again now, so no third run is ever needed.
    if (!(err instanceof Mismatch) || known.ranges.total() === 0) throw err;
    spec.onRetry?.('the bytes kept from an earlier run did not match; downloading the file again');
    spec.onKept?.(-known.ranges.total());
    return { ...(await attempt(spec, { ranges: new Ranges(), assumed: 0 })), restarted: true };
  }
}

async function attempt(spec: DownloadSpec, known: { ranges: Ranges; assumed: number }): Promise<DownloadResult> {
  if (spec.signal?.aborted) throw cancelled();
  const from = known.ranges.total();
  if (from > 0) spec.onKept?.(from);
  const fh = await openPartial(spec.dest, from === 0);
  const shared = { ranges: new Ranges(known.ranges.list), assumed: known.assumed };
  const saver = new RangesSaver(rangesPathFor(spec.dest), spec, shared);
  const state: State = {
    hasher: undefined,
    resumes: 0,
    ignored: false,
    fh,
    written: (start, end) => {
      shared.ranges.add(start, end);
      state.hasher?.advance(shared.ranges.prefix());
      saver.mark();
    },
    restart: async () => {
      shared.ranges = new Ranges();
      shared.assumed = 0;
      await saver.flush();
      await state.hasher?.reset();
      await fh.truncate(0).catch((err: unknown) => Promise.reject(fileError(err)));
    },
  };
  let mode: DownloadResult['mode'] = 'single';
  try {
    if ((await fh.stat()).size > spec.size) await fh.truncate(spec.size);
    await saver.flush(); // the ranges file exists before the first new byte does: a partial without one is never ours
    // Hashed on another thread as the file fills from byte 0 (bytes kept from an earlier run included).
    state.hasher = prefixHasher(spec.dest, spec.etag, spec.size, spec.workerHashMinBytes);
    state.hasher?.advance(shared.ranges.prefix());
    const tasks: [number, number][] = [];
    for (const [s, e] of shared.ranges.gaps(spec.size)) for (let p = s; p < e; p += spec.chunkBytes) tasks.push([p, Math.min(e, p + spec.chunkBytes)]);
    let done = tasks.length === 0;
    if (!done && spec.connections > 1 && tasks.length >= 2) {
      mode = 'parallel';
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < tasks.length) {
          const [s, e] = tasks[next++] as [number, number];
          try {
            await segment(spec, s, e, false, state);
          } catch (err) {
            next = tasks.length; // the other workers stop after their current range
            throw err;
          }
        }
      };
      // Settle every worker before touching the file again.
      const results = await Promise.allSettled(Array.from({ length: Math.min(spec.connections, tasks.length) }, worker));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (!failed) done = true;
      else if (failed.reason instanceof RangeIgnored) mode = 'single (server ignored Range)';
      else throw failed.reason;
    } else if (!done) {
      try {
        for (const [s, e] of shared.ranges.gaps(spec.size)) await segment(spec, s, e, s === 0 && e === spec.size, state);
        done = true;
      } catch (err) {
        if (!(err instanceof RangeIgnored)) throw err;
        mode = 'single (server ignored Range)';
      }
    }
    if (!done) {
      await state.restart(); // a server that ignores Range: one stream from byte 0
      await segment(spec, 0, spec.size, true, state);
    }
    const { size } = await fh.stat();
    if (size !== spec.size) throw new IntegrityError(`downloaded ${size} bytes, expected ${spec.size}`, 'run the command again; nothing was kept');
    const digest = await state.hasher?.digest(spec.size).catch((err: unknown) => {
      throw new IntegrityError(`could not verify the download: ${errorMessage(err)}`, 'run the command again; nothing was kept', { cause: err });
    });
    if (digest !== undefined && digest !== spec.etag) {
      throw new Mismatch(`checksum mismatch: got ${digest.slice(0, 16)}…, the Hub says ${spec.etag.slice(0, 16)}…`, 'run the command again; nothing was kept');
    }
    saver.stop();
    await saver.settled();
    await rm(rangesPathFor(spec.dest), { force: true });
  } catch (err) {
    // What is on disk stays described for the next run (a failed save only costs bytes fetched again).
    await saver.flush().catch(() => undefined);
    throw err;
  } finally {
    saver.stop();
    await saver.settled();
    await state.hasher?.close();
    await fh.close();
  }
  return { mode: state.ignored ? 'single (server ignored Range)' : mode, resumes: state.resumes, resumedFrom: state.ignored || mode === 'single (server ignored Range)' ? 0 : from };
}
