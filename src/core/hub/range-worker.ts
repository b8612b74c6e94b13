/**
 * A worker thread of a parallel download (range-threads.ts): it receives its ranges of the file over its
 * own connections and writes them into the shared temporary file at their offsets, reporting progress to
 * the main thread, which hands out the ranges and follows the contiguous prefix with the hash.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { downloadRange, type DownloadSpec } from './download.js';
import type { FromThread, ToThread } from './range-threads.js';

const port = parentPort;
if (!port) throw new Error('range-worker runs as a worker thread');
const post = (m: FromThread): void => port.postMessage(m);

let spec: DownloadSpec | undefined;
let file: Promise<FileHandle> | undefined;

function serialize(err: unknown): Extract<FromThread, { type: 'error' }>['error'] {
  const e = err as { name?: unknown; message?: unknown; hint?: unknown; code?: unknown; syscall?: unknown };
  return {
    name: err instanceof Error ? err.constructor.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(err),
    ...(typeof e?.hint === 'string' ? { hint: e.hint } : {}),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(typeof e?.syscall === 'string' ? { syscall: e.syscall } : {}),
  };
}

port.on('message', (m: ToThread) => {
  if (m.type === 'init') {
    spec = {
      ...m.spec,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      onRetry: (why) => post({ type: 'retry', why }),
    };
    file = open(m.spec.dest, 'r+');
    file.catch(() => undefined); // reported by the first range
    return;
  }
  if (m.type === 'range') {
    void (async () => {
      const cursor = { pos: m.start };
      try {
        if (!spec || !file) throw new Error('range before init');
        const fh = await file;
        const resumes = await downloadRange({ ...spec, onBytes: (n) => post({ type: 'bytes', i: m.i, n, pos: cursor.pos }) }, fh, m.start, m.end, cursor);
        post({ type: 'done', i: m.i, resumes });
      } catch (err) {
        post({ type: 'error', i: m.i, pos: cursor.pos, error: serialize(err) });
      }
    })();
    return;
  }
  if (m.type === 'close') {
    void (async () => {
      await (await file?.catch(() => undefined))?.close();
      post({ type: 'closed' });
    })();
  }
});
