/**
 * Priorities, per-client fair share and deadlines for one model's queue (pure; the clock is injected).
 *
 * - Priority levels as Triton's `priority_levels`: 1 is the highest, larger numbers are lower; a request
 *   without one gets `defaultLevel`. Levels are served strictly in order.
 * - Each level has a policy (Triton's `ModelQueuePolicy`): `maxQueue` (full → refused, 503), `timeoutMs`
 *   and what happens past it — `reject` (dropped before compute, 504) or `delay` (demoted behind every
 *   level, served only when nothing else waits).
 * - Fair share within a level: clients take turns (round robin over clients with waiting requests; FIFO
 *   within a client), so one client sending a flood adds to its own wait, not to the others'. When a level
 *   is full, a client holding fewer entries than the largest holder takes that holder's newest place
 *   instead of being refused: a flooding client cannot lock the others out of the queue either.
 * - Deadlines (a request's own `timeout`, absolute on the clock): stale entries are dropped when the
 *   scheduler is asked for the next one, so nothing past its deadline reaches a runtime.
 */
import { createHash } from 'node:crypto';
import { BadRequestError, DeadlineExceededError, QueueFullError } from './errors.js';

export type TimeoutAction = 'reject' | 'delay';

export interface LevelPolicy {
  maxQueue: number;
  /** Time a request may wait at this level; undefined: no limit. */
  timeoutMs?: number;
  timeoutAction: TimeoutAction;
}

export interface SchedulerPolicy {
  /** Number of levels: 1 … levels. */
  levels: number;
  defaultLevel: number;
  /** Per level (1-based); missing levels use `fallback`. */
  perLevel?: Record<number, Partial<LevelPolicy>>;
  fallback: LevelPolicy;
}

export interface EntryMeta {
  priority?: number | undefined;
  client?: string | undefined;
  /** Absolute, on the scheduler's clock. */
  deadline?: number | undefined;
}

export interface Entry<T> {
  item: T;
  level: number;
  client: string;
  enqueuedAt: number;
  deadline?: number | undefined;
  delayed: boolean;
  seq: number;
}

export interface Dropped<T> {
  entry: Entry<T>;
  error: Error;
}

export interface SchedulerStats {
  pending: number;
  perLevel: Record<number, { pending: number; admitted: number; rejected: number; timedOut: number; delayed: number; dispatched: number }>;
  perClient: Record<string, { pending: number; dispatched: number }>;
  delayedPending: number;
}

/** `aivmm-priority` header or the request's `parameters.priority`: an integer 1 … levels (0 = default). */
export function priorityFrom(headers: Readonly<Record<string, string | string[] | undefined>>, parameters: Readonly<Record<string, unknown>> | undefined, policy: Pick<SchedulerPolicy, 'levels' | 'defaultLevel'>): number {
  const raw = headers['aivmm-priority'] ?? parameters?.['priority'];
  if (raw === undefined) return policy.defaultLevel;
  const text = Array.isArray(raw) ? raw[0] : raw;
  const n = typeof text === 'number' ? text : Number(String(text).trim());
  if (!Number.isInteger(n) || n < 0 || n > policy.levels) throw new BadRequestError(`invalid priority '${String(text)}'`, `give an integer from 1 (highest) to ${policy.levels}, or 0 for the default (${policy.defaultLevel})`);
  return n === 0 ? policy.defaultLevel : n;
}

/** The fair-share key: the `aivmm-client` header, else a hash of the bearer token, else the peer address. */
export function clientFrom(headers: Readonly<Record<string, string | string[] | undefined>>, remoteAddress = 'unknown'): string {
  const h = headers['aivmm-client'];
  const named = Array.isArray(h) ? h[0] : h;
  if (named && named.trim()) return `client:${named.trim().slice(0, 128)}`;
  const auth = headers['authorization'];
  const a = Array.isArray(auth) ? auth[0] : auth;
  const m = a ? /^Bearer\s+(.+)$/i.exec(a) : null;
  if (m) return `key:${createHash('sha256').update(m[1] as string).digest('hex').slice(0, 12)}`;
  return `addr:${remoteAddress}`;
}

interface Level<T> {
  policy: LevelPolicy;
  /** Clients in turn order, each with its FIFO. */
  clients: Map<string, Entry<T>[]>;
  turn: string[];
  size: number;
  stats: { admitted: number; rejected: number; timedOut: number; delayed: number; dispatched: number };
}

export class RequestScheduler<T> {
  private readonly levels: Level<T>[] = [];
  /** Demoted (timeout action delay), FIFO, served last. */
  private readonly delayed: Entry<T>[] = [];
  private seq = 0;
  private readonly dispatchedBy = new Map<string, number>();

