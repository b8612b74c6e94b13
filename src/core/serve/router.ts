/**
 * Routing one model's requests over its instances on several lanes/devices (e.g. GPU.0 + CPU), by
 * measured speed and current queue (pure; measurements are fed in).
 *
 * Each instance has a measured cost per request (EWMA of its compute times) and a number of parallel
 * slots. Its predicted wait is the work ahead of a new request — (queued + running) × cost ÷ slots — and
 * its predicted completion that wait plus its own cost. Each request goes to the instance whose predicted
 * completion is earliest (ties: the higher throughput, slots ÷ cost), so a slower instance only gets a
 * request when it would finish it before the faster one could — which maximises throughput and never
 * makes the pair slower than the fast one alone (save for contention between them). A spill-by-target
 * rule (send to the slow device once the fast one breaks the latency target) did: on the H200, GPU+CPU
 * served 104 req/s where the GPU alone served 225. The latency target only marks decisions that break
 * it (`overTarget`). An instance without a measurement yet
 * gets a request when it is idle, so it is measured; one marked down (its lane crashed) gets none until
 * it is marked up again. `explain()` is the object `/v1/placement` shows.
 *
 * With dynamic batching the routed requests are batches, and the queue that grows is the batcher's (items
 * waiting to form a batch), which no instance holds yet. So costs are kept per instance and batch size,
 * the work on an instance is the sum of its queued and running batches' costs, and a route call may say
 * what the batcher still holds (`held`: items, and the batch size it takes them in). The batch goes to the
 * earliest predicted completion as above; but when that instance is busy and another is idle, the router
 * predicts when the busy ones get through the backlog — this batch, then the held items in batches, each
 * placed where it finishes first — and an idle instance that would finish this batch before then takes it
 * now (the backlog then ends sooner by this batch's cost on the busy one). So a slower instance takes a
 * batch exactly when it finishes it before the faster ones would have reached the end of the queue, and
 * never while that queue is short. Without `held` (or with nothing held) this is the rule above.
 */
import { ModelUnavailableError } from './errors.js';
import { estimateCost } from './costs.js';

export interface InstanceInfo {
  id: string;
  device: string;
  backend: string;
  /** Requests it runs at once (1 for a session; more for a lane with several threads). */
  slots?: number;
  /** A known cost (ms per request of batch 1), e.g. from `aivmm bench`; learned online otherwise. */
  seedCostMs?: number;
}

/** What the batcher holds behind the batch being routed (batcher.ts HeldWork). */
export interface Held {
  /** Items waiting, in no batch yet. */
  items: number;
  /** The batch size they would be taken in. */
  batchSize: number;
}

interface InstanceState extends Required<Pick<InstanceInfo, 'id' | 'device' | 'backend' | 'slots'>> {
  /**
   * Per batch size: ms (EWMA of the service time; until the first measurement the seed) and samples, and
   * the seed it started from. Seeds are compute times (warm-up, bench); measurements are service times
   * (compute + the lane's round trip + any contention), so a seed not yet measured gets the median
   * measured − seed gap of the sizes that have both added (at least half the seed): the round trip is a
   * cost per batch, not per row (a ratio learned at batch 1, where it dominates, starved a lane at 8).
   */
  costs: Map<number, { ms: number; samples: number; seed?: number }>;
  samples: number;
  /** Batch sizes of the requests routed here that have not started, and of those running. */
  queuedSizes: number[];
  runningSizes: number[];
  up: boolean;
  routed: number;
  routedItems: number;
  downReason?: string;
}

export interface Candidate {
  id: string;
  device: string;
  backend: string;
  up: boolean;
  /** Cost of a batch of the routed size (1 in explain()). */
  costMs?: number;
  /** Items per second at that size. */
  throughputPerSec?: number;
  queued: number;
  running: number;
  /** The work queued and running here (ms, ÷ slots). */
  predictedWaitMs?: number;
  predictedLatencyMs?: number;
  fitsTarget?: boolean;
}

export interface RouteDecision {
  instance: string;
  /** Not the fastest instance: the slower one was predicted to finish this request first. */
  spilled: boolean;
  /** No instance was predicted to meet the target. */
  overTarget: boolean;
  predictedLatencyMs?: number;
  /** Rows in the routed request (a batch) and the held items the plan counted. */
  items: number;
  heldItems?: number;
  reason: string;
  candidates: Candidate[];
}

