/**
 * One-shot job kinds a host can execute (`Lane.job(kind, payload)`). A kind is a function of its payload,
 * given an AbortSignal (a 'cancel' request, SIGINT/SIGTERM in a process host) and an event sink whose
 * events stream back to the caller before the result. Built-in kinds load their modules lazily so a
 * host only pays for what it runs (bench's peak-RSS figure is the pair's). A server adds a kind with a
 * module that calls registerJob(), named in LaneOptions.jobModules so the host imports it at start.
 */
import { UsageError } from '../core/errors.js';
import type { BenchJob } from '../core/bench/types.js';
import type { ProbeJob } from '../core/devices/probe-run.js';

export interface JobContext {
  signal: AbortSignal;
  emit: (event: unknown) => void;
}

export type JobHandler = (payload: unknown, ctx: JobContext) => Promise<unknown>;

const table = new Map<string, JobHandler>();

export function registerJob(kind: string, handler: JobHandler): void {
  table.set(kind, handler);
}

export function jobKinds(): string[] {
  return [...table.keys()];
}

export function jobHandler(kind: string): JobHandler {
  const h = table.get(kind);
  if (!h) throw new UsageError(`unknown job kind '${kind}'`, `known kinds: ${jobKinds().join(', ')}`);
  return h;
}

registerJob('bench-pair', async (payload, ctx) => {
  const [{ benchPair }, { threadPoolOpener }] = await Promise.all([import('../core/bench/run-pair.js'), import('./session-pool.js')]);
  return benchPair(payload as BenchJob, { signal: ctx.signal, onEvent: ctx.emit, openPool: threadPoolOpener });
});

registerJob('probe', async (payload) => {
  const { runProbe } = await import('../core/devices/probe-run.js');
  return runProbe(payload as ProbeJob);
});
