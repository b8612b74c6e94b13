/**
 * Admission for one served model version: a bounded, prioritised queue in front of its instances. A
 * request waits until an instance is free; the order is the RequestScheduler's (priority levels served
 * strictly in order, clients taking turns within a level, FIFO per client). Past a level's
 * `max_queue_size` a request is refused at once (QueueFullError, the server's 503 with Retry-After) so
 * memory never grows without bound. A request whose deadline (or its level's timeout, `reject`) passes,
 * or whose client goes away (its AbortSignal), while queued is dropped before it reaches a runtime.
 *
 * With a Router (a version whose instances span several devices/lanes), a request is handed to the
 * instance the router chooses by measured speed and current queue: a free instance, or a faster busy one
 * whose predicted wait still meets the latency target (then it waits there, at most `maxAhead` deep, so
 * the backlog — and its priority order — stays in the scheduler). Instances the router has marked down
 * (their lane crashed) get nothing until they are marked up; requests routed ahead to one are routed again.
 */
import { DeadlineExceededError, QueueFullError, RequestCancelledError } from './errors.js';
import type { Held, Router } from './router.js';
import { RequestScheduler, type Entry, type SchedulerPolicy, type SchedulerStats } from './scheduler.js';

export interface QueueOptions {
  /** Instance ids; one request runs on each at a time. */
  instances: readonly string[];
  /** Requests allowed to wait (not counting those running): the default level's max queue. */
  maxQueue: number;
  clock?: () => number;
  /** Priority levels and per-level policies (Triton's names in the config); default: one level of `maxQueue`. */
  scheduler?: SchedulerPolicy;
  /** Routes over instances on several devices; without it a free instance takes the next request. */
  router?: Router;
  /** Most requests routed ahead to one busy instance (default 8). */
  maxAhead?: number;
}

export interface Admission {
  signal?: AbortSignal | undefined;
  /** Absolute deadline on `clock`'s scale. */
  deadline?: number | undefined;
  /** Priority level (1 = highest); undefined: the policy's default. */
  priority?: number | undefined;
  /** Fair-share key (clientFrom()). */
  client?: string | undefined;
  /** Rows in this request (a batch: its padded size); the router keeps costs per size. Default 1. */
  items?: number | undefined;
  /** What the batcher still holds behind this batch, read when it is routed (router.ts). */
  held?: (() => Held) | undefined;
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
  settled: boolean;
  entry?: Entry<Waiter> | undefined;
  /** Routed ahead to this busy instance. */
  assigned?: string | undefined;
  items: number;
  held?: (() => Held) | undefined;
}

/** The policy when the config names none: one level that holds `maxQueue`, refusing past it. */
export function singleLevel(maxQueue: number): SchedulerPolicy {
  return { levels: 1, defaultLevel: 1, fallback: { maxQueue, timeoutAction: 'reject' } };
}

export class AdmissionQueue {
  private readonly free: string[];
  private readonly sched: RequestScheduler<Waiter>;
  /** Per busy instance, requests routed to it ahead (router only). */
  private readonly ahead = new Map<string, Waiter[]>();
  /** Requests routed ahead to an instance that went down: served before the scheduler's. */
  private readonly retry: Waiter[] = [];
  private readonly clock: () => number;
  private readonly router: Router | undefined;
  private readonly maxAhead: number;
  private closedWith: Error | undefined;
  private idleWaiters: (() => void)[] = [];
  readonly stats: QueueStats = { pending: 0, running: 0, success: 0, failure: 0, rejected: 0, cancelled: 0, timedOut: 0, queueMs: 0, computeMs: 0 };
  /** When the last request finished (or the queue was made): keep_alive counts idle time from here. */
  lastActive: number;

  constructor(private readonly opts: QueueOptions) {
    this.free = [...opts.instances];
    this.clock = opts.clock ?? (() => performance.now());
    this.router = opts.router;
    this.maxAhead = opts.maxAhead ?? 8;
    this.sched = new RequestScheduler<Waiter>(opts.scheduler ?? singleLevel(opts.maxQueue), this.clock);
    this.lastActive = this.clock();
  }

  get size(): number {
    return this.opts.instances.length;
  }

  get policy(): SchedulerPolicy {
    return this.sched.policy;
  }

  get busy(): boolean {
    return this.stats.running > 0 || this.waitingCount() > 0;
  }