export interface PlacementExplanation {
  latencyTargetMs?: number;
  instances: (Candidate & { routed: number; routedItems: number; share: number; samples: number; costs?: Record<number, number>; downReason?: string })[];
  lastDecision?: Omit<RouteDecision, 'candidates'>;
}

/** Every instance is down (or none exists): the server's 503. */
export class NoInstanceError extends ModelUnavailableError {}

/** Most held batches the plan places one by one (a longer backlog changes no decision it makes). */
const MAX_PLANNED = 512;

function removeOne(xs: number[], v: number): void {
  const i = xs.indexOf(v);
  if (i >= 0) xs.splice(i, 1);
  else if (xs.length) xs.shift();
}

export class Router {
  private readonly instances = new Map<string, InstanceState>();
  private last: RouteDecision | undefined;

  constructor(
    instances: readonly InstanceInfo[],
    private readonly opts: { latencyTargetMs?: number; alpha?: number } = {},
  ) {
    for (const i of instances) this.add(i);
  }

  /** A device was added (or a lane restarted with a new instance). */
  add(i: InstanceInfo): void {
    const costs = new Map<number, { ms: number; samples: number; seed?: number }>();
    if (i.seedCostMs !== undefined && i.seedCostMs > 0) costs.set(1, { ms: i.seedCostMs, samples: 0, seed: i.seedCostMs });
    this.instances.set(i.id, {
      id: i.id,
      device: i.device,
      backend: i.backend,
      slots: Math.max(1, i.slots ?? 1),
      costs,
      samples: 0,
      queuedSizes: [],
      runningSizes: [],
      up: true,
      routed: 0,
      routedItems: 0,
    });
  }

  /** Known costs per batch size for `id` (ms), e.g. the registry's warm-up; each stands until that size is measured. */
  seedCosts(id: string, costs: Record<number, number>): void {
    const s = this.instances.get(id);
    if (!s) return;
    for (const [k, ms] of Object.entries(costs)) {
      const b = Number(k);
      if (!Number.isInteger(b) || b < 1 || !(ms > 0)) continue;
      const c = s.costs.get(b);
      if (!c || c.samples === 0) s.costs.set(b, { ms, samples: 0, seed: ms });
    }
  }

  /** A lane crashed: no requests go there until markUp; what it held is forgotten. */
  markDown(id: string, reason: string): void {
    const s = this.instances.get(id);
    if (!s) return;
    s.up = false;
    s.queuedSizes = [];
    s.runningSizes = [];
    s.downReason = reason;
  }

  markUp(id: string): void {
    const s = this.instances.get(id);
    if (!s) return;
    s.up = true;
    delete s.downReason;
  }

  remove(id: string): void {
    this.instances.delete(id);
  }

  /** Bookkeeping the caller does around each request it routed (`items`: its batch size, default 1). */
  started(id: string, items = 1): void {
    const s = this.instances.get(id);
    if (!s) return;
    removeOne(s.queuedSizes, items);
    s.runningSizes.push(items);
  }

  /** A request routed to `id` left before it started (timed out, cancelled, routed again). */
  unqueued(id: string, items = 1): void {
    const s = this.instances.get(id);
    if (s) removeOne(s.queuedSizes, items);
  }

  finished(id: string, computeMs?: number, items = 1): void {
    const s = this.instances.get(id);
    if (!s) return;
    removeOne(s.runningSizes, items);
    if (computeMs !== undefined && computeMs >= 0) {
      const a = this.opts.alpha ?? 0.2;
      const c = s.costs.get(items);
      s.costs.set(items, {
        ms: c === undefined || c.samples === 0 ? computeMs : (1 - a) * c.ms + a * computeMs,
        samples: (c?.samples ?? 0) + 1,
        ...(c?.seed !== undefined ? { seed: c.seed } : {}),
      });
      s.samples++;
    }
  }

  /** Cost of a batch of `b` on `s` (ms): measured, seeded, or estimated from its other sizes. */
  private cost(s: InstanceState, b: number): number | undefined {
    return estimateCost(this.table(s), b);
  }

  /** The sizes with a cost: measured ones as measured, seeded ones moved to the measured level. */
  private table(s: InstanceState): [number, number][] {
    const gaps = [...s.costs.values()]
      .filter((c) => c.samples > 0 && c.seed !== undefined)
      .map((c) => c.ms - (c.seed as number))
      .sort((x, y) => x - y);
    const mid = gaps.length >> 1;
    const offset = gaps.length === 0 ? 0 : gaps.length % 2 ? (gaps[mid] as number) : ((gaps[mid - 1] as number) + (gaps[mid] as number)) / 2;
    return [...s.costs].map(([k, c]) => [k, c.samples > 0 ? c.ms : Math.max(c.ms / 2, c.ms + offset)]);
  }

