/**
 * The server's Prometheus metrics, testable without HTTP: a private prom-client Registry (never the
 * global default, so two servers in one process, or a test, never share counters) built from the
 * definitions in ./definitions.ts, and recording functions the server calls at each event.
 * The HTTP layer only serves `exposition()` with `contentType` on GET /metrics.
 */
import { Registry, Summary } from 'prom-client';
import { UsageError } from '../errors.js';
import type { DeviceSample } from '../devices/telemetry.js';
import { CounterSeries, CountWindow, GaugeSeries, HistogramSeries, QuantileWindow } from './series.js';
import { BATCH_BUCKETS, FAILURE_REASONS, LOAD_EVENTS, METRICS, SUMMARY_PERCENTILES, type FailureReason, type LoadEvent, type MetricDef } from './definitions.js';

export * from './definitions.js';

/**
 * The failure reason for an error a request ended with, from its typed code and HTTP status (the
 * server's errors carry `status`): 504 → timeout; CANCELLED → cancelled; BACKEND_UNAVAILABLE (queue
 * full, model not ready, shutting down: 503) → rejected; USAGE / NOT_IMPLEMENTED (400, 413, 501) →
 * bad_input; everything else (INFERENCE, LANE_CRASHED, INTERNAL) → runtime_error.
 */
export function failureReason(err: unknown): FailureReason {
  const e = (err ?? {}) as { code?: unknown; status?: unknown; statusCode?: unknown };
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status === 504) return 'timeout';
  if (e.code === 'CANCELLED' || status === 499) return 'cancelled';
  if (e.code === 'BACKEND_UNAVAILABLE' || status === 503) return e.code === 'LANE_CRASHED' ? 'runtime_error' : 'rejected';
  if (e.code === 'USAGE' || e.code === 'NOT_IMPLEMENTED' || (status !== undefined && status >= 400 && status < 500)) return 'bad_input';
  return 'runtime_error';
}

export interface RequestRecord {
  model: string;
  version: string;
  outcome: 'success' | 'failure';
  /** Required for a failure. */
  reason?: FailureReason;
  /** Stage times in seconds; a stage a request never reached is 0 or left out. */
  queueS?: number;
  inputS?: number;
  inferS?: number;
  outputS?: number;
  /** Whole server-side time; default: the sum of the stages. */
  totalS?: number;
  /** Inferences in the request (its batch dimension), default 1; counted only on success. */
  batch?: number;
}

export interface BatchRecord {
  model: string;
  version: string;
  /** Inferences in this execution (the formed batch). */
  size: number;
  /** Device id the execution ran on, and how long it ran (s): energy = the device's power × inferS. */
  device?: string;
  inferS?: number;
}

export interface GenerationRecord {
  model: string;
  /** Time to first token, s. */
  ttftS: number;
  /** Mean time per output token after the first, s (left out for a one-token answer). */
  tpotS?: number;
  /** Output tokens. */
  tokens: number;
  /** Whole request, s; default ttftS + tpotS × (tokens − 1). */
  durationS?: number;
  /** gen_ai.operation.name: chat, text_completion, embeddings, … (default chat). */
  operation?: string;
}

/** Quantiles (ms) over the window: p50, p95, p99; null where no request was observed. */
export interface WindowQuantiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** One model version's last `windowS` seconds (the dashboard's Traffic page; stats events carry it). */
export interface TrafficWindow {
  model: string;
  version: string;
  windowS: number;
  /** Requests that ended in the window (successes + failures). */
  requests: number;
  /** Server-side time per request (success or failure), ms. */
  requestMs: WindowQuantiles;
  /** Of the successful requests: queue time and compute time (input + infer + output), ms. */
  queueMs: WindowQuantiles;
  computeMs: WindowQuantiles;
  /** Executions by batch size, bucketed by BATCH_BUCKETS upper bounds ("1", "2", "4", … "256", "+Inf"). */
  batchSizes: Record<string, number>;
  /** Failed requests by reason. */
  errors: Partial<Record<FailureReason, number>>;
}

/** Seconds of traffic a TrafficWindow covers. */
export const TRAFFIC_WINDOW_S = 60;

