/**
 * Dynamic batching for one served model version (Triton's dynamic batcher, docs/user_guide/batcher.md):
 * requests queued while every instance is busy, or within `maxQueueDelayMs` of the oldest one, are
 * concatenated along the batch dimension (dim 0 of every input), run as one, and the outputs split back
 * by each request's share of dim 0. A batch is sent as soon as it reaches a preferred size (or the
 * largest size that fits), else when the oldest request has waited `maxQueueDelayMs`.
 *
 * Adaptive mode chooses the window and the target batch size itself from a latency target (e.g. p95 ≤
 * 50 ms) and the measured cost of each batch size — the median of its last few runs, learned online
 * (a shape's first run is never learned: on the CUDA EP it pays cuDNN's algorithm search and arena
 * growth, ~0.5–1 s) and seeded by the registry's warm-up (`seedCosts`) or `aivmm bench --batch` results. It picks the size with the best items/ms whose
 * predicted latency, fill time + compute, stays inside the target, and shrinks its window whenever the
 * observed quantile breaks the target. Its current choice is in `stats()`.
 *
 * With `pad`, the batcher only forms sizes from a small known candidate set (`candidateSizes`: 1, powers
 * of two, the preferred sizes, max_batch_size): a batch is padded up to the next candidate with copies of
 * its last row, whose outputs are dropped. So the set of shapes the backend sees is small and can be
 * warmed up at load (Triton's model_warmup).
 *
 * Only models whose first input dimension is dynamic (-1) can be batched: `batchable()` says which.
 * Pure: the clock and timers are injected, the run function is given; nothing here opens a session.
 */
import type { HostTensor, TensorSpec, TypedData } from '../backends/types.js';
import { BadRequestError, DeadlineExceededError, QueueFullError, RequestCancelledError } from './errors.js';
import { InferenceError } from '../errors.js';
import { RequestScheduler, type Entry, type SchedulerPolicy, type SchedulerStats } from './scheduler.js';
import { estimateCost } from './costs.js';

/** What a batch is admitted with downstream: the most urgent priority among its requests. */
export interface BatchAdmission {
  priority?: number | undefined;
  /** Rows the backend runs (the batch, padded). */
  items?: number | undefined;
  /**
   * What the batcher still holds behind this batch, read when the batch is routed: the items waiting
   * and the batch size it would take them in (a router over several instances counts them as work ahead).
   */
  held?: (() => HeldWork) | undefined;
}

/** Items waiting in the batcher, and the size of the batches it would form from them. */
export interface HeldWork {
  items: number;
  batchSize: number;
}

export type RunBatch = (feeds: Record<string, HostTensor>, admission?: BatchAdmission) => Promise<{ outputs: Record<string, HostTensor>; computeMs: number }>;

export interface BatcherClock {
  now(): number;
  /** Calls fn after ms; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const realClock: BatcherClock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

export interface AdaptiveOptions {
  /** Latency (ms) the chosen quantile must stay under: queue wait + compute. */
  targetMs: number;
  /** 0.95 or 0.99. */
  quantile: number;
  /** Known costs (ms per batch of that size), e.g. from `aivmm bench --batch 1,8,32` p50s. */
  seedCosts?: Record<number, number>;
}

export interface BatcherOptions {
  maxBatchSize: number;
  preferredBatchSizes?: number[];
  /** Longest a request waits for others to join its batch (fixed mode). */
  maxQueueDelayMs: number;
  /** Batches in flight at once (the instances). */
  concurrency: number;
  /** Requests allowed to wait; past it submit() refuses (the server's 503). */
  maxQueue?: number;
  /**
   * Priority levels, per-level queue limits and timeouts, per-client fair share (RequestScheduler): a
   * batch takes the most urgent waiting requests first. Default: one level of `maxQueue`.
   */
  scheduler?: SchedulerPolicy;
  adaptive?: AdaptiveOptions;
  clock?: BatcherClock;
  /** Pad every batch up to the next candidate size (rows copied from the last item, outputs dropped). */
  pad?: boolean;
  /** Runs per size the cost is the median of (default 7). */
  costWindow?: number;
  /**
   * Asked before a batch is formed while another is in flight: would a batch of this many rows start now
   * where it would be routed (that instance is free)? false: the items wait and join a later, fuller batch
   * (AdmissionQueue.wouldStartSoon, for instances on several devices).
   */
  canDispatch?: (items: number, held: () => HeldWork) => boolean;
}

