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
 */
import { ModelUnavailableError } from './errors.js';

export interface InstanceInfo {
  id: string;
  device: string;
  backend: string;
  /** Requests it runs at once (1 for a session; more for a lane with several threads). */
  slots?: number;
  /** A known cost (ms per request), e.g. from `aivmm bench`; learned online otherwise. */
  seedCostMs?: number;
}

interface InstanceState extends Required<Pick<InstanceInfo, 'id' | 'device' | 'backend' | 'slots'>> {
  costMs: number | undefined;
  samples: number;
  queued: number;
  running: number;
  up: boolean;
  routed: number;
  downReason?: string;
}

export interface Candidate {
  id: string;
  device: string;
  backend: string;
  up: boolean;
  costMs?: number;
  throughputPerSec?: number;
  queued: number;
  running: number;
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
  reason: string;
  candidates: Candidate[];
}

export interface PlacementExplanation {
  latencyTargetMs?: number;
  instances: (Candidate & { routed: number; share: number; samples: number; downReason?: string })[];
  lastDecision?: Omit<RouteDecision, 'candidates'>;
}

/** Every instance is down (or none exists): the server's 503. */
export class NoInstanceError extends ModelUnavailableError {}

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
    this.instances.set(i.id, { id: i.id, device: i.device, backend: i.backend, slots: Math.max(1, i.slots ?? 1), costMs: i.seedCostMs, samples: 0, queued: 0, running: 0, up: true, routed: 0 });
  }

  /** A lane crashed: no requests go there until markUp; what it held is forgotten. */
  markDown(id: string, reason: string): void {
    const s = this.instances.get(id);
    if (!s) return;
    s.up = false;
    s.queued = 0;
    s.running = 0;
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

  /** Bookkeeping the caller does around each request it routed. */
  started(id: string): void {
    const s = this.instances.get(id);
    if (!s) return;
    if (s.queued > 0) s.queued--;
    s.running++;
  }

  /** A request routed to `id` left before it started (timed out, cancelled, routed again). */
  unqueued(id: string): void {
    const s = this.instances.get(id);
    if (s && s.queued > 0) s.queued--;
  }

  finished(id: string, computeMs?: number): void {
    const s = this.instances.get(id);
    if (!s) return;
    if (s.running > 0) s.running--;
    if (computeMs !== undefined && computeMs >= 0) {
      const a = this.opts.alpha ?? 0.2;
      s.costMs = s.costMs === undefined || s.samples === 0 ? computeMs : (1 - a) * s.costMs + a * computeMs;
      s.samples++;
    }
  }

  private candidate(s: InstanceState): Candidate {
    const c: Candidate = { id: s.id, device: s.device, backend: s.backend, up: s.up, queued: s.queued, running: s.running };
    if (s.costMs !== undefined) {
      c.costMs = s.costMs;
      c.throughputPerSec = (1000 * s.slots) / s.costMs;
      c.predictedWaitMs = ((s.queued + s.running) * s.costMs) / s.slots;
      c.predictedLatencyMs = c.predictedWaitMs + s.costMs;
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
   * Chooses the instance for one request and counts it as queued there. `eligible` narrows the choice
   * (the admission queue passes the instances that can take one more request now).
   */
  route(opts: { eligible?: (id: string) => boolean } = {}): RouteDecision {
    const all = [...this.instances.values()];
    const up = all.filter((s) => s.up && (opts.eligible?.(s.id) ?? true));
    if (up.length === 0) throw new NoInstanceError(all.length === 0 ? 'the model has no instances' : `every instance is down (${all.map((s) => `${s.id}: ${s.downReason ?? 'down'}`).join('; ')})`);
    const candidates = all.map((s) => this.candidate(s));
    const byId = new Map(candidates.map((c) => [c.id, c]));
    const choose = (id: string, spilled: boolean, overTarget: boolean, reason: string): RouteDecision => {
      const s = this.instances.get(id) as InstanceState;
      s.queued++;
      s.routed++;
      const lat = byId.get(id)?.predictedLatencyMs;
      this.last = { instance: id, spilled, overTarget, ...(lat !== undefined ? { predictedLatencyMs: lat } : {}), reason, candidates };
      return this.last;
    };
    // Unmeasured and idle: send it one request so it gets a cost.
    const unmeasured = up.find((s) => s.costMs === undefined && s.queued + s.running === 0);
    if (unmeasured) return choose(unmeasured.id, false, false, `${unmeasured.id} (${unmeasured.device}) has no measurement yet and is idle: measuring it`);
    const measured = up.filter((s) => s.costMs !== undefined).map((s) => byId.get(s.id) as Candidate);
    if (measured.length === 0) {
      // Everything unmeasured and busy: the least loaded.
      const s = up.reduce((a, b) => (b.queued + b.running < a.queued + a.running ? b : a));
      return choose(s.id, false, false, `no instance measured yet: ${s.id} has the fewest requests`);
    }
    // Earliest predicted completion; among equals the faster instance.
    const lowest = measured.reduce((a, b) => {
      const la = a.predictedLatencyMs as number;
      const lb = b.predictedLatencyMs as number;
      return lb < la - 1e-9 || (Math.abs(lb - la) <= 1e-9 && (b.throughputPerSec as number) > (a.throughputPerSec as number)) ? b : a;
    });
    const fastest = measured.reduce((a, b) => ((b.throughputPerSec as number) > (a.throughputPerSec as number) ? b : a));
    const target = this.opts.latencyTargetMs;
    const lat = lowest.predictedLatencyMs as number;
    const over = target !== undefined && lat > target;
    const spilled = lowest.id !== fastest.id;
    const why = spilled
      ? `${lowest.id} (${lowest.device}) finishes first: ${lat.toFixed(1)} ms predicted vs ${(fastest.predictedLatencyMs as number).toFixed(1)} ms on the fastest, ${fastest.id} (${fastest.device})`
      : `${lowest.id} (${lowest.device}) has the earliest predicted completion (${lat.toFixed(1)} ms)`;
    return choose(lowest.id, spilled, over, over ? `no instance meets the ${target} ms target; ${why}` : why);
  }

  explain(): PlacementExplanation {
    const all = [...this.instances.values()];
    const total = all.reduce((a, s) => a + s.routed, 0);
    const out: PlacementExplanation = {
      ...(this.opts.latencyTargetMs !== undefined ? { latencyTargetMs: this.opts.latencyTargetMs } : {}),
      instances: all.map((s) => ({ ...this.candidate(s), routed: s.routed, share: total ? s.routed / total : 0, samples: s.samples, ...(s.downReason ? { downReason: s.downReason } : {}) })),
    };
    if (this.last) {
      const { candidates: _c, ...rest } = this.last;
      out.lastDecision = rest;
    }
    return out;
  }
}