  private waitingCount(): number {
    let n = this.sched.size + this.retry.length;
    for (const q of this.ahead.values()) n += q.length;
    return n;
  }

  private updatePending(): void {
    this.stats.pending = this.waitingCount();
  }

  /** Per level and per client: admitted, refused, timed out, delayed, dispatched (GET /v2/models/{m}/stats). */
  schedulerStats(): SchedulerStats {
    return this.sched.stats();
  }

  /** Mean compute time per request so far (ms), for Retry-After estimates. */
  meanComputeMs(): number {
    const n = this.stats.success + this.stats.failure;
    return n ? this.stats.computeMs / n : 0;
  }

  /**
   * Seconds a refused request of level `level` should wait before retrying: its predicted wait had it
   * been admitted (the requests ahead of it — every level up to its own, and those already routed to an
   * instance — plus itself, × the mean compute ÷ instances), rounded up, at least 1. Without a level:
   * everything waiting.
   */
  retryAfterS(level?: number): number {
    const ahead = level === undefined ? this.waitingCount() : this.sched.aheadOf(level) + this.waitingCount() - this.sched.size;
    return Math.max(1, Math.ceil(((ahead + 1) * this.meanComputeMs()) / this.size / 1000));
  }

  /** The 503 for a full level (the scheduler's message; the old wording with one level) with its Retry-After. */
  private fullError(e: QueueFullError, level: number): QueueFullError {
    return new QueueFullError(
      this.sched.policy.levels === 1 ? `the queue is full (${this.sched.size} waiting)` : e.message,
      'retry after the time in Retry-After, or raise max_queue (priority_queue_policy.max_queue_size) for this model',
      this.retryAfterS(level),
    );
  }

  /**
   * The refusal run() would give this request now (its level full, no fair-share place to take), counted
   * as one, or undefined when run() might admit it: the server asks before it reads the request's body,
   * so shedding costs no body read, no parse and no decode.
   */
  refuseEarly(admission: Pick<Admission, 'priority' | 'client'>): QueueFullError | undefined {
    if (this.closedWith || this.waitingCount() === 0 || !this.sched.wouldRefuse(admission.priority, admission.client)) return undefined;
    this.stats.rejected++;
    const level = admission.priority ?? this.sched.policy.defaultLevel;
    return this.fullError(this.sched.refuse(level), level);
  }