/** The batch sizes the batcher forms when padding: 1, powers of two below max, the preferred sizes, max. */
export function candidateSizes(maxBatchSize: number, preferred: readonly number[] = []): number[] {
  const c = new Set<number>([1, ...preferred, maxBatchSize]);
  for (let b = 2; b < maxBatchSize; b *= 2) c.add(b);
  return [...c].filter((b) => b >= 1 && b <= maxBatchSize).sort((x, y) => x - y);
}

/** Feeds of `size` rows padded to `to` rows with copies of the last row (dim 0 of every input). */
export function padFeeds(feeds: Record<string, HostTensor>, size: number, to: number): Record<string, HostTensor> {
  if (to <= size) return feeds;
  const out: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    const per = t.data.length / size;
    const Ctor = t.data.constructor as new (n: number) => TypedData;
    const data = new Ctor(per * to);
    const set = data as unknown as { set(a: ArrayLike<unknown>, o: number): void };
    set.set(t.data as unknown as ArrayLike<unknown>, 0);
    const last = t.data.slice((size - 1) * per, size * per) as unknown as ArrayLike<unknown>;
    for (let r = size; r < to; r++) set.set(last, r * per);
    out[name] = { type: t.type, dims: [to, ...t.dims.slice(1)], data };
  }
  return out;
}

/** Models whose every input has a dynamic first dimension (and whose outputs do too) can be batched. */
export function batchable(inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): boolean {
  const dyn = (t: TensorSpec): boolean => t.shape.length > 0 && (t.shape[0] === -1 || typeof t.shape[0] === 'string');
  return inputs.length > 0 && inputs.every(dyn) && outputs.every(dyn);
}

interface Pending {
  feeds: Record<string, HostTensor>;
  size: number;
  signature: string;
  enqueuedAt: number;
  deadline?: number | undefined;
  signal?: AbortSignal | undefined;
  entry?: Entry<Pending>;
  resolve: (r: BatchResult) => void;
  reject: (e: Error) => void;
}

export interface BatchResult {
  outputs: Record<string, HostTensor>;
  queueMs: number;
  computeMs: number;
  /** Items in the batch this request ran in. */
  batchSize: number;
}

export interface BatcherStats {
  requests: number;
  batches: number;
  items: number;
  meanBatchSize: number;
  /** Batches by size (items from requests). */
  sizes: Record<number, number>;
  /** Padding: the sizes batches are padded to, and the rows added in all. */
  candidates?: number[];
  paddedRows?: number;
  pending: number;
  inFlight: number;
  /** The cost per batch size (ms: median of the last runs, or the seed) and how many runs each rests on. */
  costs: Record<number, { ms: number; n: number }>;
  mode: 'fixed' | 'adaptive';
  /** The current choice: how long a batch waits, what size it waits for, and the most it takes when more are already queued. */
  windowMs: number;
  targetBatchSize: number;
  maxTake: number;
  /** Adaptive: the observed latency quantile over the recent requests, and the target. */
  observedMs?: number;
  targetMs?: number;
  /**
   * With priority levels: the most lower-priority items a batch takes while top-priority (level 1) work
   * waits or arrived recently (null: no cap now), and how many batches that cap cut short.
   */
  lowCap?: number | null;
  lowCappedBatches?: number;
}

function signatureOf(feeds: Record<string, HostTensor>): { size: number; signature: string } {
  const names = Object.keys(feeds).sort();
  let size: number | undefined;
  const parts: string[] = [];
  for (const n of names) {
    const t = feeds[n] as HostTensor;
    if (t.dims.length === 0) throw new BadRequestError(`input '${n}' is a scalar; a batched model needs a batch dimension`);
    const b = t.dims[0] as number;
    if (size === undefined) size = b;
    else if (b !== size) throw new BadRequestError(`inputs disagree on the batch dimension (${size} vs ${b} in '${n}')`);
    parts.push(`${n}:${t.type}:${t.dims.slice(1).join('x')}`);
  }
  if (size === undefined || size < 1) throw new BadRequestError('a request needs at least one input with a batch of at least 1');
  return { size, signature: parts.join('|') };
}

