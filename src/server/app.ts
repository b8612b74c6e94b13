/**
 * The HTTP server (Fastify 5): one body parser for every protocol, bearer auth, errors as
 * {"error": "…"}, routes split by protocol, and the OpenAPI document built from the routes' schemas.
 *
 * Bodies are read as bytes by one parser: JSON is parsed here (a malformed body is a 400 naming the
 * problem), and a KServe binary-extension body (Inference-Header-Content-Length) is split into its JSON
 * header and the raw tensor bytes that follow it, kept beside the request for the infer route.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import Fastify, { errorCodes, LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { BufferPool } from '../core/buffer-pool.js';
import type { ModelRegistry, ServeEvent } from '../core/serve/registry.js';
import { BadRequestError } from '../core/serve/errors.js';
import { AuthError } from '../core/errors.js';
import { errorReply, sendError } from './http-errors.js';
import { buildOpenApi, type RouteDoc } from './openapi.js';
import { registerV2Routes } from './routes/v2.js';
import { registerAdminRoutes } from './routes/admin.js';
import { EventHub } from './events.js';
import type { PipelineService } from './pipelines.js';
import { registerOpenAiRoutes } from './routes/openai.js';
import { registerTaskRoutes } from './routes/tasks.js';
import { registerDeviceRoutes } from './routes/devices.js';
import { registerDashboard } from './dashboard.js';
import { registerAudioRoutes } from './routes/audio.js';
import { registerPipelineInfoRoute } from './routes/pipeline-info.js';
import { registerStreamRoutes, registerWebsocket, streamToken } from './routes/stream.js';
import type { ServeMetrics } from '../core/serve-metrics/index.js';
import { installHttpTracing, type Tracing } from './tracing.js';
import { registerBenchRoutes, type BenchService } from './routes/bench.js';

export interface ServerOptions {
  registry: ModelRegistry;
  /** Bearer token required for everything but health; undefined: no auth (loopback only, checked by the CLI). */
  apiKey?: string | undefined;
  /** Largest request body, bytes (413 past it). */
  maxBodyBytes: number;
  /** Default per-request deadline, ms (0: none); a model's `timeout` or the request's `parameters.timeout` wins. */
  requestTimeoutMs: number;
  serverVersion: string;
  /** Interval of the stats events on /v1/events, ms. */
  statsIntervalMs?: number;
  events: EventHub;
  /** Models served through task pipelines (the OpenAI routes); absent: those routes are not registered. */
  pipelines?: PipelineService | undefined;
  /** Placement of devices that were asked for but are unusable, with their reasons. */
  unavailableDevices?: () => { device: string; reason: string }[];
  /** The worker lanes (device, backend, pid, memory) for /v1/ps. */
  lanes?: () => Promise<{ device: string; backend: string; pid?: number; rssBytes?: number; instances?: number }[]>;
  /** Prometheus metrics (GET /metrics); absent: no /metrics route and nothing recorded. */
  metrics?: ServeMetrics | undefined;
  /** GET /metrics without the API key (for scrapers that cannot send one, e.g. pod-annotation discovery). */
  metricsPublic?: boolean | undefined;
  /** OpenTelemetry tracing (./tracing.ts): a server span per request; absent: no hook, nothing recorded. */
  tracing?: Tracing | undefined;
  /** Benchmarks from the dashboard (/v1/bench); absent: those routes are not registered. */
  bench?: BenchService | undefined;
  /**
   * Buffers that binary-extension request bodies are read into, reused request after request (those not
   * moved to a lane thread); absent: a fresh buffer per body.
   */
  buffers?: BufferPool | undefined;
  /** Structured JSON logs (pino, through Fastify): one line per request at debug; absent: no logs. */
  logger?: { level: string; stream: { write(line: string): unknown } } | undefined;
}

/** Raw tensor bytes after the JSON header of a binary-extension request. */
const binaryBodies = new WeakMap<FastifyRequest, Uint8Array>();

export function binaryOf(req: FastifyRequest): Uint8Array | undefined {
  return binaryBodies.get(req);
}

/** Whether the request's binary bytes sit in a buffer of its own (the pooled reader's), aligned: tensors may view them in place. */
export function binaryInPlace(req: FastifyRequest): boolean {
  return pooledBodies.has(req);
}

/** Pooled body buffers by request, and whether a run still reads them past the answer. */
const pooledBodies = new WeakMap<FastifyRequest, { buffer: ArrayBuffer; pool: BufferPool; held: boolean }>();

/**
 * The request's pooled body buffer goes back to the pool once `settled` has settled (the run whose feeds are
 * views of it), not when the answer is sent: a request answered 504 at its deadline may still be computing.
 */
