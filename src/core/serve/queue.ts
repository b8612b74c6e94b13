/**
 * Admission for one served model version: a bounded FIFO queue in front of its instances. A request
 * waits until an instance is free; past `maxQueue` waiting requests it is refused at once (QueueFullError,
 * the server's 503 with Retry-After) so memory never grows without bound. A request whose deadline passes
 * or whose client goes away (its AbortSignal) while queued is dropped before it reaches a runtime.
 */
import { DeadlineExceededError, QueueFullError, RequestCancelledError } from './errors.js';

export interface QueueOptions {
  /** Instance ids; one request runs on each at a time. */
  instances: readonly string[];
  /** Requests allowed to wait (not counting those running). */
  maxQueue: number;
  clock?: () => number;
}

export interface Admission {
  signal?: AbortSignal | undefined;
  /** Absolute deadline on `clock`'s scale. */
  deadline?: number | undefined;
}

export interface QueueStats {
  pending: number;
  running: number;
  success: number;
  failure: number;
  rejected: number;
  cancelled: number;
  timedOut: number;
  /** Sums in ms, for means (Triton's cumulative duration counters). */
  queueMs: number;
  computeMs: number;
}

interface Waiter {
  resolve: (instance: string) => void;
  reject: (err: Error) => void;
  cleanup: () => void;
  enqueuedAt: number;
}

export class AdmissionQueue {
  private readonly free: string[];
  private readonly waiting: Waiter[] = [];
  private readonly clock: () => number;
  private closedWith: Error | undefined;
  private idleWaiters: (() => void)[] = [];
  readonly stats: QueueStats = { pending: 0, running: 0, success: 0, failure: 0, rejected: 0, cancelled: 0, timedOut: 0, queueMs: 0, computeMs: 0 };
  /** When the last request finished (or the queue was made): keep_alive counts idle time from here. */
  lastActive: number;

  constructor(private readonly opts: QueueOptions) {
    this.free = [...opts.instances];
    this.clock = opts.clock ?? (() => performance.now());
    this.lastActive = this.clock();
  }

  get size(): number {
    return this.opts.instances.length;
  }

  get busy(): boolean {
    return this.stats.running > 0 || this.waiting.length > 0;
  }

  /** Mean compute time per request so far (ms), for Retry-After estimates. */
  meanComputeMs(): number {
    const n = this.stats.success + this.stats.failure;
    return n ? this.stats.computeMs / n : 0;
  }

  /** Seconds until a slot is likely free: queue length × mean compute ÷ instances, at least 1. */
  retryAfterS(): number {
    return Math.max(1, Math.ceil(((this.waiting.length + 1) * this.meanComputeMs()) / this.size / 1000));
  }

  /**
   * Runs `work` on a free instance once one is available, in arrival order. `work` receives the instance
   * id; its result is returned with the time spent queued.
   */
  async run<T>(work: (instance: string) => Promise<{ value: T; computeMs: number }>, admission: Admission = {}): Promise<{ value: T; queueMs: number; computeMs: number }> {
    const t0 = this.clock();
    const instance = await this.acquire(admission, t0);
    const queueMs = this.clock() - t0;
    this.stats.queueMs += queueMs;
    this.stats.running++;
    try {
      const { value, computeMs } = await work(instance);
      this.stats.success++;
      this.stats.computeMs += computeMs;
      return { value, queueMs, computeMs };
    } catch (err) {
      this.stats.failure++;
      throw err;
    } finally {
      this.stats.running--;
      this.lastActive = this.clock();
      this.release(instance);
    }
  }

  private acquire(admission: Admission, t0: number): Promise<string> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (admission.signal?.aborted) {
      this.stats.cancelled++;
      return Promise.reject(new RequestCancelledError('the client went away before the request ran'));
    }
    if (admission.deadline !== undefined && t0 >= admission.deadline) {
      this.stats.timedOut++;
      return Promise.reject(new DeadlineExceededError('the request deadline passed before it was queued'));
    }
    const instance = this.free.shift();
    if (instance !== undefined && this.waiting.length === 0) return Promise.resolve(instance);
    if (instance !== undefined) this.free.unshift(instance);
    if (this.waiting.length >= this.opts.maxQueue) {
      this.stats.rejected++;
      return Promise.reject(new QueueFullError(`the queue is full (${this.opts.maxQueue} waiting)`, 'retry after the time in Retry-After, or raise max_queue for this model', this.retryAfterS()));
    }
    return new Promise<string>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = (): void => {
        this.remove(waiter);
        this.stats.cancelled++;
        reject(new RequestCancelledError('the client went away while the request was queued'));
      };
      const waiter: Waiter = {
        resolve,
        reject,
        enqueuedAt: t0,
        cleanup: () => {
          if (timer) clearTimeout(timer);
          admission.signal?.removeEventListener('abort', onAbort);
        },
      };
      if (admission.deadline !== undefined) {
        timer = setTimeout(
          () => {
            this.remove(waiter);
            this.stats.timedOut++;
            reject(new DeadlineExceededError(`the request waited ${Math.round(this.clock() - t0)} ms in the queue, past its deadline`, 'raise the timeout (parameters.timeout in µs, or --request-timeout), or add instances'));
          },
          Math.max(0, admission.deadline - t0),
        );
        timer.unref?.();
      }
      admission.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
      this.stats.pending = this.waiting.length;
    });
  }

  private remove(w: Waiter): void {
    const i = this.waiting.indexOf(w);
    if (i >= 0) this.waiting.splice(i, 1);
    w.cleanup();
    this.stats.pending = this.waiting.length;
  }

  private release(instance: string): void {
    const next = this.waiting.shift();
    this.stats.pending = this.waiting.length;
    if (next) {
      next.cleanup();
      next.resolve(instance);
      return;
    }
    this.free.push(instance);
    if (this.stats.running === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  /** Resolves when nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Refuses new requests with `err` and fails those still waiting with it; running ones finish. */
  close(err: Error): void {
    this.closedWith = err;
    for (const w of this.waiting.splice(0)) {
      w.cleanup();
      w.reject(err);
    }
    this.stats.pending = 0;
    if (!this.busy) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }
}