export interface ServeMetrics {
  recordRequest(r: RequestRecord): void;
  recordBatch(b: BatchRecord): void;
  setPending(model: string, version: string, n: number): void;
  recordLoad(model: string, version: string, event: LoadEvent): void;
  recordGeneration(g: GenerationRecord): void;
  /** A telemetry sample for one device; readings absent from the sample are removed from the exposition. */
  setDevice(sample: DeviceSample): void;
  /** Drops every series of a model version (after its unload), so /metrics does not grow without bound. */
  forgetModel(model: string, version: string): Promise<void>;
  exposition(): Promise<string>;
  /** Per model version: quantiles, batch sizes and errors over the last TRAFFIC_WINDOW_S seconds. */
  traffic(nowMs?: number): TrafficWindow[];
  readonly contentType: string;
  /** The private registry (to add process metrics, or merge with another). */
  readonly registry: Registry;
}

export interface ServeMetricsOptions {
  /** Register the latency summaries too (quantile sketches cost per observation; Triton's default is off). */
  summaries?: boolean;
  /** Summary sliding window (s), default 600, in 5 age buckets. */
  summaryMaxAgeS?: number;
}

type AnyMetric = CounterSeries | GaugeSeries | HistogramSeries | Summary;

function build(def: MetricDef, registry: Registry, opts: ServeMetricsOptions): AnyMetric {
  if (def.type === 'summary') {
    return new Summary({ name: def.name, help: def.help, labelNames: [...def.labels], registers: [registry], percentiles: [...SUMMARY_PERCENTILES], maxAgeSeconds: opts.summaryMaxAgeS ?? 600, ageBuckets: 5 });
  }
  const metric =
    def.type === 'counter'
      ? new CounterSeries(def.name, def.help, def.labels)
      : def.type === 'gauge'
        ? new GaugeSeries(def.name, def.help, def.labels)
        : new HistogramSeries(def.name, def.help, def.labels, def.buckets ?? []);
  // the Registry renders any object with a name and prom-client's get() shape
  registry.registerMetric(metric as never);
  return metric;
}

const nonNeg = (v: number | undefined): number => (v !== undefined && Number.isFinite(v) && v > 0 ? v : 0);

