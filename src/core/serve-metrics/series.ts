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
    if (!Number.isFinite(value)) throw new UsageError(`${this.name}: not a finite number: ${value}`);
    const e = this.entry(labels);
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
