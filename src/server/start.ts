/**
 * Starts and stops a server: builds the app over a registry, listens, publishes registry events and
 * periodic stats to the event stream, polls the repository for hot reload, and drains on shutdown.
 */
import type { FastifyInstance } from 'fastify';
import type { ModelRegistry, ServeEvent } from '../core/serve/registry.js';
import { RequestCancelledError } from '../core/serve/errors.js';
import { buildServer, type ServerOptions, type ServerState } from './app.js';
import { EventHub } from './events.js';
import type { ServeMetrics } from '../core/serve-metrics/index.js';
import { startTelemetry, type TelemetrySampler } from '../core/devices/telemetry.js';
import type { RunningGrpc } from './grpc/service.js';

export interface StartOptions extends Omit<ServerOptions, 'events' | 'registry'> {
  host: string;
  port: number;
  /** KServe v2 gRPC on this port of the same host (0: any free port); undefined: no gRPC. */
  grpcPort?: number | undefined;
  /** Repository polling interval for hot reload, ms; 0: off. */
  pollMs?: number;
  events?: EventHub;
  /** Device telemetry for /metrics (needs `metrics`): sampled every `periodMs`, stopped on close. */
  telemetry?: { sampler: TelemetrySampler; periodMs: number; onError?: (e: unknown) => void } | undefined;
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  host: string;
  port: number;
  state: ServerState;
  events: EventHub;
  /** The gRPC service, when `grpcPort` was given. */
  grpc?: RunningGrpc;
  /**
   * Stops accepting, lets queued and running requests finish for up to `drainMs`, then fails what is
   * still queued (503) and closes the registry.
   */
  close(drainMs?: number): Promise<void>;
}

/** Registry events go to the hub; call before the registry loads anything. */
export function forwardEvents(events: EventHub, metrics?: ServeMetrics): (e: ServeEvent) => void {
  const loaded = new Set<string>();
  return (e) => {
    events.publish(e as unknown as { type: string });
    if (!metrics || e.type !== 'model' || e.version === '0') return;
    const key = `${e.model}\u0000${e.version}`;
    const failed = e.reason?.startsWith('load failed') ?? false;
    if (failed) metrics.recordLoad(e.model, e.version, 'load_failed');
    else if (e.state === 'READY') {
      metrics.recordLoad(e.model, e.version, 'load');
      loaded.add(key);
    }
    if (e.state === 'UNAVAILABLE' && loaded.delete(key) && !failed) {
      // forgetModel drops every series of the version (the load events too); the unload is counted after it
      void metrics.forgetModel(e.model, e.version).then(() => metrics.recordLoad(e.model, e.version, 'unload'));
    }
  };
}

export async function startServer(registry: ModelRegistry, opts: StartOptions, state: ServerState = { ready: false, closing: false }): Promise<RunningServer> {
  const events = opts.events ?? new EventHub();
  const app = await buildServer({ ...opts, registry, events }, state);
  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let grpc: RunningGrpc | undefined;
  if (opts.grpcPort !== undefined) {
    const { startGrpcServer } = await import('./grpc/service.js');
    grpc = await startGrpcServer({ ...opts, registry }, state, opts.host, opts.grpcPort).catch(async (err: unknown) => {
      await app.close();
      throw err;
    });
  }
  registry.startTimers();

  const metrics = opts.metrics;
  const telemetry = metrics && opts.telemetry
    ? startTelemetry(opts.telemetry.sampler, { periodMs: opts.telemetry.periodMs, onSample: (s) => s.devices.forEach((d) => metrics.setDevice(d)), ...(opts.telemetry.onError ? { onError: opts.telemetry.onError } : {}) })
    : undefined;
  const pendingTimer = metrics
    ? setInterval(() => {
        for (const m of registry.stats()) metrics.setPending(m.name, m.version, m.inference_stats.pending ?? 0);
      }, Math.min(1000, opts.statsIntervalMs ?? 1000))
    : undefined;
  pendingTimer?.unref();

  const statsTimer = setInterval(() => {
    if (!events.size) return;
    const mem = process.memoryUsage();
    events.publish({ type: 'stats', at: Date.now(), models: registry.stats(), process: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed }, traffic: metrics?.traffic() ?? [] });
  }, opts.statsIntervalMs ?? 2000);
  statsTimer.unref();

  let polling = false;
  const pollTimer = opts.pollMs
    ? setInterval(() => {
        if (polling) return;
        polling = true;
        void registry.poll().finally(() => {
          polling = false;
        });
      }, opts.pollMs)
    : undefined;
  pollTimer?.unref();

  let closing: Promise<void> | undefined;
  const close = (drainMs = 10_000): Promise<void> => {
    closing ??= (async () => {
      state.closing = true;
      clearInterval(statsTimer);
      if (pendingTimer) clearInterval(pendingTimer);
      telemetry?.stop();
      if (pollTimer) clearInterval(pollTimer);
      const drained = app.close();
      // gRPC stops taking calls now; the running ones answer (or fail when the queue is failed below).
      const grpcDrained = grpc?.close(drainMs + 1000);
      const timer = setTimeout(() => registry.failQueued(new RequestCancelledError('the server is shutting down', 503)), drainMs);
      let wait: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([registry.idle(), new Promise((r) => (wait = setTimeout(r, drainMs)))]);
      clearTimeout(wait);
      registry.failQueued(new RequestCancelledError('the server is shutting down', 503));
      // Connections that were busy when close() began go idle once their answer is out; Node's close
      // would wait for them until the keep-alive timeout (Fastify's default: 72 s), so close them then.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 25);
      app.server.closeIdleConnections();
      // A response that never ends (an event stream a client reopened as the server began to close) would
      // hold the close forever: past the drain time and a grace second, every connection is closed.
      const force = setTimeout(() => app.server.closeAllConnections(), drainMs + 1000);
      await drained.finally(() => {
        clearInterval(sweep);
        clearTimeout(force);
      });
      await grpcDrained;
      clearTimeout(timer);
      await registry.close();
      // the spans of the last requests go out before the process exits (an unreachable collector costs
      // the exporter's timeout, 10 s by default, and is not a shutdown failure)
      await opts.tracing?.shutdown().catch(() => undefined);
    })();
    return closing;
  };
  return { app, url: `http://${host}:${port}`, host: opts.host, port, state, events, ...(grpc ? { grpc } : {}), close };
}
