/**
 * The one worker protocol, spoken between a lane (lane.ts) and its host (a child process or a worker
 * thread running worker-entry.ts). Every request carries an id; every reply carries its request's id.
 * A request gets any number of 'event' replies, then exactly one 'result' or 'error'.
 *
 * Messages are never JSON: a process host is forked with `serialization: 'advanced'` (V8's structured
 * clone), a thread host uses postMessage, so typed arrays (feeds, outputs, model bytes) cross as they are.
 */
import type { RuntimeTarget } from '../core/backends/ep-map.js';
import type { OpenOptions } from '../core/backends/registry.js';
import type { HostTensor, TensorSpec } from '../core/backends/types.js';

export type { HostTensor, OpenOptions, RuntimeTarget, TensorSpec };

/** A typed error as it crosses a boundary (core/errors.ts errorRecord / errorFromCode). */
export interface ErrorRecord {
  code: string;
  message: string;
  hint?: string;
}

export type Request =
  | { id: number; op: 'load'; instance: string; model: string | Uint8Array; target: RuntimeTarget; options: OpenOptions; warmup?: boolean }
  /** `bound`: the feeds go over those given by 'bind' (sent once per shape); `discard`: outputs are not sent back. */
  | { id: number; op: 'run'; instance: string; feeds: Record<string, HostTensor>; bound?: boolean; discard?: boolean }
  /** Keeps feeds in the host for later `run { bound: true }` requests (bench's timed loop sends no data). */
  | { id: number; op: 'bind'; instance: string; feeds: Record<string, HostTensor> }
  | { id: number; op: 'unload'; instance: string }
  /** One-shot jobs by kind ('bench-pair', 'probe', …): see jobs.ts. */
  | { id: number; op: 'job'; kind: string; payload: unknown }
  /** Asks the job with id `request` to stop early (its AbortSignal fires); the job still answers. */
  | { id: number; op: 'cancel'; request: number }
  | { id: number; op: 'stats' }
  | { id: number; op: 'close' };

export type Reply = { id: number; type: 'result'; value: unknown } | { id: number; type: 'error'; error: ErrorRecord } | { id: number; type: 'event'; event: unknown };

/** The value of a 'load' result. */
export interface LoadResult {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  runtimeVersion: string;
  fallback?: boolean;
  loadMs: number;
}

/** The value of a 'run' result. */
export interface RunResult {
  outputs: Record<string, HostTensor>;
  computeMs: number;
}

/** The value of a 'stats' result. */
export interface LaneStats {
  pid: number;
  rssBytes: number;
  instances: string[];
}

/** Sent once by a host when it is ready for requests (id 0). */
export const READY_ID = 0;

/** What a host is started with (argv[2] of a process host as JSON, workerData of a thread host). */
export interface HostInit {
  name: string;
  /** Run each instance on its own worker thread inside the host (process hosts only). */
  instancesConcurrent?: boolean;
  /** Extra job modules (file URLs) imported at start; each calls registerJob() from jobs.ts. */
  jobModules?: string[];
}

/** The ArrayBuffers behind a set of tensors, each once (for a postMessage transfer list). */
export function transferables(tensors: Readonly<Record<string, HostTensor>>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const t of Object.values(tensors)) {
    const b = t.data.buffer;
    if (b instanceof ArrayBuffer) seen.add(b);
  }
  return [...seen];
}