  /** The work queued and running on `s` (ms ÷ slots); undefined while it has no cost. */
  private work(s: InstanceState): number | undefined {
    if (s.costs.size === 0) return undefined;
    let ms = 0;
    for (const b of s.queuedSizes) ms += this.cost(s, b) as number;
    for (const b of s.runningSizes) ms += this.cost(s, b) as number;
    return ms / s.slots;
  }

  private candidate(s: InstanceState, b = 1): Candidate {
    const c: Candidate = { id: s.id, device: s.device, backend: s.backend, up: s.up, queued: s.queuedSizes.length, running: s.runningSizes.length };
    const cost = this.cost(s, b);
    if (cost !== undefined) {
      c.costMs = cost;
      c.throughputPerSec = (1000 * s.slots * b) / cost;
      c.predictedWaitMs = this.work(s) as number;
      c.predictedLatencyMs = c.predictedWaitMs + cost;
      if (this.opts.latencyTargetMs !== undefined) c.fitsTarget = c.predictedLatencyMs <= this.opts.latencyTargetMs;
    }
    return c;
  }

  /** Instance ids, in the order they were added. */
  ids(): string[] {
    return [...this.instances.keys()];
  }

  isUp(id: string): boolean {
    return this.instances.get(id)?.up === true;
  }