export function createServeMetrics(opts: ServeMetricsOptions = {}): ServeMetrics {
  const registry = new Registry();
  const m = new Map<string, AnyMetric>();
  for (const def of METRICS) {
    if (def.optional === 'summaries' && !opts.summaries) continue;
    m.set(def.name, build(def, registry, opts));
  }
  const counter = (n: string): CounterSeries => m.get(n) as CounterSeries;
  const gauge = (n: string): GaugeSeries => m.get(n) as GaugeSeries;
  const hist = (n: string): HistogramSeries => m.get(n) as HistogramSeries;
  const summary = (n: string): Summary | undefined => m.get(n) as Summary | undefined;

  // Per device: the latest power reading (for energy attribution) and what executions used since the last sample.
  const powerW = new Map<string, number>();
  const window = new Map<string, { joules: number; inferences: number }>();
  const lastEnergy = new Map<string, number>();

  // The request path resolves its metrics once, not by name per call.
  const stages = (['request', 'queue', 'compute_input', 'compute_infer', 'compute_output'] as const).map((st) => ({
    compute: st.startsWith('compute'),
    hist: hist(`aivmm_inference_${st}_duration_seconds`),
    summary: summary(`aivmm_inference_${st}_duration_quantiles_seconds`),
  }));
  const success = counter('aivmm_inference_request_success_total');
  const failure = counter('aivmm_inference_request_failure_total');
  const inferences = counter('aivmm_inference_count_total');
  const times = [0, 0, 0, 0, 0];
  const execs = counter('aivmm_inference_exec_count_total');
  const batchSize = hist('aivmm_inference_batch_size');
  const pending = gauge('aivmm_inference_pending_requests');

  // The rolling windows, per model version (bounded: see series.ts); dropped by forgetModel.
  type Windows = { model: string; version: string; request: QuantileWindow; queue: QuantileWindow; compute: QuantileWindow; batch: CountWindow; errors: CountWindow };
  const windows = new Map<string, Windows>();
  const windowsOf = (model: string, version: string): Windows => {
    const k = `${model}\u0001${version}`;
    let w = windows.get(k);
    if (!w) {
      const q = (): QuantileWindow => new QuantileWindow({ windowS: TRAFFIC_WINDOW_S });
      w = { model, version, request: q(), queue: q(), compute: q(), batch: new CountWindow(TRAFFIC_WINDOW_S), errors: new CountWindow(TRAFFIC_WINDOW_S) };
      windows.set(k, w);
    }
    return w;
  };
  // A model version's request-path series, bound on its first success (a failure first creates only what
  // it records, as before) and its first execution; dropped with its series by forgetModel.
  type Bound = { success: (by?: number) => void; inferences: (by?: number) => void; stages: ((v: number) => void)[]; w: Windows };
  type BoundBatch = { execs: (by?: number) => void; size: (v: number) => void; w: Windows };
  const bound = new Map<string, Bound>();
  const boundBatch = new Map<string, BoundBatch>();
  const boundOf = (model: string, version: string): Bound => {
    const k = `${model}\u0001${version}`;
    let b = bound.get(k);
    if (!b) {
      const labels = { model, version };
      b = { success: success.bind(labels), inferences: inferences.bind(labels), stages: stages.map((st) => st.hist.bind(labels)), w: windowsOf(model, version) };
      bound.set(k, b);
    }
    return b;
  };
  const boundBatchOf = (model: string, version: string): BoundBatch => {
    const k = `${model}\u0001${version}`;
    let b = boundBatch.get(k);
    if (!b) {
      const labels = { model, version };
      b = { execs: execs.bind(labels), size: batchSize.bind(labels), w: windowsOf(model, version) };
      boundBatch.set(k, b);
    }
    return b;
  };
  const batchBucket = (size: number): string => String(BATCH_BUCKETS.find((b) => size <= b) ?? '+Inf');
  const ms = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? Math.round(v * 1e6) / 1e3 : null);
  const q3 = (w: QuantileWindow, now: number): WindowQuantiles => {
    const { values } = w.quantiles([0.5, 0.95, 0.99], now);
    return { p50: ms(values[0]), p95: ms(values[1]), p99: ms(values[2]) };
  };

  return {
    registry,
    contentType: registry.contentType,

    recordRequest(r) {
      const labels = { model: r.model, version: r.version };
      const failed = r.outcome !== 'success';
      const b = failed ? undefined : boundOf(r.model, r.version);
      if (b) {
        b.success();
        b.inferences(Math.max(1, Math.floor(r.batch ?? 1)));
      } else {
        if (!r.reason || !FAILURE_REASONS.includes(r.reason)) {
          throw new UsageError(`recordRequest: failure reason '${String(r.reason)}' is not one of ${FAILURE_REASONS.join(', ')}`);
        }
        failure.inc({ ...labels, reason: r.reason });
      }
      times[1] = nonNeg(r.queueS);
      times[2] = nonNeg(r.inputS);
      times[3] = nonNeg(r.inferS);
      times[4] = nonNeg(r.outputS);
      times[0] = r.totalS !== undefined ? nonNeg(r.totalS) : times[1] + times[2] + times[3] + times[4];
      for (let i = 0; i < stages.length; i++) {
        const st = stages[i]!;
        const t = times[i]!;
        // A rejected or bad-input request never reached the compute stages: only its request (and queue) time is real.
        if (st.compute && failed && t === 0) continue;
        if (b) b.stages[i]!(t);
        else st.hist.observe(labels, t);
        st.summary?.observe(labels, t);
      }
      const w = b ? b.w : windowsOf(r.model, r.version);
      const now = Date.now();
      w.request.observe(times[0], now);
      if (failed) w.errors.add(r.reason as string, 1, now);
      else {
        w.queue.observe(times[1], now);
        w.compute.observe(times[2] + times[3] + times[4], now);
      }
    },

    recordBatch(b) {
      const labels = { model: b.model, version: b.version };
      const size = Math.max(1, Math.floor(b.size));
      const bb = boundBatchOf(b.model, b.version);
      bb.execs();
      bb.size(size);
      bb.w.batch.add(batchBucket(size));
      if (b.device !== undefined && b.inferS !== undefined) {
        const w = powerW.get(b.device);
        if (w !== undefined) {
          const joules = w * nonNeg(b.inferS);
          counter('aivmm_inference_energy_joules_total').inc({ ...labels, device: b.device }, joules);
          const win = window.get(b.device) ?? { joules: 0, inferences: 0 };
          win.joules += joules;
          win.inferences += size;
          window.set(b.device, win);
        }
      }
    },

    setPending(model, version, n) {
      pending.set({ model, version }, Math.max(0, n));
    },

    recordLoad(model, version, event) {
      if (!LOAD_EVENTS.includes(event)) throw new UsageError(`recordLoad: event '${String(event)}' is not one of ${LOAD_EVENTS.join(', ')}`);
      counter('aivmm_model_load_events_total').inc({ model, version, event });
    },

    recordGeneration(g) {
      const tokens = Math.max(0, Math.floor(g.tokens));
      const ttft = nonNeg(g.ttftS);
      const genai = { gen_ai_operation_name: g.operation ?? 'chat', gen_ai_request_model: g.model };
      hist('aivmm_generation_time_to_first_token_seconds').observe({ model: g.model }, ttft);
      hist('gen_ai_server_time_to_first_token_seconds').observe(genai, ttft);
      if (g.tpotS !== undefined && tokens > 1) {
        hist('aivmm_generation_time_per_output_token_seconds').observe({ model: g.model }, nonNeg(g.tpotS));
        hist('gen_ai_server_time_per_output_token_seconds').observe(genai, nonNeg(g.tpotS));
      }
      counter('aivmm_generation_output_tokens_total').inc({ model: g.model }, tokens);
      const duration = g.durationS !== undefined ? nonNeg(g.durationS) : ttft + nonNeg(g.tpotS) * Math.max(0, tokens - 1);
      hist('gen_ai_server_request_duration_seconds').observe(genai, duration);
    },

    setDevice(s) {
      const device = { device: s.device };
      gauge('aivmm_device_info').set({ device: s.device, kind: s.kind, vendor: s.vendor, name: s.name }, 1);
      const put = (name: string, v: number | undefined): void => {
        if (v === undefined || !Number.isFinite(v)) gauge(name).remove(device);
        else gauge(name).set(device, v);
      };
      put('aivmm_device_utilization_ratio', s.utilization);
      put('aivmm_device_frequency_ratio', s.frequencyRatio);
      put('aivmm_device_memory_used_bytes', s.memoryUsedBytes);
      put('aivmm_device_memory_total_bytes', s.memoryTotalBytes);
      put('aivmm_device_power_watts', s.powerW);
      put('aivmm_device_power_limit_watts', s.powerLimitW);
      put('aivmm_device_temperature_celsius', s.temperatureC);
      if (s.powerW !== undefined && Number.isFinite(s.powerW)) powerW.set(s.device, s.powerW);
      else powerW.delete(s.device);
      if (s.energyJ !== undefined && Number.isFinite(s.energyJ)) {
        const prev = lastEnergy.get(s.device);
        // The sampler's energy is cumulative since it started; the counter takes its increase.
        if (prev === undefined) counter('aivmm_device_energy_joules_total').inc(device, 0);
        else if (s.energyJ > prev) counter('aivmm_device_energy_joules_total').inc(device, s.energyJ - prev);
        lastEnergy.set(s.device, s.energyJ);
      }
      const win = window.get(s.device);
      window.delete(s.device);
      put('aivmm_device_energy_per_inference_joules', win && win.inferences > 0 ? win.joules / win.inferences : undefined);
    },

    async forgetModel(model, version) {
      const k = `${model}\u0001${version}`;
      const unbind = (): void => {
        windows.delete(k);
        bound.delete(k);
        boundBatch.delete(k);
      };
      unbind();
      for (const def of METRICS) {
        const metric = m.get(def.name);
        if (!metric || !def.labels.includes('model')) continue;
        // remove() takes a full label set: read this version's series (public get()), drop histogram `le` / summary `quantile`.
        const seen = new Set<string>();
        for (const { labels } of (await metric.get()).values) {
          if (labels.model !== model || String(labels.version) !== version) continue;
          const own = Object.fromEntries(def.labels.map((l) => [l, String(labels[l])]));
          const key = JSON.stringify(own);
          if (seen.has(key)) continue;
          seen.add(key);
          metric.remove(own);
        }
      }
      // a request recorded while the series were being read bound some that are gone now
      unbind();
    },

    exposition: () => registry.metrics(),

    traffic(nowMs = Date.now()) {
      return [...windows.values()].map((w) => ({
        model: w.model,
        version: w.version,
        windowS: TRAFFIC_WINDOW_S,
        requests: w.request.quantiles([], nowMs).count,
        requestMs: q3(w.request, nowMs),
        queueMs: q3(w.queue, nowMs),
        computeMs: q3(w.compute, nowMs),
        batchSizes: w.batch.totals(nowMs),
        errors: w.errors.totals(nowMs) as TrafficWindow['errors'],
      }));
    },
  };
}
