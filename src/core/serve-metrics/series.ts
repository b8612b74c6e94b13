/**
 * Counters, gauges and histograms for the request path, cheaper than prom-client's own: prom-client
 * validates and hashes the label object on every inc/observe (≈ 2 µs each on the dev machine, 26 µs for
 * the ≈ 11 updates of one request, measured with scripts/bench-serve-metrics.ts). These keep one record
 * per series in a Map keyed by the label values, and hand prom-client's Registry the same
 * `get()` shape its own metrics return, so the Registry still renders the exposition (and the opt-in
 * summaries stay prom-client's). Label sets are checked when a series is created.
 */
import { UsageError } from '../errors.js';

export type Labels = Readonly<Record<string, string>>;

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

export interface MetricSnapshot {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  values: Value[];
}

abstract class Series<T> {
  protected readonly series = new Map<string, { labels: Labels; v: T }>();
  abstract readonly type: MetricSnapshot['type'];
  readonly aggregator = 'sum' as const;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  protected abstract fresh(): T;

  protected key(labels: Labels): string {
    // one or two labels on the hot path: a join of the values is the whole key
    let k = '';
    for (const n of this.labelNames) k += `${labels[n]}\u0001`;
    return k;
  }

  protected entry(labels: Labels): T {
    const k = this.key(labels);
    let e = this.series.get(k);
    if (!e) {
      for (const n of this.labelNames) if (typeof labels[n] !== 'string') throw new UsageError(`${this.name}: label '${n}' is missing`);
      for (const n of Object.keys(labels)) if (!this.labelNames.includes(n)) throw new UsageError(`${this.name}: unknown label '${n}' (labels: ${this.labelNames.join(', ')})`);
      e = { labels: { ...labels }, v: this.fresh() };
      this.series.set(k, e);
    }
    return e.v;
  }

  /** Drops the series with exactly these labels. */
  remove(labels: Labels): void {
    this.series.delete(this.key(labels));
  }

  protected abstract values(): Value[];

  async get(): Promise<MetricSnapshot> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }
}

export class CounterSeries extends Series<{ value: number }> {
  readonly type = 'counter' as const;
  protected fresh(): { value: number } {
    return { value: 0 };
  }
  inc(labels: Labels, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw new UsageError(`${this.name}: a counter only goes up (got ${by})`);
    this.entry(labels).value += by;
  }
  /**
   * inc() for one label set, its series found once: the request path binds a model version's series on
   * its first request. A bound series that remove() drops counts into nothing, so whoever removes series
   * drops its bindings too (createServeMetrics' forgetModel does).
   */
  bind(labels: Labels): (by?: number) => void {
    const e = this.entry(labels);
    return (by = 1) => {
      if (!(by >= 0) || !Number.isFinite(by)) throw new UsageError(`${this.name}: a counter only goes up (got ${by})`);
      e.value += by;
    };
  }
  protected values(): Value[] {
    return [...this.series.values()].map((e) => ({ labels: { ...e.labels }, value: e.v.value }));
  }
}

export class GaugeSeries extends Series<{ value: number }> {
  readonly type = 'gauge' as const;
  protected fresh(): { value: number } {
    return { value: 0 };
  }
  set(labels: Labels, value: number): void {
    if (!Number.isFinite(value)) throw new UsageError(`${this.name}: not a finite number: ${value}`);
    this.entry(labels).value = value;
  }
  protected values(): Value[] {
    return [...this.series.values()].map((e) => ({ labels: { ...e.labels }, value: e.v.value }));
  }
}

