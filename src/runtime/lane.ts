/**
 * A long-lived worker lane for one (device, backend): a host — a child process (default) or a worker
 * thread — that speaks the protocol in protocol.ts, and the promise-per-request bookkeeping around it.
 *
 * A process host is started with the target's environment (VK_DRIVER_FILES, CUDA_DEVICE_ORDER, …) merged
 * into the parent's: that is how a device is pinned, since native runtimes read it once at load. A thread
 * host shares its process's environment and memory; it cannot pin a device, a native crash in it takes
 * the process down, and it cannot be killed mid-call: kill() (and a timeout) detach it, and it exits
 * once its current call returns (use it for CPU work and for instances inside a process lane).
 *
 * When a host dies unexpectedly the lane emits 'exit' ({ code, signal, stderrTail, reason }) and every
 * request in flight rejects with LaneCrashedError, worded "the <name> lane exited (signal SIGSEGV) while
 * running <instance>: <last stderr line>".
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { RuntimeTarget } from '../core/backends/ep-map.js';
import type { OpenOptions } from '../core/backends/registry.js';
import type { HostTensor } from '../core/backends/types.js';
import { errorFromCode, LaneCrashedError, UsageError } from '../core/errors.js';
import { READY_ID, transferables, type HostInit, type LaneStats, type LoadResult, type Reply, type Request, type RunResult } from './protocol.js';

export interface LaneOptions {
  name: string;
  target: RuntimeTarget;
  host?: 'process' | 'thread';
  /** Extra environment for a process host, over baseEnv and the target's own. */
  env?: Record<string, string>;
  /** The environment a process host starts from (default: this process's). */
  baseEnv?: Readonly<Record<string, string | undefined>>;
  /** Each instance on its own thread inside a process host, so instances run concurrently. */
  instancesConcurrent?: boolean;
  /** Extra job modules (file URLs) the host imports at start (see jobs.ts). */
  jobModules?: string[];
  /** Each line a process host writes to stderr (native runtimes' logs), as it arrives. */
  onStderr?: (line: string) => void;
  /** How long close() waits for a graceful exit before it kills the host (default 5 s). */
  closeGraceMs?: number;
}

export interface LaneExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
  reason: string;
}

export interface JobOptions {
  /** Kills the host when the job has not answered in time; it rejects with "timed out after N ms". */
  timeoutMs?: number;
  /** Asks the job to stop early (a 'cancel' request); it still answers with what it has. */
  signal?: AbortSignal;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onEvent?: ((e: unknown) => void) | undefined;
  what: string;
}

/** A started host: one child process or one worker thread. */
interface Host {
  readonly pid: number;
  post(r: Request, transfer?: ArrayBuffer[]): void;
  kill(): void;
}

/** A request without its id (distributed over the union). */
type Body = Request extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

const TAIL_BYTES = 8 * 1024;
const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

/** The worker entry, compiled; under tsx (tests run from source) the TypeScript one. */
const fromSource = import.meta.url.endsWith('.ts');
const entryUrl = new URL(fromSource ? './worker-entry.ts' : './worker-entry.js', import.meta.url);

export class Lane extends EventEmitter {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private host: Host | undefined;
  private dead = false;
  private closing = false;
  private stderrTail = '';
  private timedOut: string | undefined;
  private exited: Promise<void>;
  private markExited: () => void = () => undefined;

  private constructor(readonly options: LaneOptions) {
    super();
    this.exited = new Promise((r) => (this.markExited = r));
  }

  get name(): string {
    return this.options.name;
  }

  get alive(): boolean {
    return !this.dead && !this.closing;
  }

  get pid(): number | undefined {
    return this.host?.pid;
  }

  static async start(opts: LaneOptions): Promise<Lane> {
    const lane = new Lane(opts);
    const ready = new Promise<unknown>((resolve, reject) => lane.pending.set(READY_ID, { resolve, reject, what: 'starting' }));
    const init: HostInit = {
      name: opts.name,
      ...(opts.instancesConcurrent ? { instancesConcurrent: true } : {}),
      ...(opts.jobModules ? { jobModules: opts.jobModules } : {}),
    };
    lane.host = (opts.host ?? 'process') === 'thread' ? lane.startThread(init) : lane.startProcess(init);
    await ready;
    return lane;
  }