function concatData(parts: readonly TypedData[]): TypedData {
  const first = parts[0] as TypedData;
  if (parts.length === 1) return first;
  const total = parts.reduce((a, p) => a + p.length, 0);
  const Ctor = first.constructor as new (n: number) => TypedData;
  const out = new Ctor(total);
  let off = 0;
  for (const p of parts) {
    (out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(p as unknown as ArrayLike<unknown>, off);
    off += p.length;
  }
  return out;
}

/** Concatenates requests along dim 0 (same names, types and trailing dims: one signature). */
export function concatFeeds(requests: readonly Record<string, HostTensor>[]): Record<string, HostTensor> {
  const first = requests[0] as Record<string, HostTensor>;
  const out: Record<string, HostTensor> = {};
  for (const name of Object.keys(first)) {
    const ts = requests.map((r) => r[name] as HostTensor);
    const batch = ts.reduce((a, t) => a + (t.dims[0] as number), 0);
    out[name] = { type: (ts[0] as HostTensor).type, dims: [batch, ...(ts[0] as HostTensor).dims.slice(1)], data: concatData(ts.map((t) => t.data)) };
  }
  return out;
}

/** Splits batched outputs back by each request's share of dim 0 (copies, so a request owns its data). */
export function splitOutputs(outputs: Record<string, HostTensor>, sizes: readonly number[]): Record<string, HostTensor>[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const res: Record<string, HostTensor>[] = sizes.map(() => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims[0] !== total)
      throw new InferenceError(
        `output '${name}' has ${t.dims[0] ?? 'no'} rows for a batch of ${total}; it cannot be split per request`,
        'serve this model without dynamic batching',
      );
    const per = t.data.length / total;
    let row = 0;
    sizes.forEach((s, i) => {
      const data = t.data.slice(row * per, (row + s) * per) as TypedData;
      (res[i] as Record<string, HostTensor>)[name] = { type: t.type, dims: [s, ...t.dims.slice(1)], data };
      row += s;
    });
  }
  return res;
}

/** Sliding sample of recent latencies for the adaptive controller. */
class Recent {
  private readonly xs: number[] = [];
  constructor(private readonly cap = 200) {}
  push(x: number): void {
    this.xs.push(x);
    if (this.xs.length > this.cap) this.xs.shift();
  }
  get length(): number {
    return this.xs.length;
  }
  quantile(q: number): number {
    const s = [...this.xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  }
  clear(): void {
    this.xs.length = 0;
  }
}

export class DynamicBatcher {
  private readonly queue: RequestScheduler<Pending>;
  private inFlight = 0;
  private timer: (() => void) | undefined;
  private readonly clock: BatcherClock;
  private readonly window: number;
  private readonly costs = new Map<number, { ms: number; n: number; recent: number[] }>();
  /** Sizes that have run once (their next runs are learned; the first pays the backend's one-off cost). */
  private readonly seen = new Set<number>();
  private readonly candidates: number[];
  private paddedRows = 0;
  private readonly sizes = new Map<number, number>();
  private requests = 0;
  private batches = 0;
  private items = 0;
  private readonly recent = new Recent();
  /** Adaptive: multiplier (0, 1] on the window, cut when the target is broken, regrown slowly. */
  private scale = 1;
  /** EWMA of the inter-arrival time of items (ms per item). */
  private interArrival: number | undefined;
  private lastArrival: number | undefined;
  /** The last 15 gaps between arrivals (ms): their median is the usual gap within a burst. */
  private readonly gaps: number[] = [];
  private closed: Error | undefined;
  /**
   * When an instance last became free. A batch's window runs from the later of its head's arrival and this:
   * a request that waited for a busy instance still gives the requests answered by that instance's batch a
   * window to come back (closed-loop clients resend as soon as they are answered). Measured from arrival
   * alone, the head's window has always expired by then, it leaves alone, and the batches alternate between
   * one request and the rest (1, 3, 1, 3 … at concurrency 4, seen on the H200).
   */
  private freedAt: number | undefined;
  /** Items queued for the head's batch when it started waiting (adaptive: did the wait gather any?). */
  private waitStartItems: number | undefined;
  /** The last level-1 arrival (several levels only) and the EWMA of the gaps between them (ms). */
  private lastUrgentAt: number | undefined;
  private urgentGap: number | undefined;
  private lowCappedBatches = 0;