  constructor(
    readonly policy: SchedulerPolicy,
    private readonly clock: () => number = () => performance.now(),
  ) {
    if (!Number.isInteger(policy.levels) || policy.levels < 1) throw new BadRequestError(`priority levels must be an integer ≥ 1, not ${policy.levels}`);
    if (!Number.isInteger(policy.defaultLevel) || policy.defaultLevel < 1 || policy.defaultLevel > policy.levels) throw new BadRequestError(`default priority ${policy.defaultLevel} is not within 1..${policy.levels}`);
    for (let l = 1; l <= policy.levels; l++) {
      this.levels.push({ policy: { ...policy.fallback, ...(policy.perLevel?.[l] ?? {}) }, clients: new Map(), turn: [], size: 0, stats: { admitted: 0, rejected: 0, timedOut: 0, delayed: 0, dispatched: 0 } });
    }
  }

  get size(): number {
    return this.levels.reduce((a, l) => a + l.size, 0) + this.delayed.length;
  }

  private level(n: number): Level<T> {
    return this.levels[n - 1] as Level<T>;
  }

  /**
   * Whether push() would refuse a request of level `priority` from `client` right now (the level is full
   * and no client holds more than one place above this one's share): the server answers such a request
   * before reading its body. Pure: nothing is counted (refuse() counts).
   */
  wouldRefuse(priority: number | undefined, client = 'anonymous'): boolean {
    const n = priority ?? this.policy.defaultLevel;
    if (!Number.isInteger(n) || n < 1 || n > this.policy.levels) return false;
    const lv = this.level(n);
    if (lv.size < lv.policy.maxQueue) return false;
    const mine = lv.clients.get(client)?.length ?? 0;
    for (const q of lv.clients.values()) if (q.length > mine + 1) return false;
    return true;
  }

  /** Counts a refusal decided by wouldRefuse() and returns push()'s error for it. */
  refuse(priority: number | undefined): QueueFullError {
    const n = priority ?? this.policy.defaultLevel;
    const lv = this.level(n);
    lv.stats.rejected++;
    return new QueueFullError(`priority ${n} queue is full (${lv.size} waiting)`);
  }

  /** Entries a new request of level `n` would wait behind: every level up to n (not the delayed). */
  aheadOf(n: number): number {
    let k = 0;
    for (let l = 1; l <= Math.min(n, this.policy.levels); l++) k += this.level(l).size;
    return k;
  }

  /**
   * Admits `item` or refuses it (QueueFullError). May evict another client's newest entry to make room
   * (returned in `evicted`, to be answered with its error).
   */
  push(item: T, meta: EntryMeta = {}): { entry: Entry<T>; evicted?: Dropped<T> } {
    const n = meta.priority ?? this.policy.defaultLevel;
    if (!Number.isInteger(n) || n < 1 || n > this.policy.levels) throw new BadRequestError(`invalid priority ${n}`, `give 1 … ${this.policy.levels}`);
    const lv = this.level(n);
    const client = meta.client ?? 'anonymous';
    let evicted: Dropped<T> | undefined;
    if (lv.size >= lv.policy.maxQueue) {
      const mine = lv.clients.get(client)?.length ?? 0;
      let holder: string | undefined;
      let most = mine;
      for (const [c, q] of lv.clients) if (q.length > most + 1) [holder, most] = [c, q.length];
      if (holder === undefined) {
        lv.stats.rejected++;
        throw new QueueFullError(`priority ${n} queue is full (${lv.size} waiting)`);
      }
      const q = lv.clients.get(holder) as Entry<T>[];
      const victim = q.pop() as Entry<T>;
      lv.size--;
      if (q.length === 0) this.forget(lv, holder);
      lv.stats.rejected++;
      evicted = { entry: victim, error: new QueueFullError(`priority ${n} queue is full; client ${holder} holds ${most} of ${lv.policy.maxQueue} places (fair share)`) };
    }
    const entry: Entry<T> = { item, level: n, client, enqueuedAt: this.clock(), deadline: meta.deadline, delayed: false, seq: this.seq++ };
    let q = lv.clients.get(client);
    if (!q) {
      q = [];
      lv.clients.set(client, q);
      lv.turn.push(client);
    }
    q.push(entry);
    lv.size++;
    lv.stats.admitted++;
    return evicted ? { entry, evicted } : { entry };
  }

  private forget(lv: Level<T>, client: string): void {
    lv.clients.delete(client);
    const i = lv.turn.indexOf(client);
    if (i >= 0) lv.turn.splice(i, 1);
  }

  /** Removes a queued entry (its client went away). */
  remove(entry: Entry<T>): boolean {
    if (entry.delayed) {
      const i = this.delayed.indexOf(entry);
      if (i < 0) return false;
      this.delayed.splice(i, 1);
      return true;
    }
    const lv = this.level(entry.level);
    const q = lv.clients.get(entry.client);
    const i = q ? q.indexOf(entry) : -1;
    if (!q || i < 0) return false;
    q.splice(i, 1);
    lv.size--;
    if (q.length === 0) this.forget(lv, entry.client);
    return true;
  }

