/**
 * Parallel ranges received on several threads. One JavaScript thread tops out well below what a socket
 * can carry on loopback or a fast link (undici's parser and stream, 64 KiB at a time: 0.6–0.9 of curl
 * measured on a 16-core host before anything is written), so on machines with cores to spare each worker
 * thread (range-worker.ts) takes a share of the connections and writes its ranges straight into the file.
 * The main thread hands out the ranges, relays progress and follows the contiguous prefix with the hash.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { IntegrityError, NetworkError } from '../errors.js';
import { RangeIgnored, type DownloadSpec } from './download.js';

type PlainSpec = Omit<DownloadSpec, 'sleep' | 'onBytes' | 'onRetry'>;

export type ToThread = { type: 'init'; spec: PlainSpec } | { type: 'range'; i: number; start: number; end: number } | { type: 'close' };
export type FromThread =
  | { type: 'bytes'; i: number; n: number; pos: number }
  | { type: 'retry'; why: string }
  | { type: 'done'; i: number; resumes: number }
  | { type: 'error'; i: number; pos: number; error: { name: string; message: string; hint?: string; code?: string; syscall?: string } }
  | { type: 'closed' };

/** Threads for `connections` parallel ranges: none on small machines (the receiving thread would compete with everything else). */
export function defaultRangeThreads(connections: number, cores = availableParallelism()): number {
  return cores >= 6 ? Math.max(1, Math.min(4, connections, cores - 2)) : 1;
}

/** The worker's entry: the built .js, or under tsx (tests) the .ts source with tsx registered in the thread. */
function workerEntry(): { source: string | URL; eval: boolean } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const api = import.meta.resolve('tsx/esm/api');
    const target = new URL('./range-worker.ts', here).href;
    return { source: `import(${JSON.stringify(api)}).then((api) => { api.register(); return import(${JSON.stringify(target)}); })`, eval: true };
  }
  return { source: new URL('./range-worker.js', here), eval: false };
}

function revive(e: Extract<FromThread, { type: 'error' }>['error']): Error {
  if (e.name === 'RangeIgnored') return new RangeIgnored();
  if (e.name === 'NetworkError') return new NetworkError(e.message, e.hint);
  if (e.name === 'IntegrityError') return new IntegrityError(e.message, e.hint);
  return Object.assign(new Error(e.message), e.code ? { code: e.code } : {}, e.syscall ? { syscall: e.syscall } : {});
}

export interface RangeJob {
  start: number;
  end: number;
}

/**
 * Downloads `jobs` (ranges of `spec.dest`, which exists) on `threads` worker threads with up to
 * `perThread` ranges in flight each. `onProgress(i, pos)`: range i is written up to pos. Resolves with the
 * number of resumed requests; on the first failure no new range starts, the ranges in flight finish or
 * fail, every thread closes the file, and the failure is thrown (RangeIgnored, NetworkError,
 * IntegrityError or the file system's error).
 */
export async function rangesInThreads(spec: DownloadSpec, jobs: readonly RangeJob[], threads: number, perThread: number, onProgress: (i: number, pos: number) => void): Promise<number> {
  const { sleep: _sleep, onBytes, onRetry, ...plain } = spec;
  const entry = workerEntry();
  const pool = Array.from({ length: Math.max(1, Math.min(threads, jobs.length)) }, () => ({ worker: new Worker(entry.source, { eval: entry.eval }), busy: 0, exited: false }));
  let next = 0;
  let active = 0;
  let resumes = 0;
  let failure: unknown;
  let release: () => void = () => undefined;
  const idle = new Promise<void>((resolve) => (release = resolve));
  const assign = (slot: (typeof pool)[number]): void => {
    while (failure === undefined && next < jobs.length && slot.busy < perThread && !slot.exited) {
      const i = next++;
      const job = jobs[i]!;
      slot.busy++;
      active++;
      slot.worker.postMessage({ type: 'range', i, start: job.start, end: job.end } satisfies ToThread);
    }
  };
  const settle = (): void => {
    if (active === 0 && (failure !== undefined || next >= jobs.length)) release();
  };
  for (const slot of pool) {
    slot.worker.on('message', (m: FromThread) => {
      if (m.type === 'bytes') {
        onBytes?.(m.n);
        onProgress(m.i, m.pos);
      } else if (m.type === 'retry') onRetry?.(m.why);
      else if (m.type === 'done') {
        slot.busy--;
        active--;
        resumes += m.resumes;
        onProgress(m.i, jobs[m.i]!.end);
        assign(slot);
        settle();
      } else if (m.type === 'error') {
        slot.busy--;
        active--;
        failure ??= revive(m.error);
        settle();
      }
    });
    slot.worker.on('error', (err) => (failure ??= err));
    slot.worker.on('exit', () => {
      slot.exited = true;
      if (slot.busy > 0) {
        failure ??= new Error('a download thread stopped');
        active -= slot.busy;
        slot.busy = 0;
      }
      settle();
    });
    slot.worker.postMessage({ type: 'init', spec: plain } satisfies ToThread);
  }
  try {
    pool.forEach(assign);
    settle();
    await idle;
  } finally {
    // Every thread closes its handle on the file before the caller truncates, renames or removes it.
    await Promise.all(
      pool.map(async (slot) => {
        if (!slot.exited) {
          const closed = new Promise<void>((resolve) => {
            slot.worker.on('message', (m: FromThread) => m.type === 'closed' && resolve());
            slot.worker.on('exit', () => resolve());
          });
          slot.worker.postMessage({ type: 'close' } satisfies ToThread);
          await closed;
        }
        await slot.worker.terminate();
      }),
    );
  }
  if (failure !== undefined) throw failure;
  return resumes;
}