  /**
   * Chooses the instance for one request (a batch of `items` rows) and counts it as queued there.
   * `eligible` narrows the choice (the admission queue passes the instances that can take one more request
   * now); `held` is what waits behind it (the batcher's items; see the header).
   */
  route(opts: { eligible?: (id: string) => boolean; items?: number; held?: Held; dry?: boolean } = {}): RouteDecision {
    const b = Math.max(1, opts.items ?? 1);
    const all = [...this.instances.values()];
    const up = all.filter((s) => s.up && (opts.eligible?.(s.id) ?? true));
    if (up.length === 0)
      throw new NoInstanceError(
        all.length === 0 ? 'the model has no instances' : `every instance is down (${all.map((s) => `${s.id}: ${s.downReason ?? 'down'}`).join('; ')})`,
      );
    const candidates = all.map((s) => this.candidate(s, b));
    const byId = new Map(candidates.map((c) => [c.id, c]));
    const heldItems = opts.held && opts.held.items > 0 ? opts.held.items : 0;
    const choose = (id: string, spilled: boolean, overTarget: boolean, reason: string): RouteDecision => {
      const lat = byId.get(id)?.predictedLatencyMs;
      const d: RouteDecision = {
        instance: id,
        spilled,
        overTarget,
        ...(lat !== undefined ? { predictedLatencyMs: lat } : {}),
        items: b,
        ...(heldItems ? { heldItems } : {}),
        reason,
        candidates,
      };
      if (opts.dry) return d; // what it would decide; nothing recorded
      const s = this.instances.get(id) as InstanceState;
      s.queuedSizes.push(b);
      s.routed++;
      s.routedItems += b;
      this.last = d;
      return d;
    };
    const busy = (s: InstanceState): number => s.queuedSizes.length + s.runningSizes.length;
    // Unmeasured and idle: send it one request so it gets a cost.
    const unmeasured = up.find((s) => s.costs.size === 0 && busy(s) === 0);
    if (unmeasured) return choose(unmeasured.id, false, false, `${unmeasured.id} (${unmeasured.device}) has no measurement yet and is idle: measuring it`);
    const measured = up.filter((s) => s.costs.size > 0);
    if (measured.length === 0) {
      // Everything unmeasured and busy: the least loaded.
      const s = up.reduce((a, x) => (busy(x) < busy(a) ? x : a));
      return choose(s.id, false, false, `no instance measured yet: ${s.id} has the fewest requests`);
    }
    // Earliest predicted completion (among equals the faster instance), as without batching.
    const at = (s: InstanceState, size: number, line: ReadonlyMap<string, number>): number => (line.get(s.id) as number) + (this.cost(s, size) as number);
    const earliest = (among: readonly InstanceState[], size: number, line: ReadonlyMap<string, number>): { s: InstanceState; at: number } => {
      let best = among[0] as InstanceState;
      let bestAt = Infinity;
      let bestRate = 0;
      for (const s of among) {
        const t = at(s, size, line);
        const rate = (s.slots * size) / (this.cost(s, size) as number);
        if (t < bestAt - 1e-9 || (Math.abs(t - bestAt) <= 1e-9 && rate > bestRate)) [best, bestAt, bestRate] = [s, t, rate];
      }
      return { s: best, at: bestAt };
    };
    const work = new Map(measured.map((s) => [s.id, this.work(s) as number]));
    const first = earliest(measured, b, work).s;
    const idle = (s: InstanceState): boolean => busy(s) < s.slots;
    let chosen = first;
    let batchSize = 1;
    let backlogEnd: number | undefined;
    const idleOthers = measured.filter((s) => s !== first && idle(s));
    if (heldItems && !idle(first) && idleOthers.length) {
      // The backlog (this batch, then the held items in batches) placed batch by batch where each finishes
      // first, on the instances other than the idle ones; it is done at backlogEnd. An idle one that finishes
      // this batch before that takes it now: the backlog then ends sooner (by this batch's cost there).
      batchSize = Math.max(1, opts.held?.batchSize ?? 1);
      const rest = measured.filter((s) => !idleOthers.includes(s));
      const line = new Map(work);
      const put = (size: number): void => {
        const e = earliest(rest, size, line);
        line.set(e.s.id, (line.get(e.s.id) as number) + (this.cost(e.s, size) as number) / e.s.slots);
        backlogEnd = Math.max(backlogEnd ?? 0, e.at);
      };
      put(b);
      const planned = Math.min(MAX_PLANNED, Math.ceil(heldItems / batchSize));
      for (let k = 0; k < planned; k++) put(batchSize);
      const spill = earliest(idleOthers, b, work);
      if (spill.at < (backlogEnd as number) - 1e-9) chosen = spill.s;
    }
    const lowest = byId.get(chosen.id) as Candidate;
    const fastest = measured
      .map((s) => byId.get(s.id) as Candidate)
      .reduce((x, y) => ((y.throughputPerSec as number) > (x.throughputPerSec as number) ? y : x));
    const target = this.opts.latencyTargetMs;
    const lat = lowest.predictedLatencyMs as number;
    const over = target !== undefined && lat > target;
    const spilled = lowest.id !== fastest.id;
    let why: string;
    if (chosen !== first) {
      const firstAt = (byId.get(first.id) as Candidate).predictedLatencyMs as number;
      why = `${lowest.id} (${lowest.device}) is idle and finishes this batch of ${b} in ${lat.toFixed(1)} ms, before the others get through it and the ${heldItems} items the batcher holds (batches of ${batchSize}): ${(backlogEnd as number).toFixed(1)} ms (this batch alone on ${first.id} (${first.device}): ${firstAt.toFixed(1)} ms)`;
    } else if (spilled)
      why = `${lowest.id} (${lowest.device}) finishes first: ${lat.toFixed(1)} ms predicted vs ${(fastest.predictedLatencyMs as number).toFixed(1)} ms on the fastest, ${fastest.id} (${fastest.device})`;
    else
      why = `${lowest.id} (${lowest.device}) has the earliest predicted completion (${lat.toFixed(1)} ms)${heldItems ? `; ${backlogEnd !== undefined ? `the others get through the ${heldItems} held items by ${backlogEnd.toFixed(1)} ms, before an idle one would finish this batch` : `no other instance is idle for the ${heldItems} held items`}` : ''}`;
    return choose(lowest.id, spilled, over, over ? `no instance meets the ${target} ms target; ${why}` : why);
  }

  explain(): PlacementExplanation {
    const all = [...this.instances.values()];
    const total = all.reduce((a, s) => a + s.routed, 0);
    const out: PlacementExplanation = {
      ...(this.opts.latencyTargetMs !== undefined ? { latencyTargetMs: this.opts.latencyTargetMs } : {}),
      instances: all.map((s) => ({
        ...this.candidate(s),
        routed: s.routed,
        routedItems: s.routedItems,
        share: total ? s.routed / total : 0,
        samples: s.samples,
        ...(s.costs.size > 1 || (s.costs.size === 1 && !s.costs.has(1)) ? { costs: Object.fromEntries(this.table(s).sort((x, y) => x[0] - y[0])) } : {}),
        ...(s.downReason ? { downReason: s.downReason } : {}),
      })),
    };
    if (this.last) {
      const { candidates: _c, ...rest } = this.last;
      out.lastDecision = rest;
    }
    return out;
  }
}