  constructor(
    private readonly run: RunBatch,
    private readonly opts: BatcherOptions,
  ) {
    if (!Number.isInteger(opts.maxBatchSize) || opts.maxBatchSize < 1)
      throw new BadRequestError(`max_batch_size must be an integer ≥ 1, not ${opts.maxBatchSize}`);
    for (const p of opts.preferredBatchSizes ?? [])
      if (!Number.isInteger(p) || p < 1 || p > opts.maxBatchSize)
        throw new BadRequestError(`preferred batch size ${p} is not within 1..max_batch_size (${opts.maxBatchSize})`);
    this.clock = opts.clock ?? realClock;
    this.window = Math.max(1, opts.costWindow ?? 7);
    this.candidates = candidateSizes(opts.maxBatchSize, opts.preferredBatchSizes);
    this.seedCosts(opts.adaptive?.seedCosts ?? {});
    this.queue = new RequestScheduler<Pending>(
      opts.scheduler ?? { levels: 1, defaultLevel: 1, fallback: { maxQueue: opts.maxQueue ?? Number.POSITIVE_INFINITY, timeoutAction: 'reject' } },
      () => this.clock.now(),
    );
  }

  /** Per level and per client (the scheduler's counters). */
  schedulerStats(): SchedulerStats {
    return this.queue.stats();
  }

  /**
   * Seconds a refused request of `level` should wait: the batches ahead of it (every level up to its own,
   * taken `maxTake` at a time, at their measured cost) ÷ the instances, rounded up, at least 1; 1 before
   * any cost is known.
   */
  retryAfterS(level?: number): number {
    const ahead = (level === undefined ? this.queue.size : this.queue.aheadOf(level)) + this.inFlight + 1;
    const b = this.paddedSize(Math.max(1, Math.min(ahead, this.opts.maxBatchSize, this.choice().maxTake)));
    const c = this.cost(b);
    if (c === undefined) return 1;
    return Math.max(1, Math.ceil((Math.ceil(ahead / b) * c) / Math.max(1, this.opts.concurrency) / 1000));
  }

  private fullError(err: QueueFullError, level: number | undefined): QueueFullError {
    return new QueueFullError(
      this.queue.policy.levels === 1 ? `the batch queue is full (${this.queue.size} waiting)` : err.message,
      'retry after the time in Retry-After, or raise max_queue (priority_queue_policy.max_queue_size) for this model',
      this.retryAfterS(level ?? this.queue.policy.defaultLevel),
    );
  }

  /** The refusal submit() would give this request now, counted (see AdmissionQueue.refuseEarly), or undefined. */
  refuseEarly(admission: { priority?: number | undefined; client?: string | undefined }): QueueFullError | undefined {
    if (this.closed || !this.queue.wouldRefuse(admission.priority, admission.client)) return undefined;
    return this.fullError(this.queue.refuse(admission.priority), admission.priority);
  }