export class HistogramSeries extends Series<{ buckets: Float64Array; sum: number; count: number }> {
  readonly type = 'histogram' as const;
  private readonly bounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]) {
    super(name, help, labelNames);
    this.bounds = [...bounds].sort((a, b) => a - b);
  }

  protected fresh(): { buckets: Float64Array; sum: number; count: number } {
    return { buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 };
  }

  observe(labels: Labels, value: number): void {
    this.add(this.entry(labels), value);
  }

  /** observe() for one label set, its series found once (see CounterSeries.bind). */
  bind(labels: Labels): (value: number) => void {
    const e = this.entry(labels);
    return (value) => this.add(e, value);
  }

  private add(e: { buckets: Float64Array; sum: number; count: number }, value: number): void {
    if (!Number.isFinite(value)) throw new UsageError(`${this.name}: not a finite number: ${value}`);
    e.sum += value;
    e.count += 1;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        e.buckets[i]! += 1;
        break;
      }
    }
  }

  protected values(): Value[] {
    const out: Value[] = [];
    for (const e of this.series.values()) {
      let cum = 0;
      this.bounds.forEach((le, i) => {
        cum += e.v.buckets[i]!;
        out.push({ labels: { le, ...e.labels }, value: cum, metricName: `${this.name}_bucket` });
      });
      out.push({ labels: { le: '+Inf', ...e.labels }, value: e.v.count, metricName: `${this.name}_bucket` });
      out.push({ labels: { ...e.labels }, value: e.v.sum, metricName: `${this.name}_sum` });
      out.push({ labels: { ...e.labels }, value: e.v.count, metricName: `${this.name}_count` });
    }
    return out;
  }
}

/**
 * A rolling window of observations (the dashboard's p50/p95/p99 over the last minute): one slot per
 * second in a ring of `windowS` slots, each a sparse log-bucketed histogram (DDSketch's mapping: bucket
 * i holds (γ^(i−1), γ^i] with γ = (1+α)/(1−α), reported as 2γ^i/(γ+1)), so any quantile is within a
 * relative error α of the exact one at the same rank. Memory is bounded whatever the traffic: at most
 * `windowS` × ⌈log_γ(max/min)⌉ buckets (≈ 60 × 1 040 with the defaults), and a second's slot only holds
 * the buckets its values hit. prom-client's Summary (a t-digest per age bucket) costs more per
 * observation and cannot be merged over an arbitrary window; the Prometheus histograms' fixed bounds
 * (×2.5 apart) are too coarse for a p99 to mean anything.
 */
export interface WindowOptions {
  /** Seconds kept (default 60). */
  windowS?: number;
  /** Relative error of a quantile (default 0.01). */
  relativeError?: number;
  /** Values at or below this land in the zero bucket (reported as 0); default 1e-6. */
  minValue?: number;
  /** Values above this are clamped to it; default 1e3. */
  maxValue?: number;
}

interface Slot<T> {
  sec: number;
  v: T;
}

/** The ring of per-second slots both windows share: a slot is reused (cleared) when its second comes round again. */
class SecondRing<T> {
  private readonly slots: (Slot<T> | undefined)[];

  constructor(
    readonly windowS: number,
    private readonly fresh: () => T,
    private readonly clear: (v: T) => void,
  ) {
    if (!Number.isInteger(windowS) || windowS < 1) throw new UsageError(`window: windowS must be a positive integer (got ${windowS})`);
    this.slots = new Array<Slot<T> | undefined>(windowS);
  }

  at(nowMs: number): T {
    const sec = Math.floor(nowMs / 1000);
    const i = ((sec % this.windowS) + this.windowS) % this.windowS;
    let s = this.slots[i];
    if (!s) s = this.slots[i] = { sec, v: this.fresh() };
    else if (s.sec !== sec) {
      this.clear(s.v);
      s.sec = sec;
    }
    return s.v;
  }

  /** The slots of the last `windowS` seconds up to nowMs (older ones are skipped, not cleared). */
  *live(nowMs?: number): Generator<T> {
    const sec = nowMs === undefined ? undefined : Math.floor(nowMs / 1000);
    for (const s of this.slots) if (s && (sec === undefined || (s.sec <= sec && s.sec > sec - this.windowS))) yield s.v;
  }
}

export class QuantileWindow {
  private readonly gamma: number;
  private readonly logGamma: number;
  private readonly minValue: number;
  private readonly maxValue: number;
  private readonly maxIndex: number;
  private readonly ring: SecondRing<{ n: number; zero: number; buckets: Map<number, number> }>;

