/**
 * OpenTelemetry tracing of the server, with the official SDK (sdk-trace-node 2 and its OTLP/HTTP
 * exporters to …/v1/traces: protobuf bodies by default, JSON with OTEL_EXPORTER_OTLP_PROTOCOL=http/json),
 * configured by the standard OTEL_* variables through loadConfig (src/core/config/tracing.ts).
 *
 * - One SERVER span per request, named `{method} {route template}` (HTTP semantic conventions), that
 *   continues the client's W3C `traceparent`; children `queue`, `batch` (when a dynamic batcher formed
 *   one: its size) and `compute` (model, version, device, backend) are recorded after the fact from the
 *   queueMs / computeMs the registry measured, with explicit start and end times.
 * - The SDK is imported only by startTracing(), so a server without tracing loads none of it and
 *   installs no hook; routes call recordInference(req, …), a WeakMap lookup that finds nothing.
 * - The provider is private to the server (never registered globally): two servers in one process, or
 *   a test, do not share it; shutdown() flushes what is batched.
 * - Front ends other than HTTP (gRPC) call startRequest() with their own name, metadata and attributes.
 * - Cost (scripts/bench-serve-metrics-cost.mjs measures it as the server's CPU per request): most of it
 *   is the SDK's span objects and the encoding of each export. Protobuf encodes in about half the CPU of
 *   JSON and a third of the bytes (which the loopback write and the collector pay for too); the batch
 *   processor sends 2048 spans per export instead of 512 (fewer requests to the collector) and holds
 *   8192 (OTEL_BSP_*); attribute objects are built once, without spreads.
 */
import type { Attributes, Span, Tracer, Context } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TracingSettings } from '../core/config/tracing.js';

/** Where one inference spent its time, as the registry measured it (ms, performance.now() clock). */
export interface InferenceTiming {
  model: string;
  version: string;
  /** performance.now() when the run was handed to the registry, and when it settled. */
  startMs: number;
  endMs: number;
  queueMs: number;
  computeMs: number;
  /** Set when a dynamic batcher ran the request inside a batch of this many inferences. */
  batchSize?: number | undefined;
  device?: string | undefined;
  backend?: string | undefined;
}

export interface RequestTrace {
  readonly traceId: string;
  readonly spanId: string;
  setAttributes(a: Attributes): void;
  /** Records the queue / batch / compute children of this request. */
  inference(t: InferenceTiming): void;
  /** Ends the server span (once; later calls do nothing). `error`: the failure, for error.type and the status. */
  end(opts?: { status?: number; error?: string; endMs?: number }): void;
}

export interface Tracing {
  readonly settings: TracingSettings;
  /** A server span continuing the W3C traceparent of `carrier` (request headers or gRPC metadata). */
  startRequest(name: string, carrier: Record<string, unknown>, attributes: Attributes, startMs?: number): RequestTrace;
  /** Sends what is batched now; rejects when that export fails. */
  flush(): Promise<void>;
  /** Flushes and stops; spans started afterwards are dropped. */
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  serviceVersion: string;
  /** Largest wait before a batch of spans is sent, ms; over settings.batch.scheduledDelayMs (OTEL_BSP_SCHEDULE_DELAY, default 1000; the SDK's is 5000). */
  scheduledDelayMs?: number;
  /**
   * A failed export (collector down, refused, wrong URL): the first one, then at most one a minute. The
   * SDK itself reports them only to its global diag logger, which nobody has set, so they were silent.
   */
  onExportError?: (message: string) => void;
}

const traces = new WeakMap<FastifyRequest, RequestTrace>();

/** The trace of a request, when tracing is on. */
export function requestTrace(req: FastifyRequest): RequestTrace | undefined {
  return traces.get(req);
}

/** Records an inference's child spans under the request's span; nothing when tracing is off. */
export function recordInference(req: FastifyRequest, t: InferenceTiming): void {
  traces.get(req)?.inference(t);
}