  /** Queues one request; resolves with its share of the batch's outputs. */
  submit(
    feeds: Record<string, HostTensor>,
    admission: { deadline?: number | undefined; signal?: AbortSignal | undefined; priority?: number | undefined; client?: string | undefined } = {},
  ): Promise<BatchResult> {
    if (this.closed) return Promise.reject(this.closed);
    const { size, signature } = signatureOf(feeds);
    if (size > this.opts.maxBatchSize)
      return Promise.reject(
        new BadRequestError(
          `a batch of ${size} is larger than this model's max_batch_size (${this.opts.maxBatchSize})`,
          `send at most ${this.opts.maxBatchSize} items per request`,
        ),
      );
    const now = this.clock.now();
    if (this.lastArrival !== undefined) {
      const gap = (now - this.lastArrival) / size;
      this.interArrival = this.interArrival === undefined ? gap : 0.8 * this.interArrival + 0.2 * gap;
      this.gaps.push(now - this.lastArrival);
      if (this.gaps.length > 15) this.gaps.shift();
    }
    this.lastArrival = now;
    if (this.queue.policy.levels > 1 && (admission.priority ?? this.queue.policy.defaultLevel) === 1) {
      if (this.lastUrgentAt !== undefined)
        this.urgentGap = this.urgentGap === undefined ? now - this.lastUrgentAt : 0.8 * this.urgentGap + 0.2 * (now - this.lastUrgentAt);
      this.lastUrgentAt = now;
    }
    return new Promise<BatchResult>((resolve, reject) => {
      const p: Pending = { feeds, size, signature, enqueuedAt: now, deadline: admission.deadline, signal: admission.signal, resolve, reject };
      let pushed: ReturnType<RequestScheduler<Pending>['push']>;
      try {
        pushed = this.queue.push(p, { priority: admission.priority, client: admission.client, deadline: admission.deadline });
      } catch (err) {
        reject(err instanceof QueueFullError ? this.fullError(err, admission.priority) : (err as Error));
        return;
      }
      p.entry = pushed.entry;
      if (pushed.evicted)
        pushed.evicted.entry.item.reject(
          new QueueFullError(
            pushed.evicted.error.message,
            'retry after the time in Retry-After; this client holds more than its share of the queue',
            this.retryAfterS(pushed.entry.level),
          ),
        );
      this.requests++;
      this.pump();
    });
  }

  /** Fails everything queued (in-flight batches finish). */
  close(err: Error): void {
    this.closed = err;
    this.timer?.();
    this.timer = undefined;
    for (const e of this.queue.ordered()) {
      this.queue.remove(e);
      e.item.reject(err);
    }
  }

  // ---- cost model ----

  /** The sizes batches are padded to (`pad`), or the sizes adaptive mode considers. */
  candidateSizes(): number[] {
    return [...this.candidates];
  }

  /**
   * Known costs (ms per batch of that size). `warm`: those shapes have already run in this process (the
   * registry's warm-up), so their next runs are learned; seeds from elsewhere (bench) are not.
   * A seed stands until the size's first learned run replaces it.
   */
  seedCosts(costs: Record<number, number>, opts: { warm?: boolean } = {}): void {
    for (const [k, ms] of Object.entries(costs)) {
      const b = Number(k);
      if (!(ms > 0) || !Number.isInteger(b) || b < 1) continue;
      this.costs.set(b, { ms, n: 0, recent: [] });
      if (opts.warm) this.seen.add(b);
    }
  }

  /** Measured or estimated cost of a batch of b (ms). */
  cost(b: number): number | undefined {
    return estimateCost(
      [...this.costs].map(([k, c]) => [k, c.ms] as const),
      b,
    );
  }

  /** Learns one run of a batch of b: never a shape's first run; the median of the last `window` runs. */
  private record(b: number, ms: number): void {
    if (!this.seen.has(b)) {
      this.seen.add(b);
      return;
    }
    const c = this.costs.get(b);
    const recent = [...(c?.recent ?? []), ms].slice(-this.window);
    const s = [...recent].sort((x, y) => x - y);
    const mid = s.length >> 1;
    const med = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
    this.costs.set(b, { ms: med, n: (c?.n ?? 0) + 1, recent });
  }

  /** The candidate a batch of `total` items is padded to (itself without padding). */
  private paddedSize(total: number): number {
    if (!this.opts.pad) return total;
    return this.candidates.find((c) => c >= total) ?? total;
  }

