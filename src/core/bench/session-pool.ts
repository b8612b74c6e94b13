/** N sessions on N threads (session-thread.ts) behind one `run()`: the throughput mode of `bench`. */
import { Worker } from 'node:worker_threads';
import type { RuntimeTarget } from '../backends/ep-map.js';
import type { HostTensor, LoadOptions } from '../backends/types.js';
import { errorFromCode, InferenceError } from '../errors.js';
import type { FromThread, ThreadInit, ToThread } from './session-thread.js';

export interface SessionPool {
  readonly size: number;
  setFeeds(feeds: Record<string, HostTensor>): Promise<void>;
  /** Runs one request on an idle thread (queued while all are busy). */
  run(): Promise<void>;
  dispose(): Promise<void>;
}

class Thread {
  private pending: { resolve: () => void; reject: (e: Error) => void } | undefined;
  constructor(readonly worker: Worker) {
    worker.on('message', (m: FromThread) => {
      const p = this.pending;
      this.pending = undefined;
      if (m.type === 'error') p?.reject(errorFromCode(m.error.code, m.error.message, m.error.hint));
      else p?.resolve();
    });
    worker.on('error', (err) => {
      const p = this.pending;
      this.pending = undefined;
      p?.reject(new InferenceError(`a bench thread failed: ${err.message}`));
    });
  }
  request(m: ToThread | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      if (m) this.worker.postMessage(m);
    });
  }
}

/** The compiled thread; under tsx (tests run from source), the TypeScript one, with tsx registered in the thread first. */
function startThread(init: ThreadInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./session-thread.js', import.meta.url), { workerData: init });
  const url = new URL('./session-thread.ts', import.meta.url).href;
  const code = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(code, { eval: true, workerData: init });
}

export async function openSessionPool(model: string, target: RuntimeTarget, options: LoadOptions, size: number): Promise<SessionPool> {
  const init: ThreadInit = { model, target, options };
  const threads = Array.from({ length: size }, () => new Thread(startThread(init)));
  try {
    await Promise.all(threads.map((t) => t.request(undefined))); // 'ready'
  } catch (err) {
    await Promise.all(threads.map((t) => t.worker.terminate()));
    throw err;
  }
  const idle = [...threads];
  const waiting: ((t: Thread) => void)[] = [];
  const acquire = (): Promise<Thread> => {
    const t = idle.pop();
    return t ? Promise.resolve(t) : new Promise((r) => waiting.push(r));
  };
  const release = (t: Thread): void => {
    const next = waiting.shift();
    if (next) next(t);
    else idle.push(t);
  };
  return {
    size,
    setFeeds: (feeds) => Promise.all(threads.map((t) => t.request({ type: 'feeds', feeds }))).then(() => undefined),
    run: async () => {
      const t = await acquire();
      try {
        await t.request({ type: 'run' });
      } finally {
        release(t);
      }
    },
    dispose: async () => {
      for (const t of threads) t.worker.postMessage({ type: 'close' } satisfies ToThread);
      await Promise.all(threads.map((t) => new Promise((r) => t.worker.once('exit', r))));
    },
  };
}