  /**
   * Runs `work` on an instance once one is available, in the scheduler's order. `work` receives the
   * instance id; its result is returned with the time spent queued.
   */
  async run<T>(
    work: (instance: string) => Promise<{ value: T; computeMs: number }>,
    admission: Admission = {},
  ): Promise<{ value: T; queueMs: number; computeMs: number; instance: string }> {
    const t0 = this.clock();
    const instance = await this.acquire(admission, t0);
    const queueMs = this.clock() - t0;
    this.stats.queueMs += queueMs; // `running` was counted when the instance was handed over
    // The router learns each instance's whole service time (compute + the trip to its lane and back):
    // that, not the compute alone, is what bounds the instance's throughput.
    let serviceMs: number | undefined;
    const tStart = this.clock();
    try {
      const r = await work(instance);
      serviceMs = Math.max(r.computeMs, this.clock() - tStart);
      this.stats.success++;
      this.stats.computeMs += r.computeMs;
      return { value: r.value, queueMs, computeMs: r.computeMs, instance };
    } catch (err) {
      this.stats.failure++;
      throw err;
    } finally {
      this.stats.running--;
      this.lastActive = this.clock();
      this.router?.finished(instance, serviceMs, admission.items ?? 1);
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
    return new Promise<string>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = (): void => {
        if (!this.unqueue(waiter)) return;
        this.stats.cancelled++;
        waiter.settled = true;
        waiter.cleanup();
        reject(new RequestCancelledError('the client went away while the request was queued'));
      };
      const waiter: Waiter = {
        resolve,
        reject,
        enqueuedAt: t0,
        settled: false,
        items: admission.items ?? 1,
        held: admission.held,
        cleanup: () => {
          if (timer) clearTimeout(timer);
          timer = undefined;
          admission.signal?.removeEventListener('abort', onAbort);
        },
      };
      // Nothing waits ahead of it: a free instance (or a faster busy one, with a router) takes it now.
      const placed = this.waitingCount() === 0 && this.place(waiter);
      if (waiter.settled) return;
      let level = admission.priority ?? this.sched.policy.defaultLevel;
      if (!placed) {
        let pushed: ReturnType<RequestScheduler<Waiter>['push']>;
        try {
          pushed = this.sched.push(waiter, { priority: admission.priority, client: admission.client, deadline: admission.deadline });
        } catch (err) {
          this.stats.rejected++;
          const e = err as Error;
          reject(e instanceof QueueFullError ? this.fullError(e, level) : e);
          return;
        }
        waiter.entry = pushed.entry;
        level = pushed.entry.level;
        if (pushed.evicted) {
          const victim = pushed.evicted.entry.item;
          victim.entry = undefined;
          this.stats.rejected++;
          victim.settled = true;
          victim.cleanup();
          victim.reject(
            new QueueFullError(
              pushed.evicted.error.message,
              'retry after the time in Retry-After; this client holds more than its share of the queue',
              this.retryAfterS(level),
            ),
          );
        }
      }
      // The request's own deadline, or its level's timeout when that rejects: dropped when it passes.
      const lp = this.sched.levelPolicy(level);
      const levelEnd = lp.timeoutMs !== undefined && lp.timeoutAction === 'reject' ? t0 + lp.timeoutMs : undefined;
      const end = Math.min(admission.deadline ?? Infinity, levelEnd ?? Infinity);
      if (Number.isFinite(end)) {
        const arm = (ms: number): void => {
          timer = setTimeout(
            () => {
              timer = undefined;
              if (waiter.settled) return;
              if (waiter.assigned !== undefined || waiter.entry === undefined) this.dropWaiter(waiter);
              else {
                this.settleDropped(this.sched.expire());
                if (!waiter.settled) arm(1); // the clocks disagree by a fraction of a ms: look again
              }
            },
            Math.max(0, ms),
          );
          timer.unref?.();
        };
        arm(end - t0);
      }
      admission.signal?.addEventListener('abort', onAbort, { once: true });
      this.updatePending();
      if (!placed) this.pump();
    });
  }

  /** A routed-ahead request whose deadline passed. */
  private dropWaiter(w: Waiter): void {
    if (!this.unqueue(w)) return;
    this.stats.timedOut++;
    w.settled = true;
    w.cleanup();
    w.reject(
      new DeadlineExceededError(
        `the request waited ${Math.round(this.clock() - w.enqueuedAt)} ms in the queue, past its deadline`,
        'raise the timeout (parameters.timeout in µs, or --request-timeout), or add instances',
      ),
    );
  }

  private settleDropped(dropped: readonly { entry: Entry<Waiter>; error: Error }[]): void {
    for (const d of dropped) {
      const w = d.entry.item;
      if (w.settled) continue;
      w.settled = true;
      w.entry = undefined;
      this.stats.timedOut++;
      w.cleanup();
      w.reject(
        new DeadlineExceededError(
          d.error.message,
          "raise the timeout (parameters.timeout in µs, the priority level's timeout, or --request-timeout), or add instances",
        ),
      );
    }
    if (dropped.length) this.updatePending();
  }

  /** Takes `w` out of wherever it waits; false when it was not waiting. */
  private unqueue(w: Waiter): boolean {
    let found = false;
    if (w.assigned !== undefined) {
      const q = this.ahead.get(w.assigned);
      const i = q ? q.indexOf(w) : -1;
      if (q && i >= 0) {
        q.splice(i, 1);
        this.router?.unqueued(w.assigned, w.items);
        found = true;
      }
      w.assigned = undefined;
    } else if (w.entry) {
      found = this.sched.remove(w.entry);
      w.entry = undefined;
    } else {
      const i = this.retry.indexOf(w);
      if (i >= 0) {
        this.retry.splice(i, 1);
        found = true;
      }
    }
    this.updatePending();
    return found;
  }

  /**
   * Whether a batch of `items` handed over now would start at once: the instance the router would pick is
   * free (router only; always true without one). The batcher asks before it forms a batch while another is
   * in flight: a batch the router would queue on a busy fast instance is better left unformed, its items
   * gathering into a fuller batch until that instance frees, as with one instance (H200 + CPU: with batches
   * formed for every slot the GPU's mean batch fell from 31.7 to 13.9 and its req/s to 0.68 of alone).
   */
  wouldStartSoon(items: number, held?: () => { items: number; batchSize: number }): boolean {
    if (!this.router) return true;
    if (this.sched.size + this.retry.length > 0) return false; // batches already wait here for an instance
    if (!this.router.ids().some((id) => this.router?.isUp(id))) return true; // let it fail as usual
    const h = held?.();
    try {
      const d = this.router.route({
        eligible: this.canTake,
        items,
        ...(h && h.items > 0 ? { held: h } : {}),
        dry: true,
      });
      return this.isFree(d.instance);
    } catch {
      return true;
    }
  }

  /** An instance a request may be routed to now: free, or with room in the line routed ahead to it. */
  private readonly canTake = (id: string): boolean => this.isFree(id) || (this.ahead.get(id)?.length ?? 0) < this.maxAhead;

  private isFree(id: string): boolean {
    return this.free.includes(id);
  }

  private hasFreeUp(): boolean {
    return this.router ? this.free.some((id) => this.router?.isUp(id)) : this.free.length > 0;
  }

  /**
   * Hands `w` to an instance: a free one, or (router) a busy faster one it waits for. False when none
   * can take it now (nothing free, or everything down).
   */
  private place(w: Waiter): boolean {
    if (!this.hasFreeUp()) return false;
    if (!this.router) {
      this.start(w, this.free.shift() as string);
      return true;
    }
    // Work behind it that no instance holds yet: the batcher's items, and the requests waiting here
    // (counted as the same size as this one).
    const fromBatcher = w.held?.();
    const waiting = this.sched.size + this.retry.length;
    const held: Held | undefined =
      fromBatcher || waiting ? { items: (fromBatcher?.items ?? 0) + waiting * w.items, batchSize: fromBatcher?.batchSize ?? w.items } : undefined;
    const d = this.router.route({
      eligible: this.canTake,
      items: w.items,
      ...(held ? { held } : {}),
    });
    if (this.isFree(d.instance)) {
      this.free.splice(this.free.indexOf(d.instance), 1);
      this.start(w, d.instance);
      return true;
    }
    let q = this.ahead.get(d.instance);
    if (!q) this.ahead.set(d.instance, (q = []));
    w.assigned = d.instance;
    q.push(w);
    this.updatePending();
    return true;
  }

  private start(w: Waiter, instance: string): void {
    w.settled = true;
    w.assigned = undefined;
    w.entry = undefined;
    w.cleanup();
    this.stats.running++;
    this.router?.started(instance, w.items);
    w.resolve(instance);
  }

  /** Hands waiting requests to instances while some instance is free. */
  private pump(): void {
    while (this.hasFreeUp()) {
      const again = this.retry.shift();
      if (again) {
        this.place(again);
        continue;
      }
      const { entry, dropped } = this.sched.next();
      this.settleDropped(dropped);
      if (!entry) break;
      const w = entry.item;
      w.entry = undefined;
      this.place(w);
    }
    this.updatePending();
  }

  private release(instance: string): void {
    const q = this.ahead.get(instance);
    const next = q?.shift();
    if (next && this.router?.isUp(instance) !== false) {
      this.start(next, instance);
      this.updatePending();
      return;
    }
    if (next) this.retry.push(next);
    this.free.push(instance);
    this.pump();
    if (this.stats.running === 0 && !this.busy) this.wakeIdle();
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** The router marked `instance` down (its lane crashed): what waited for it is routed again. */
  instanceDown(instance: string): void {
    const q = this.ahead.get(instance);
    if (q?.length) {
      for (const w of q.splice(0)) {
        w.assigned = undefined;
        this.retry.push(w);
      }
    }
    this.pump();
  }

  /** The router marked `instance` up again: waiting requests may go there. */
  instanceUp(_instance: string): void {
    this.pump();
  }

  /** Resolves when nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Refuses new requests with `err` and fails those still waiting with it; running ones finish. */
  close(err: Error): void {
    this.closedWith = err;
    const all = [...this.sched.ordered().map((e) => e.item), ...this.retry.splice(0), ...[...this.ahead.values()].flatMap((q) => q.splice(0))];
    for (const e of this.sched.ordered()) this.sched.remove(e);
    for (const w of all) {
      if (w.settled) continue;
      w.settled = true;
      w.cleanup();
      w.reject(err);
    }
    this.stats.pending = 0;
    if (!this.busy) this.wakeIdle();
  }
}