  /** Adaptive choice: the batch size with the best items per ms whose fill time + compute fits the target. */
  choice(): { windowMs: number; targetBatchSize: number; maxTake: number } {
    const a = this.opts.adaptive;
    if (!a) return { windowMs: this.opts.maxQueueDelayMs, targetBatchSize: this.opts.maxBatchSize, maxTake: this.opts.maxBatchSize };
    const gap = this.interArrival ?? Number.POSITIVE_INFINITY;
    const budget = a.targetMs * this.scale;
    let best = { b: 1, rate: 0, fill: 0 };
    let maxTake = 1;
    for (const b of this.candidates) {
      const c = this.cost(b);
      if (c === undefined) continue;
      // Requests already waiting (the instance was busy) need no fill time: take as many as compute allows.
      // Unscaled: under overload the target cannot be met by waiting less, only by computing more per run.
      if (c <= a.targetMs) maxTake = b;
      const fill = b === 1 ? 0 : (b - 1) * gap;
      // A request may wait for the batch ahead of it on a busy instance, then its own fill and compute.
      if (fill + 2 * c > budget) continue;
      const rate = b / c;
      if (rate > best.rate * 1.02) best = { b, rate, fill };
    }
    if (best.rate === 0) return { windowMs: 0, targetBatchSize: 1, maxTake };
    const c = this.cost(best.b) as number;
    return { windowMs: Math.max(0, Math.min(best.fill, budget - 2 * c)), targetBatchSize: best.b, maxTake: Math.max(maxTake, best.b) };
  }

  /**
   * With several levels, while level-1 work waits or arrived recently (within twice the usual gap between
   * level-1 requests, 1–10 s): the largest batch lower-priority items may join (or form) — the largest candidate size
   * whose cost is within 1.25 × a batch of one, so a top-priority request arriving meanwhile waits for
   * about one run of its own, not for a long low-priority batch (on a CPU, where cost grows with the batch,
   * that is 1; on a GPU, where it barely does, larger). undefined: no cap (one level, no urgent work, or
   * no cost known yet).
   */
  lowCap(): number | undefined {
    if (this.queue.policy.levels < 2 || this.lastUrgentAt === undefined) return undefined;
    const recentMs = Math.min(10_000, Math.max(1000, 2 * (this.urgentGap ?? 0)));
    if (this.queue.aheadOf(1) === 0 && this.clock.now() - this.lastUrgentAt > recentMs) return undefined;
    const c1 = this.cost(1);
    if (c1 === undefined) return undefined;
    let cap = 1;
    for (const b of this.candidates) {
      const c = this.cost(b);
      if (c !== undefined && c <= 1.25 * c1) cap = Math.max(cap, b);
    }
    return cap;
  }

  // ---- dispatch ----

  /** How long without an arrival means arrivals have stopped (adaptive): 4 × the median recent gap, ≥ 0.25 ms; undefined before 4 gaps. */
  private pauseMs(): number | undefined {
    if (this.gaps.length < 4) return undefined;
    const s = [...this.gaps].sort((a, b) => a - b);
    return Math.max(0.25, 4 * (s[s.length >> 1] as number));
  }

  /** Requests past their deadline or whose client went away leave the queue before any batch is formed. */
  private dropStale(): void {
    for (const d of this.queue.expire())
      d.entry.item.reject(d.error instanceof DeadlineExceededError ? new DeadlineExceededError(`${d.error.message} (waiting for a batch)`) : d.error);
    for (const e of this.queue.ordered()) {
      if (!e.item.signal?.aborted) continue;
      this.queue.remove(e);
      e.item.reject(new RequestCancelledError('the client closed the connection while the request was queued'));
    }
  }