export function holdBodyUntil(req: FastifyRequest, settled: Promise<unknown>): void {
  const e = pooledBodies.get(req);
  if (!e || e.held) return;
  e.held = true;
  const give = (): void => e.pool.give(e.buffer);
  void settled.then(give, give);
}

/** Bodies above this are gathered as they arrive rather than read into one buffer of their announced size. */
const MAX_POOLED_BODY = 16 * 1024 * 1024;

/**
 * Reads a request body. A binary-extension body of a known length (64 KiB to 16 MiB) goes straight into one
 * buffer taken from `pool`, placed so that the tensor bytes after the JSON header
 * (Inference-Header-Content-Length) start 8-byte aligned, so decodeInputs can view them in place: one copy
 * (socket chunks → buffer) against three before (the chunks joined, the tensor copied to align it, the copy
 * cloned by the lane's relay thread), and a buffer that comes back for the next request.
 * Any other body is gathered and joined. The same limits and errors as Fastify's own reader: 413 past
 * `limit`, 400 when Content-Length disagrees with the bytes received.
 */
function readBody(
  req: FastifyRequest,
  payload: Readable,
  limit: number,
  pool: BufferPool | undefined,
  done: (err: Error | null, body?: Uint8Array) => void,
): void {
  const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
  if (declared !== undefined && declared > limit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
  const headerLen = Number(req.headers['inference-header-content-length']);
  const pooled =
    pool !== undefined &&
    declared !== undefined &&
    Number.isInteger(declared) &&
    declared >= 64 * 1024 &&
    declared <= MAX_POOLED_BODY &&
    Number.isInteger(headerLen) &&
    headerLen >= 0 &&
    headerLen <= declared;
  const pad = pooled ? (8 - (headerLen % 8)) % 8 : 0;
  // Taken when the first bytes arrive, not on the headers alone: a client that announces a large body and
  // sends nothing holds no buffer.
  let buffer: ArrayBuffer | undefined;
  let view: Uint8Array | undefined;
  const chunks: Buffer[] = [];
  let received = 0;
  const finish = (err: Error | null): void => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onError);
    if (err) {
      if (buffer) pool?.give(buffer);
      return done(err);
    }
    if (buffer && pool) pooledBodies.set(req, { buffer, pool, held: false });
    // joined (a copy even of one chunk, as Fastify's reader does: a parser never holds a view of the socket's read buffer)
    return done(null, view ?? Buffer.concat(chunks, received));
  };
  const onData = (chunk: Buffer | string): void => {
    const c = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (received + c.length > limit) return finish(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    if (pooled && !buffer && pool) {
      buffer = pool.take(pad + (declared as number));
      view = new Uint8Array(buffer, pad, declared);
    }
    if (view) {
      if (received + c.length > view.length) return finish(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      view.set(c, received);
    } else {
      chunks.push(c);
    }
    received += c.length;
  };
  const onEnd = (): void => finish(declared === undefined || received === declared ? null : new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
  const onError = (err: Error & { statusCode?: number }): void => {
    if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
    finish(err);
  };
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onError);
  payload.resume();
}

export interface ServerState {
  /** Set once the models given at start are loaded; /v2/health/ready answers 200 from then until shutdown. */
  ready: boolean;
  closing: boolean;
}

function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function buildServer(opts: ServerOptions, state: ServerState): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger
      ? {
          level: opts.logger.level,
          stream: opts.logger.stream,
          // the API key never reaches a log line, whatever a serializer or a route logs
          redact: {
            paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'authorization', 'apiKey'],
            censor: '[redacted]',
          },
        }
      : false,
    // the access line is ours (onResponse, at debug), not Fastify's two per request at info
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.maxBodyBytes,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // No coercion: a tensor's shape "3" is a bad request, not [3].
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  const routes: RouteDoc[] = [];
  app.addHook('onRoute', (r) => {
    if (r.method === 'HEAD' || (Array.isArray(r.method) && r.method.includes('HEAD') && r.method.length === 1)) return;
    if ((r.config as { hidden?: boolean } | undefined)?.hidden) return;
    routes.push({ method: r.method, url: r.url, ...(r.schema ? { schema: r.schema as NonNullable<RouteDoc['schema']> } : {}) });
  });

  app.removeAllContentTypeParsers();
  const parse = (req: FastifyRequest, body: Uint8Array, done: (err: Error | null, body?: unknown) => void): void => {
    if (body.length === 0) return done(null, undefined);
    const headerLen = req.headers['inference-header-content-length'];
    try {
      if (headerLen !== undefined) {
        const n = Number(headerLen);
        if (!Number.isInteger(n) || n < 0 || n > body.length)
          throw new BadRequestError(`Inference-Header-Content-Length is ${String(headerLen)}, the body has ${body.length} bytes`);
        binaryBodies.set(req, new Uint8Array(body.buffer, body.byteOffset + n, body.length - n));
        return done(null, JSON.parse(Buffer.from(body.buffer, body.byteOffset, n).toString('utf8')));
      }
      const type = String(req.headers['content-type'] ?? '');
      // Triton parses any other content type as JSON (curl -d sends application/x-www-form-urlencoded).
      if (/^(application\/octet-stream|image\/|audio\/)/i.test(type)) {
        binaryBodies.set(req, new Uint8Array(body.buffer, body.byteOffset, body.length));
        return done(null, undefined);
      }
      return done(null, JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')));
    } catch (err) {
      const e = err instanceof SyntaxError ? new BadRequestError(`malformed JSON body: ${err.message}`) : err;
      return done(e as Error, undefined);
    }
  };
  const pool = opts.buffers;
  // Binary-extension bodies of a known length (every request of `aivmm bench --server`, perf_analyzer and
  // Triton's clients) are read into a pooled buffer; anything else is gathered and joined.
  app.addContentTypeParser('*', (req, payload, done) =>
    readBody(req, payload, opts.maxBodyBytes, pool, (err, body) => (err ? done(err, undefined) : parse(req, body as Uint8Array, done))),
  );
  if (pool) {
    app.addHook('onResponse', async (req) => {
      const e = pooledBodies.get(req);
      if (e && !e.held) pool.give(e.buffer);
    });
  }

  // before the auth hook, so a refused request is traced too
  if (opts.tracing) installHttpTracing(app, opts.tracing);
  if (opts.pipelines) await registerWebsocket(app, opts.maxBodyBytes);
  app.addHook('onRequest', async (req, reply) => {
    if (!opts.apiKey) return;
    const path = req.url.split('?')[0] ?? '';
    if (path === '/v2/health/live' || path === '/v2/health/ready' || path === '/health') return;
    // The dashboard's static files carry no data (a browser cannot send a bearer header when it loads a
    // page); the page asks for the key and sends it with every API call.
    if (req.method === 'GET' && (path === '/' || path.startsWith('/assets/') || path.startsWith('/dashboard/') || path === '/favicon.ico')) return;
    if (path === '/metrics' && opts.metricsPublic) return;
    const auth = req.headers.authorization ?? '';
    // A WebSocket (the browser cannot set headers on one) may carry the key in its subprotocol or query.
    const token = /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim() ?? (path.startsWith('/v1/stream/') ? streamToken(req) : undefined);
    if (token === undefined || !sameKey(token, opts.apiKey)) {
      return sendError(
        reply,
        new AuthError(
          token !== undefined ? 'invalid API key' : 'missing API key',
          'send Authorization: Bearer <key> (the --api-key / AIVMM_API_KEY of the server)',
        ),
      );
    }
    return undefined;
  });

  if (opts.logger) {
    app.addHook('onResponse', async (req, reply) => {
      req.log.debug({ method: req.method, url: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime * 1000) / 1000 }, 'request');
    });
  }
  app.setErrorHandler((err, _req, reply) => sendError(reply, err));
  app.setNotFoundHandler((req, reply) => {
    const { body } = errorReply(new BadRequestError(`no route ${req.method} ${req.url.split('?')[0]}`));
    return reply
      .code(404)
      .type('application/json')
      .send(JSON.stringify({ ...body, code: 'NOT_FOUND', hint: 'GET /openapi.json lists every route' }));
  });

  registerV2Routes(app, opts, state);
  registerAdminRoutes(app, opts, state);
  if (opts.pipelines) {
    registerOpenAiRoutes(app, opts.pipelines, () => opts.registry.names(), opts.metrics);
    await registerTaskRoutes(app, opts.pipelines, opts.maxBodyBytes, opts.metrics);
    registerAudioRoutes(app, opts.pipelines, opts.metrics);
    registerPipelineInfoRoute(app, opts.pipelines);
    registerStreamRoutes(app, opts.pipelines);
  }
  registerDeviceRoutes(app, opts);
  if (opts.bench) registerBenchRoutes(app, opts.bench);
  registerDashboard(app);

  const metrics = opts.metrics;
  if (metrics) {
    app.get(
      '/metrics',
      { schema: { summary: 'Prometheus metrics (text exposition format; docs/metrics.md lists every series)', tags: ['Observability'] } },
      async (_req, reply) => reply.type(metrics.contentType).send(await metrics.exposition()),
    );
  }
  app.get('/openapi.json', { config: { hidden: true } }, async (_req, reply) =>
    reply.type('application/json').send(JSON.stringify(buildOpenApi(routes, opts.serverVersion))),
  );
  app.addHook('preClose', async () => {
    await opts.bench?.close();
    opts.events.closeAll();
  });
  await app.ready();
  return app;
}

export type { ServeEvent };
