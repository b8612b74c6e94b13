/**
 * One session on its own thread, for `bench --concurrency N`: onnxruntime-node's `session.run` executes on
 * the calling JS thread, so N requests in flight need N threads, each with its own session (as OpenVINO's
 * streams do). Inputs are sent once per shape; each 'run' message runs the session on them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { RuntimeTarget } from '../backends/ep-map.js';
import type { Backend, HostTensor, LoadOptions } from '../backends/types.js';
import { errorRecord } from '../errors.js';
import { backendFor } from '../backends/registry.js';

export interface ThreadInit {
  model: string;
  target: RuntimeTarget;
  options: LoadOptions;
}

export type ToThread = { type: 'feeds'; feeds: Record<string, HostTensor> } | { type: 'run' } | { type: 'close' };
export type FromThread = { type: 'ready' } | { type: 'done' } | { type: 'error'; error: { code: string; message: string; hint?: string } };

async function start(port: NonNullable<typeof parentPort>, init: ThreadInit): Promise<void> {
  const backend: Backend = await backendFor(init.target);
  const post = (m: FromThread): void => port.postMessage(m);
  let session;
  try {
    session = await backend.load(init.model, init.target, init.options);
  } catch (err) {
    post({ type: 'error', error: errorRecord(err) });
    return;
  }
  let feeds: Record<string, HostTensor> = {};
  port.on('message', (m: ToThread) => {
    if (m.type === 'feeds') {
      feeds = m.feeds;
      post({ type: 'done' });
    } else if (m.type === 'run') {
      session.run(feeds).then(
        () => post({ type: 'done' }),
        (err: unknown) => post({ type: 'error', error: errorRecord(err) }),
      );
    } else {
      void session.dispose().finally(() => port.close());
    }
  });
  post({ type: 'ready' });
}

if (parentPort) void start(parentPort, workerData as ThreadInit);
