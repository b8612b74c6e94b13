/**
 * `bench --concurrency N` on the thread host: N thread lanes with one session each behind one run().
 * onnxruntime-node's `session.run` executes on the calling JS thread, so N requests in flight need N
 * threads, each with its own session (as OpenVINO's streams do). Feeds are bound once per shape; each
 * timed request sends no data and gets no outputs back.
 */
import type { RuntimeTarget } from '../core/backends/ep-map.js';
import type { HostTensor, LoadOptions } from '../core/backends/types.js';
import type { PoolOpener, SessionPool } from '../core/bench/run-pair.js';
import { Lane } from './lane.js';

export const threadPoolOpener: PoolOpener = async (model: string, target: RuntimeTarget, options: LoadOptions, size: number): Promise<SessionPool> => {
  const lanes: Lane[] = [];
  try {
    for (let i = 0; i < size; i++) lanes.push(await Lane.start({ name: `bench thread ${i + 1}`, target, host: 'thread' }));
    await Promise.all(lanes.map((l) => l.load('s', model, options)));
  } catch (err) {
    await Promise.all(lanes.map((l) => l.close()));
    throw err;
  }
  const idle = [...lanes];
  const waiting: ((l: Lane) => void)[] = [];
  const acquire = (): Promise<Lane> => {
    const l = idle.pop();
    return l ? Promise.resolve(l) : new Promise((r) => waiting.push(r));
  };
  const release = (l: Lane): void => {
    const next = waiting.shift();
    if (next) next(l);
    else idle.push(l);
  };
  return {
    size,
    setFeeds: (feeds: Record<string, HostTensor>) => Promise.all(lanes.map((l) => l.bind('s', feeds))).then(() => undefined),
    run: async () => {
      const l = await acquire();
      try {
        await l.runWith({ instance: 's', feeds: {}, bound: true, discard: true });
      } finally {
        release(l);
      }
    },
    dispose: async () => {
      await Promise.all(lanes.map((l) => l.close()));
    },
  };
};