export async function startTracing(settings: TracingSettings, opts: StartTracingOptions): Promise<Tracing> {
  const [api, core, { NodeTracerProvider }, base, { OTLPTraceExporter }, { resourceFromAttributes }, sc] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    settings.protocol === 'http/json' ? import('@opentelemetry/exporter-trace-otlp-http') : import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  const ratio = new base.TraceIdRatioBasedSampler(settings.samplerArg);
  const sampler = {
    always_on: new base.AlwaysOnSampler(),
    always_off: new base.AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: new base.ParentBasedSampler({ root: new base.AlwaysOnSampler() }),
    parentbased_always_off: new base.ParentBasedSampler({ root: new base.AlwaysOffSampler() }),
    parentbased_traceidratio: new base.ParentBasedSampler({ root: ratio }),
  }[settings.sampler];
  const otlp = new OTLPTraceExporter({ url: settings.endpoint, headers: settings.headers });
  let lastReport = -Infinity;
  let failed = 0;
  const exporter: SpanExporter = {
    export: (spans, done) =>
      otlp.export(spans, (r) => {
        if (r.code !== 0 && opts.onExportError) {
          failed += spans.length;
          const now = performance.now();
          if (now - lastReport >= 60_000) {
            lastReport = now;
            opts.onExportError(`exporting spans to ${settings.endpoint} failed (${r.error?.message ?? 'no detail'}); ${failed} span(s) lost so far`);
          }
        }
        done(r);
      }),
    shutdown: () => otlp.shutdown(),
    forceFlush: () => otlp.forceFlush(),
  };
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ ...settings.resourceAttributes, [sc.ATTR_SERVICE_NAME]: settings.serviceName, [sc.ATTR_SERVICE_VERSION]: opts.serviceVersion }),
    sampler,
    spanProcessors: [
      new base.BatchSpanProcessor(exporter, {
        scheduledDelayMillis: opts.scheduledDelayMs ?? settings.batch.scheduledDelayMs,
        maxQueueSize: settings.batch.maxQueueSize,
        maxExportBatchSize: settings.batch.maxExportBatchSize,
        exportTimeoutMillis: settings.batch.exportTimeoutMs,
      }),
    ],
  });
  const tracer: Tracer = provider.getTracer('aivmm', opts.serviceVersion);
  const propagator = new core.W3CTraceContextPropagator();
  const getter = {
    keys: (c: Record<string, unknown>) => Object.keys(c),
    get: (c: Record<string, unknown>, k: string) => {
      const v = c[k];
      return typeof v === 'string' ? v : Array.isArray(v) ? (v as unknown[]).map(String) : undefined;
    },
  };
  const { SpanKind, SpanStatusCode } = api;
  let stopped = false;
  // One anchor from the performance clock to the wall clock for every span: the SDK converts a
  // performance.now() time with an offset it reads per span (Date.now(), 1 ms steps), so two spans
  // meeting at the same instant could come out overlapping or apart by a millisecond.
  const anchorMs = Date.now() - performance.now();
  const hr = (perfMs: number): [number, number] => {
    const total = anchorMs + perfMs;
    const s = Math.floor(total / 1000);
    return [s, Math.min(999_999_999, Math.round((total - s * 1000) * 1e6))];
  };

  const child = (name: string, parent: Context, start: number, end: number, attributes: Attributes): Span => {
    const s = tracer.startSpan(name, { kind: SpanKind.INTERNAL, startTime: hr(start), attributes }, parent);
    s.end(hr(Math.max(start, end)));
    return s;
  };

  return {
    settings,
    startRequest(name, carrier, attributes, startMs = performance.now()) {
      const parent = propagator.extract(api.ROOT_CONTEXT, carrier, getter);
      const span = tracer.startSpan(name, { kind: SpanKind.SERVER, startTime: hr(startMs), attributes }, parent);
      const ctx = api.trace.setSpan(parent, span);
      let ended = false;
      const sc0 = span.spanContext();
      return {
        traceId: sc0.traceId,
        spanId: sc0.spanId,
        setAttributes: (a) => void span.setAttributes(a),
        inference(t) {
          if (ended || !span.isRecording()) return;
          // each span copies its attributes (the SDK sanitises them into its own object): one literal each
          const queueEnd = Math.min(t.endMs, t.startMs + Math.max(0, t.queueMs));
          child('queue', ctx, t.startMs, queueEnd, { 'aivmm.model': t.model, 'aivmm.model.version': t.version });
          const compute: Attributes = { 'aivmm.model': t.model, 'aivmm.model.version': t.version };
          if (t.device) compute['aivmm.device'] = t.device;
          if (t.backend) compute['aivmm.backend'] = t.backend;
          if (t.batchSize !== undefined) {
            compute['aivmm.batch.size'] = t.batchSize;
            // The batch ran from its dispatch (the end of this request's wait) to the answer; the session
            // run is the last computeMs of it (the instance wait of the batch comes first).
            const batch = child('batch', ctx, queueEnd, t.endMs, { 'aivmm.model': t.model, 'aivmm.model.version': t.version, 'aivmm.batch.size': t.batchSize });
            child('compute', api.trace.setSpan(ctx, batch), Math.max(queueEnd, t.endMs - t.computeMs), t.endMs, compute);
          } else {
            child('compute', ctx, queueEnd, Math.min(t.endMs, queueEnd + Math.max(0, t.computeMs)), compute);
          }
        },
        end(o = {}) {
          if (ended) return;
          ended = true;
          if (o.status !== undefined) span.setAttribute(sc.ATTR_HTTP_RESPONSE_STATUS_CODE, o.status);
          // Server spans: 5xx is an error, 4xx is the client's (HTTP semantic conventions).
          if (o.error !== undefined || (o.status !== undefined && o.status >= 500)) {
            span.setAttribute(sc.ATTR_ERROR_TYPE, o.error ?? String(o.status));
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end(hr(o.endMs ?? performance.now()));
        },
      };
    },
    flush: () => provider.forceFlush(),
    async shutdown() {
      if (stopped) return;
      stopped = true;
      await provider.shutdown();
    },
  };
}

/**
 * Fastify hooks: a server span per request, ended when the answer is out (or the client went away).
 * Callback hooks, not async ones: no promise per hook per request.
 */
export function installHttpTracing(app: FastifyInstance, tracing: Tracing): void {
  app.addHook('onRequest', (req, _reply, done) => {
    const route = req.routeOptions.url;
    const q = req.url.indexOf('?');
    const local = req.socket.localPort;
    const attributes: Attributes = {
      'http.request.method': req.method,
      'url.path': q < 0 ? req.url : req.url.slice(0, q),
      'url.scheme': req.protocol,
      'network.protocol.version': req.raw.httpVersion,
    };
    if (route) attributes['http.route'] = route;
    if (req.host) attributes['server.address'] = req.hostname;
    if (local) attributes['server.port'] = local;
    if (req.ip) attributes['client.address'] = req.ip;
    const ua = req.headers['user-agent'];
    if (ua) attributes['user_agent.original'] = ua;
    traces.set(req, tracing.startRequest(route ? `${req.method} ${route}` : req.method, req.headers, attributes));
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    traces.get(req)?.end({ status: reply.statusCode });
    done();
  });
  app.addHook('onRequestAbort', async (req) => {
    traces.get(req)?.end({ error: 'aborted' });
  });
}
