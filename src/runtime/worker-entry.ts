/**
 * The host side of the protocol (protocol.ts): the entry of a process host (forked by lane.ts, IPC with
 * `serialization: 'advanced'`) and of a thread host (a worker thread). It holds loaded instances (one
 * session each), runs them, runs one-shot jobs by kind (jobs.ts), and answers every request with its id.
 *
 * In a process host started with `instancesConcurrent`, each instance lives on its own thread host
 * (a nested thread lane): onnxruntime-node's run blocks the JS thread it is called on, so this is what
 * lets two instances of one lane compute at the same time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSession } from '../core/backends/registry.js';
import type { HostTensor, Session, TensorSpec } from '../core/backends/types.js';
import { ELEMENT_BYTES, typedArrayOf } from '../core/backends/tensor-data.js';
import type { ElementType } from '../core/backends/types.js';
import { errorRecord, NotFoundError, UsageError } from '../core/errors.js';
import { jobHandler } from './jobs.js';
import { READY_ID, transferables, type HostInit, type LoadResult, type Reply, type Request, type RunResult } from './protocol.js';
import type { Lane } from './lane.js';

interface Transport {
  send(reply: Reply, transfer?: ArrayBuffer[]): Promise<void>;
  onRequest(f: (r: Request) => void): void;
}

function threadTransport(port: NonNullable<typeof parentPort>): Transport {
  return {
    send: (reply, transfer) => {
      try {
        port.postMessage(reply, transfer ?? []);
      } catch {
        port.postMessage(reply); // a buffer that cannot be detached (native memory): copy it instead
      }
      return Promise.resolve();
    },
    onRequest: (f) => port.on('message', f),
  };
}

function processTransport(): Transport {
  return {
    send: (reply) => new Promise((resolve) => (process.send && process.connected ? process.send(reply, undefined, {}, () => resolve()) : resolve())),
    onRequest: (f) => process.on('message', (m) => f(m as Request)),
  };
}

/** Zero-filled feeds of the session's input shapes (symbolic dimensions as 1), for a warm-up run. */
function zeroFeeds(inputs: readonly TensorSpec[]): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  for (const spec of inputs) {
    const type = (spec.type in ELEMENT_BYTES ? spec.type : 'float32') as ElementType;
    const dims = spec.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const n = dims.reduce((a, d) => a * d, 1);
    feeds[spec.name] = { type, dims, data: typedArrayOf(type, new ArrayBuffer(n * ELEMENT_BYTES[type]), n) };
  }
  return feeds;
}

type Instance = { kind: 'session'; session: Session; bound: Record<string, HostTensor> } | { kind: 'thread'; lane: Lane };

export async function serve(t: Transport, init: HostInit): Promise<void> {
  for (const m of init.jobModules ?? []) await import(m);
  const instances = new Map<string, Instance>();
  const jobs = new Map<number, AbortController>();
  const abortAll = (): void => jobs.forEach((c) => c.abort());
  if (!parentPort) {
    // Ctrl-C reaches the whole process group: jobs stop early and still answer with what they measured.
    process.on('SIGINT', abortAll);
    process.on('SIGTERM', abortAll);
    process.on('disconnect', () => process.exit(0)); // the lane's owner is gone
  }

  const handle = async (r: Request): Promise<{ value: unknown; transfer?: ArrayBuffer[] }> => {
    switch (r.op) {
      case 'load': {
        if (instances.has(r.instance)) throw new UsageError(`instance '${r.instance}' is already loaded`);
        if (init.instancesConcurrent) {
          const { Lane } = await import('./lane.js');
          const lane = await Lane.start({ name: `${init.name}/${r.instance}`, target: r.target, host: 'thread' });
          try {
            const value = await lane.load(r.instance, r.model, { ...r.options, ...(r.warmup ? { warmup: true } : {}) });
            instances.set(r.instance, { kind: 'thread', lane });
            return { value };
          } catch (err) {
            await lane.close();
            throw err;
          }
        }
        const t0 = performance.now();
        const opened = await openSession(r.target, r.model, r.options);
        if (r.warmup) await opened.session.run(zeroFeeds(opened.session.inputs));
        instances.set(r.instance, { kind: 'session', session: opened.session, bound: {} });
        const value: LoadResult = {
          inputs: [...opened.session.inputs],
          outputs: [...opened.session.outputs],
          runtimeVersion: opened.runtimeVersion,
          ...(opened.fallback !== undefined ? { fallback: opened.fallback } : {}),
          loadMs: performance.now() - t0,
        };
        return { value };
      }
      case 'run': {
        const inst = instances.get(r.instance);
        if (!inst) throw new NotFoundError(`no instance '${r.instance}' is loaded in the ${init.name} lane`);
        if (inst.kind === 'thread') {
          // A relay (an instance on its own thread): the feeds came for this run alone and move on, and the
          // outputs move back, instead of being cloned at each hop.
          const value = await inst.lane.runWith({ ...r, transfer: true });
          return { value, transfer: transferables(value.outputs) };
        }
        const t0 = performance.now();
        const outputs = await inst.session.run(r.bound ? { ...inst.bound, ...r.feeds } : r.feeds);
        const value: RunResult = { outputs: r.discard ? {} : outputs, computeMs: performance.now() - t0 };
        return { value, transfer: r.discard ? [] : transferables(outputs) };
      }
      case 'bind': {
        const inst = instances.get(r.instance);
        if (!inst) throw new NotFoundError(`no instance '${r.instance}' is loaded in the ${init.name} lane`);
        if (inst.kind === 'thread') await inst.lane.bind(r.instance, r.feeds);
        else inst.bound = r.feeds;
        return { value: undefined };
      }
      case 'unload': {
        const inst = instances.get(r.instance);
        if (!inst) throw new NotFoundError(`no instance '${r.instance}' is loaded in the ${init.name} lane`);
        instances.delete(r.instance);
        if (inst.kind === 'thread') await inst.lane.close();
        else await inst.session.dispose();
        return { value: undefined };
      }
      case 'job': {
        const handler = jobHandler(r.kind);
        const controller = new AbortController();
        jobs.set(r.id, controller);
        try {
          return { value: await handler(r.payload, { signal: controller.signal, emit: (event) => void t.send({ id: r.id, type: 'event', event }) }) };
        } finally {
          jobs.delete(r.id);
        }
      }
      case 'cancel':
        jobs.get(r.request)?.abort();
        return { value: undefined };
      case 'stats':
        return { value: { pid: process.pid, rssBytes: process.memoryUsage().rss, instances: [...instances.keys()] } };
      case 'close': {
        abortAll();
        for (const [name, inst] of instances) {
          instances.delete(name);
          await (inst.kind === 'thread' ? inst.lane.close() : inst.session.dispose()).catch(() => undefined);
        }
        return { value: undefined };
      }
    }
  };

  t.onRequest((r) => {
    handle(r).then(
      async ({ value, transfer }) => {
        await t.send({ id: r.id, type: 'result', value }, transfer);
        if (r.op === 'close') process.exit(0); // native runtimes may hold handles open; the reply is sent
      },
      (err: unknown) => t.send({ id: r.id, type: 'error', error: errorRecord(err) }),
    );
  });
  await t.send({ id: READY_ID, type: 'result', value: { pid: process.pid } });
}

if (parentPort) {
  void serve(threadTransport(parentPort), workerData as HostInit);
} else if (process.send) {
  void serve(processTransport(), JSON.parse(process.argv[2] ?? '{}') as HostInit);
}