  private pump(): void {
    this.dropStale();
    while (this.queue.size > 0 && this.inFlight < this.opts.concurrency) {
      // The scheduler's order: the most urgent level first, clients in turn; the head sets the shape.
      const order = this.queue.ordered();
      const head = (order[0] as Entry<Pending>).item;
      const { windowMs, targetBatchSize, maxTake } = this.choice();
      const limit = Math.min(this.opts.maxBatchSize, maxTake);
      const lowCap = this.lowCap();
      const { picked, capped } = this.pick(order, head.signature, limit, lowCap ?? Number.POSITIVE_INFINITY);
      const total = picked.reduce((a, e) => a + e.item.size, 0);
      const preferred = this.opts.preferredBatchSizes ?? [];
      // Cut short by the low-priority cap: waiting longer cannot make it larger.
      const full = capped || total >= Math.min(limit, targetBatchSize) || (preferred.includes(total) && !this.opts.adaptive);
      if (capped) this.lowCappedBatches++;
      const now = this.clock.now();
      const waited = now - Math.max(head.enqueuedAt, this.freedAt ?? Number.NEGATIVE_INFINITY);
      // Adaptive: once arrivals have stopped (none for 4 × the usual gap, at least 0.25 ms), waiting
      // longer gathers nothing: closed-loop clients that are all in the queue send nothing until answered.
      // Without this, a GPU whose cost barely grows with the batch aimed at 32 and waited out every window
      // with 4 clients (H200, ResNet-50: 143 req/s against 388 without batching).
      // Quiet since the last arrival or since the instance freed, whichever is later: the clients its batch
      // answered are still to send.
      const pauseMs = this.opts.adaptive ? this.pauseMs() : undefined;
      const quietSince = Math.max(this.lastArrival ?? Number.NEGATIVE_INFINITY, this.freedAt ?? Number.NEGATIVE_INFINITY);
      const paused = pauseMs !== undefined && Number.isFinite(quietSince) && now - quietSince >= pauseMs - 1e-6; // (a timer may fire a rounding error early)
      if (!full && waited < windowMs && !paused) {
        if (this.waitStartItems === undefined) this.waitStartItems = total;
        this.arm(pauseMs !== undefined && Number.isFinite(quietSince) ? Math.min(windowMs - waited, quietSince + pauseMs - now) : windowMs - waited);
        return;
      }
      // Adaptive: a wait that gathered nothing and ran out its window (a closed-loop client waits for its own
      // answer) halves the budget. One ended because arrivals stopped cost only the pause: no cut.
      if (this.opts.adaptive && this.waitStartItems !== undefined && total <= this.waitStartItems && !paused) this.scale = Math.max(0.05, this.scale * 0.5);
      this.waitStartItems = undefined;
      // Fixed mode with preferred sizes: send the largest preferred size that the queue can fill.
      let chosen = picked;
      if (!full && !this.opts.adaptive && preferred.length > 0) {
        let acc = 0;
        let cut = 0;
        for (let k = 0; k < picked.length; k++) {
          acc += (picked[k] as Entry<Pending>).item.size;
          if (preferred.includes(acc)) cut = k + 1;
        }
        if (cut > 0) chosen = picked.slice(0, cut);
      }
      if (this.inFlight > 0 && this.opts.canDispatch) {
        const rows = chosen.reduce((a, e) => a + e.item.size, 0);
        const rest = (): HeldWork => {
          const h = this.held();
          return { items: Math.max(0, h.items - rows), batchSize: h.batchSize };
        };
        // Not now: a batch in flight finishing (or the next arrival) pumps again.
        if (!this.opts.canDispatch(this.paddedSize(rows), rest)) return;
      }
      this.dispatch(chosen);
    }
  }

  /**
   * Entries with `signature`, in the scheduler's order, while their items fit in `limit`; an item below
   * level 1 only while the batch stays within `lowLimit` (level-1 items are not held back by it, but no
   * low item joins them past it); `capped` when `lowLimit` stopped it short of what else was there.
   */
  private pick(order: readonly Entry<Pending>[], signature: string, limit: number, lowLimit: number): { picked: Entry<Pending>[]; capped: boolean } {
    const out: Entry<Pending>[] = [];
    let total = 0;
    let capped = false;
    for (const e of order) {
      const p = e.item;
      if (p.signature !== signature) continue;
      const isLow = e.level > 1;
      if (total + p.size > limit || (isLow && total + p.size > lowLimit)) {
        if (out.length === 0) {
          out.push(e); // a request larger than the adaptive target (or the cap) still runs, alone
          total += p.size;
        } else if (total + p.size <= limit) capped = true;
        break;
      }
      out.push(e);
      total += p.size;
      if (total === limit) break;
    }
    return { picked: out, capped };
  }