  /** Applies level timeouts and deadlines: returns what was dropped; demotes what a `delay` policy keeps. */
  expire(): Dropped<T>[] {
    const now = this.clock();
    const dropped: Dropped<T>[] = [];
    for (const lv of this.levels) {
      for (const [client, q] of [...lv.clients]) {
        for (let i = 0; i < q.length; ) {
          const e = q[i] as Entry<T>;
          const pastDeadline = e.deadline !== undefined && now >= e.deadline;
          const pastLevel = lv.policy.timeoutMs !== undefined && now - e.enqueuedAt >= lv.policy.timeoutMs;
          if (pastDeadline || (pastLevel && lv.policy.timeoutAction === 'reject')) {
            q.splice(i, 1);
            lv.size--;
            lv.stats.timedOut++;
            dropped.push({ entry: e, error: new DeadlineExceededError(pastDeadline ? `the request passed its deadline after ${Math.round(now - e.enqueuedAt)} ms in the queue` : `the request waited ${Math.round(now - e.enqueuedAt)} ms, past priority ${e.level}'s timeout (${lv.policy.timeoutMs} ms)`) });
          } else if (pastLevel) {
            q.splice(i, 1);
            lv.size--;
            lv.stats.delayed++;
            e.delayed = true;
            this.delayed.push(e);
          } else i++;
        }
        if (q.length === 0) this.forget(lv, client);
      }
    }
    for (let i = 0; i < this.delayed.length; ) {
      const e = this.delayed[i] as Entry<T>;
      if (e.deadline !== undefined && now >= e.deadline) {
        this.delayed.splice(i, 1);
        this.level(e.level).stats.timedOut++;
        dropped.push({ entry: e, error: new DeadlineExceededError(`the request passed its deadline after ${Math.round(now - e.enqueuedAt)} ms in the queue (delayed)`) });
      } else i++;
    }
    return dropped;
  }

  /** The effective policy of level `n` (1-based). */
  levelPolicy(n: number): LevelPolicy {
    return this.level(n).policy;
  }

  /**
   * Every waiting entry in the order next() would hand them out (levels in order; clients in turn within
   * a level; the delayed last), without removing any: the batcher scans it for requests of one shape.
   */
  ordered(): Entry<T>[] {
    const out: Entry<T>[] = [];
    for (const lv of this.levels) {
      if (lv.size === 0) continue;
      const queues = lv.turn.map((c) => lv.clients.get(c) as Entry<T>[]);
      for (let k = 0; out.length < Number.MAX_SAFE_INTEGER; k++) {
        let any = false;
        for (const q of queues) {
          const e = q[k];
          if (e) {
            out.push(e);
            any = true;
          }
        }
        if (!any) break;
      }
    }
    out.push(...this.delayed);
    return out;
  }

  /** Takes `entry` out to run it now (counted as dispatched, its client moved to the back of the turn). */
  take(entry: Entry<T>): boolean {
    if (!this.remove(entry)) return false;
    const lv = this.level(entry.level);
    if (!entry.delayed && lv.clients.has(entry.client)) {
      const i = lv.turn.indexOf(entry.client);
      if (i >= 0) lv.turn.push(...lv.turn.splice(i, 1));
    }
    lv.stats.dispatched++;
    this.dispatchedBy.set(entry.client, (this.dispatchedBy.get(entry.client) ?? 0) + 1);
    return true;
  }

  /** The next entry to run (highest level; clients in turn; FIFO per client), after dropping stale ones. */
  next(): { entry?: Entry<T>; dropped: Dropped<T>[] } {
    const dropped = this.expire();
    for (const lv of this.levels) {
      if (lv.size === 0) continue;
      const client = lv.turn.shift() as string;
      const q = lv.clients.get(client) as Entry<T>[];
      const entry = q.shift() as Entry<T>;
      lv.size--;
      if (q.length === 0) lv.clients.delete(client);
      else lv.turn.push(client); // to the back of the turn order
      lv.stats.dispatched++;
      this.dispatchedBy.set(client, (this.dispatchedBy.get(client) ?? 0) + 1);
      return { entry, dropped };
    }
    const entry = this.delayed.shift();
    if (entry) {
      this.level(entry.level).stats.dispatched++;
      this.dispatchedBy.set(entry.client, (this.dispatchedBy.get(entry.client) ?? 0) + 1);
      return { entry, dropped };
    }
    return { dropped };
  }

  stats(): SchedulerStats {
    const perClient: SchedulerStats['perClient'] = {};
    for (const [c, n] of this.dispatchedBy) perClient[c] = { pending: 0, dispatched: n };
    for (const lv of this.levels) for (const [c, q] of lv.clients) perClient[c] = { pending: (perClient[c]?.pending ?? 0) + q.length, dispatched: perClient[c]?.dispatched ?? 0 };
    for (const e of this.delayed) perClient[e.client] = { pending: (perClient[e.client]?.pending ?? 0) + 1, dispatched: perClient[e.client]?.dispatched ?? 0 };
    return {
      pending: this.size,
      perLevel: Object.fromEntries(this.levels.map((lv, i) => [i + 1, { pending: lv.size, ...lv.stats }])),
      perClient,
      delayedPending: this.delayed.length,
    };
  }
}