  constructor(opts: WindowOptions = {}) {
    const alpha = opts.relativeError ?? 0.01;
    if (!(alpha > 0 && alpha < 1)) throw new UsageError(`window: relativeError must be in (0, 1) (got ${alpha})`);
    this.gamma = (1 + alpha) / (1 - alpha);
    this.logGamma = Math.log(this.gamma);
    this.minValue = opts.minValue ?? 1e-6;
    this.maxValue = opts.maxValue ?? 1e3;
    if (!(this.minValue > 0 && this.maxValue > this.minValue)) throw new UsageError('window: need 0 < minValue < maxValue');
    this.maxIndex = Math.ceil(Math.log(this.maxValue) / this.logGamma);
    this.ring = new SecondRing(
      opts.windowS ?? 60,
      () => ({ n: 0, zero: 0, buckets: new Map() }),
      (v) => {
        v.n = 0;
        v.zero = 0;
        v.buckets.clear();
      },
    );
  }

  get windowS(): number {
    return this.ring.windowS;
  }

  /** Most buckets the window can hold (the memory bound). */
  get maxBuckets(): number {
    return this.windowS * (this.maxIndex - Math.ceil(Math.log(this.minValue) / this.logGamma) + 2);
  }

  /** Buckets held now, live or stale (≤ maxBuckets). */
  get buckets(): number {
    let n = 0;
    for (const s of this.ring.live()) n += s.buckets.size + (s.zero > 0 ? 1 : 0);
    return n;
  }

  observe(value: number, nowMs = Date.now()): void {
    if (!Number.isFinite(value) || value < 0) throw new UsageError(`window: not a finite, non-negative number: ${value}`);
    const s = this.ring.at(nowMs);
    s.n += 1;
    if (value <= this.minValue) {
      s.zero += 1;
      return;
    }
    const i = Math.min(this.maxIndex, Math.ceil(Math.log(Math.min(value, this.maxValue)) / this.logGamma));
    s.buckets.set(i, (s.buckets.get(i) ?? 0) + 1);
  }

  /**
   * The observations of the last windowS seconds: their count and, per q in `qs`, the value at rank
   * ⌊q·(count−1)⌋ of the sorted observations, within the relative error (NaN when there are none).
   */
  quantiles(qs: readonly number[], nowMs = Date.now()): { count: number; values: number[] } {
    let count = 0;
    let zero = 0;
    const merged = new Map<number, number>();
    for (const s of this.ring.live(nowMs)) {
      count += s.n;
      zero += s.zero;
      for (const [i, c] of s.buckets) merged.set(i, (merged.get(i) ?? 0) + c);
    }
    if (count === 0) return { count, values: qs.map(() => Number.NaN) };
    const order = [...merged.keys()].sort((a, b) => a - b);
    const values = qs.map((q) => {
      const rank = Math.floor(Math.min(1, Math.max(0, q)) * (count - 1));
      if (rank < zero) return 0;
      let seen = zero;
      for (const i of order) {
        seen += merged.get(i) as number;
        if (seen > rank) return (2 * this.gamma ** i) / (this.gamma + 1);
      }
      return this.maxValue;
    });
    return { count, values };
  }
}

/**
 * Counts by key over a rolling window of seconds (batch sizes, failure reasons). The keys must come from
 * a bounded set (the caller buckets them): memory is windowS × distinct keys.
 */
export class CountWindow {
  private readonly ring: SecondRing<Map<string, number>>;

  constructor(windowS = 60) {
    this.ring = new SecondRing(windowS, () => new Map(), (m) => m.clear());
  }

  add(key: string, by = 1, nowMs = Date.now()): void {
    const m = this.ring.at(nowMs);
    m.set(key, (m.get(key) ?? 0) + by);
  }

  totals(nowMs = Date.now()): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.ring.live(nowMs)) for (const [k, c] of m) out[k] = (out[k] ?? 0) + c;
    return out;
  }
}