  private arm(ms: number): void {
    if (this.timer) return;
    this.timer = this.clock.setTimer(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(0.01, ms), // at least 10 µs: a wait a rounding error long would fire at the same instant again
    );
  }

  private dispatch(entries: Entry<Pending>[]): void {
    this.timer?.();
    this.timer = undefined;
    for (const e of entries) this.queue.take(e);
    const batch = entries.map((e) => e.item);
    const priority = Math.min(...entries.map((e) => e.level));
    const sizes = batch.map((p) => p.size);
    const total = sizes.reduce((a, b) => a + b, 0);
    const runSize = this.paddedSize(total);
    const startedAt = this.clock.now();
    this.inFlight++;
    this.batches++;
    this.items += total;
    this.sizes.set(total, (this.sizes.get(total) ?? 0) + 1);
    const joined = batch.length === 1 ? (batch[0] as Pending).feeds : concatFeeds(batch.map((p) => p.feeds));
    const feeds = runSize > total ? padFeeds(joined, total, runSize) : joined;
    this.paddedRows += runSize - total;
    void this.run(feeds, { priority, items: runSize, held: () => this.held() })
      .then((r) => {
        this.record(runSize, r.computeMs);
        // Padding rows' outputs are split off and dropped.
        const parts =
          runSize > total
            ? splitOutputs(r.outputs, [...sizes, runSize - total]).slice(0, batch.length)
            : batch.length === 1
              ? [r.outputs]
              : splitOutputs(r.outputs, sizes);
        const done = this.clock.now();
        batch.forEach((p, i) => {
          this.recent.push(done - p.enqueuedAt);
          p.resolve({ outputs: parts[i] as Record<string, HostTensor>, queueMs: startedAt - p.enqueuedAt, computeMs: r.computeMs, batchSize: total });
        });
        this.adapt();
      })
      .catch((err: unknown) => {
        for (const p of batch) p.reject(err instanceof Error ? err : new Error(String(err)));
      })
      .finally(() => {
        this.inFlight--;
        this.freedAt = this.clock.now();
        this.pump();
      });
  }

  /** Items waiting (not yet in a batch) and the batch size a deep queue is taken in (padded). */
  held(): HeldWork {
    let items = 0;
    for (const e of this.queue.ordered()) items += e.item.size;
    return { items, batchSize: this.paddedSize(Math.min(this.opts.maxBatchSize, this.choice().maxTake)) };
  }

  /** Cuts the waiting budget by a fifth when the observed quantile breaks the target; regrows 2% per batch otherwise. */
  private adapt(): void {
    const a = this.opts.adaptive;
    if (!a || this.recent.length < 20) return;
    const q = this.recent.quantile(a.quantile);
    if (q > a.targetMs) {
      this.scale = Math.max(0.05, this.scale * 0.8);
      this.recent.clear();
    } else this.scale = Math.min(1, this.scale * 1.02);
  }

  stats(): BatcherStats {
    const { windowMs, targetBatchSize, maxTake } = this.choice();
    const a = this.opts.adaptive;
    return {
      requests: this.requests,
      batches: this.batches,
      items: this.items,
      meanBatchSize: this.batches ? this.items / this.batches : 0,
      sizes: Object.fromEntries(this.sizes),
      ...(this.opts.pad ? { candidates: [...this.candidates], paddedRows: this.paddedRows } : {}),
      pending: this.queue.size,
      inFlight: this.inFlight,
      costs: Object.fromEntries([...this.costs].map(([b, c]) => [b, { ms: c.ms, n: c.n }])),
      mode: a ? 'adaptive' : 'fixed',
      windowMs,
      targetBatchSize,
      maxTake,
      ...(a ? { targetMs: a.targetMs, ...(this.recent.length > 0 ? { observedMs: this.recent.quantile(a.quantile) } : {}) } : {}),
      ...(this.queue.policy.levels > 1 ? { lowCap: this.lowCap() ?? null, lowCappedBatches: this.lowCappedBatches } : {}),
    };
  }
}