  private startProcess(init: HostInit): Host {
    const o = this.options;
    const env: NodeJS.ProcessEnv = { ...(o.baseEnv ?? process.env), ...(o.target.runtime === 'onnxruntime' ? o.target.env : {}), ...o.env };
    env['XDG_RUNTIME_DIR'] ??= '/tmp'; // Dawn needs one on Linux
    const child: ChildProcess = fork(fileURLToPath(entryUrl), [JSON.stringify(init)], {
      env,
      execArgv: fromSource ? ['--import', 'tsx'] : [],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let partial = '';
    child.stderr?.setEncoding('utf8').on('data', (c: string) => {
      this.stderrTail = (this.stderrTail + c).slice(-TAIL_BYTES);
      const lines = (partial + c).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) o.onStderr?.(l);
    });
    child.on('message', (m: Reply) => this.onReply(m));
    child.on('error', (err) => this.onExit(null, null, `could not start: ${err.message}`));
    child.on('close', (code, signal) => {
      if (partial.trim()) o.onStderr?.(partial);
      this.onExit(code, signal);
    });
    return {
      pid: child.pid ?? 0,
      post: (r) => {
        if (child.connected) child.send(r);
      },
      kill: () => void child.kill('SIGKILL'),
    };
  }

  private startThread(init: HostInit): Host {
    // A thread shares the process's environment: the device's variables (CUDA_DEVICE_ORDER, VK_DRIVER_FILES)
    // are set process-wide when unset, and a device that needs a different value than the process has
    // cannot run on a thread.
    const o = this.options;
    const want = { ...(o.target.runtime === 'onnxruntime' ? o.target.env : {}), ...o.env };
    for (const [k, v] of Object.entries(want)) {
      if (process.env[k] === undefined) process.env[k] = v;
      else if (process.env[k] !== v)
        throw new UsageError(
          `the ${o.name} lane needs ${k}=${v}, but this process has ${k}=${process.env[k]}: a thread lane shares the process's environment`,
          'serve this device with --lane process',
        );
    }
    let worker: Worker;
    if (fromSource) {
      const code = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entryUrl.href)}); })`;
      worker = new Worker(code, { eval: true, workerData: init });
    } else {
      worker = new Worker(entryUrl, { workerData: init });
    }
    let error: string | undefined;
    worker.on('message', (m: Reply) => this.onReply(m));
    worker.on('error', (err) => (error = err.message));
    worker.on('exit', (code) => this.onExit(code, null, error));
    return {
      pid: process.pid,
      post: (r, transfer) => worker.postMessage(r, transfer ?? []),
      // worker.terminate() during a native call (a session run) aborts the whole process
      // (onnxruntime-node: "terminate called after throwing an instance of 'Napi::Error'"). So a thread
      // host is detached instead: its requests reject now, and it exits once its current call returns.
      kill: () => {
        worker.postMessage({ id: -1, op: 'close' } satisfies Request);
        this.onExit(null, null, 'stopped');
      },
    };
  }

  private onReply(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'event') {
      p.onEvent?.(m.event);
      return;
    }
    this.pending.delete(m.id);
    if (m.type === 'result') p.resolve(m.value);
    else p.reject(errorFromCode(m.error.code, m.error.message, m.error.hint));
  }

  /** The stderr line that says what went wrong: the last error line, past Node's stack frames and version banner. */
  private lastStderrLine(): string {
    const noise = /^(Node\.js v\d|\s+at |\s*[{}]|\s+\w+: |\s*\^+\s*$|\s*throw )/;
    const lines = stripAnsi(this.stderrTail)
      .split('\n')
      .filter((l) => l.trim() && !noise.test(l));
    const error = lines.findLast((l) => /error|exception|abort|assert|fatal|segmentation/i.test(l));
    return (error ?? lines.at(-1) ?? '').trim().slice(0, 300);
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, why?: string): void {
    if (this.dead) return;
    this.dead = true;
    const how = why ?? (signal ? `signal ${signal}` : `code ${code ?? '?'}`);
    const last = this.lastStderrLine();
    const word = (what: string): string => this.timedOut ?? `the ${this.name} lane exited (${how}) while ${what}${last ? `: ${last}` : ''}`;
    const inFlight = [...this.pending.values()];
    this.pending.clear();
    const expected = this.closing && this.timedOut === undefined;
    for (const p of inFlight) p.reject(new LaneCrashedError(expected ? `the ${this.name} lane was closed while ${p.what}` : word(p.what)));
    if (!expected) {
      const reason = this.timedOut ?? (inFlight[0] ? word(inFlight[0].what) : `the ${this.name} lane exited (${how})${last ? `: ${last}` : ''}`);
      const exit: LaneExit = { code, signal, stderrTail: this.stderrTail, reason };
      if (this.listenerCount('exit') > 0) this.emit('exit', exit);
    }
    this.markExited();
  }

  private request<T>(
    r: Body,
    what: string,
    opts: { transfer?: ArrayBuffer[]; onEvent?: (e: unknown) => void; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
    if (!this.host || this.dead) return Promise.reject(new LaneCrashedError(`the ${this.name} lane is not running (${this.timedOut ?? 'it exited'})`));
    if (this.closing) return Promise.reject(new LaneCrashedError(`the ${this.name} lane is closing`));
    const id = this.nextId++;
    const host = this.host;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const stop = (): void => host.post({ id: this.nextId++, op: 'cancel', request: id });
      const done = (): void => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', stop);
      };
      this.pending.set(id, {
        resolve: (v) => (done(), resolve(v as T)),
        reject: (e) => (done(), reject(e)),
        onEvent: opts.onEvent,
        what,
      });
      if (opts.timeoutMs !== undefined) {
        const ms = opts.timeoutMs;
        timer = setTimeout(() => {
          this.timedOut = `the ${this.name} lane timed out after ${ms} ms while ${what}; it was stopped`;
          host.kill();
        }, ms);
      }
      try {
        host.post({ ...r, id } as Request, opts.transfer);
      } catch (err) {
        this.pending.delete(id);
        done();
        reject(err as Error);
        return;
      }
      if (opts.signal?.aborted) stop();
      else opts.signal?.addEventListener('abort', stop);
    });
  }

  load(instance: string, model: string | Uint8Array, options: OpenOptions & { warmup?: boolean } = {}): Promise<LoadResult> {
    const { warmup, ...open } = options;
    return this.request({ op: 'load', instance, model, target: this.options.target, options: open, ...(warmup ? { warmup } : {}) }, `loading ${instance}`);
  }

  /**
   * In a thread lane the feeds' buffers are copied, not transferred: the caller keeps them. `timeoutMs`
   * stops the host when the run has not answered in time (as for job()).
   */
  run(instance: string, feeds: Record<string, HostTensor>, opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    return this.request({ op: 'run', instance, feeds }, `running ${instance}`, opts);
  }

  /** run() that hands the feeds' buffers over to a thread host instead of copying them (they detach here). */
  runTransfer(instance: string, feeds: Record<string, HostTensor>): Promise<RunResult> {
    return this.request({ op: 'run', instance, feeds }, `running ${instance}`, { transfer: transferables(feeds) });
  }

  /** Keeps `feeds` in the host for runWith({ bound: true }) (sent once, not with every request). */
  bind(instance: string, feeds: Record<string, HostTensor>): Promise<void> {
    return this.request({ op: 'bind', instance, feeds }, `binding ${instance}`);
  }

  /**
   * run() with the protocol's options: `bound` (over the feeds given to bind()), `discard` (no outputs back);
   * `transfer`: the feeds' buffers are handed over to a thread host (they detach here), as runTransfer().
   */
  runWith(r: { instance: string; feeds: Record<string, HostTensor>; bound?: boolean; discard?: boolean; transfer?: boolean }): Promise<RunResult> {
    return this.request(
      { op: 'run', instance: r.instance, feeds: r.feeds, ...(r.bound ? { bound: true } : {}), ...(r.discard ? { discard: true } : {}) },
      `running ${r.instance}`,
      r.transfer ? { transfer: transferables(r.feeds) } : {},
    );
  }

  unload(instance: string): Promise<void> {
    return this.request({ op: 'unload', instance }, `unloading ${instance}`);
  }

  job<T>(kind: string, payload: unknown, onEvent?: (e: unknown) => void, opts: JobOptions = {}): Promise<T> {
    return this.request({ op: 'job', kind, payload }, `running job ${kind}`, { ...(onEvent ? { onEvent } : {}), ...opts });
  }

  stats(): Promise<LaneStats> {
    return this.request({ op: 'stats' }, 'reading stats');
  }

  /** Graceful: the host disposes its sessions and exits; after the grace period it is killed. */
  async close(): Promise<void> {
    if (this.dead || !this.host) return;
    if (!this.closing) {
      const host = this.host;
      const id = this.nextId++;
      this.pending.set(id, { resolve: () => undefined, reject: () => undefined, what: 'closing' });
      this.closing = true;
      host.post({ id, op: 'close' });
      const timer = setTimeout(() => host.kill(), this.options.closeGraceMs ?? 5000);
      void this.exited.then(() => clearTimeout(timer));
    }
    await this.exited;
  }

  /** Kills the host at once (requests in flight reject as crashed; 'exit' is emitted). */
  kill(): void {
    this.host?.kill();
  }
}
