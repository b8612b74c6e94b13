/**
 * KServe v2 / Open Inference Protocol over gRPC (grpc_predict_v2.proto), beside the HTTP server and over
 * the same registry, lanes and admission as the REST v2 route: health, metadata, inference (raw and typed
 * contents in, raw_output_contents out as Triton answers), and Triton's statistics and repository RPCs.
 *
 * Errors are the REST route's typed errors mapped onto gRPC status codes (grpcStatusOf). The largest
 * message a client may send is the server's body limit (--max-body): past it grpc-js answers
 * RESOURCE_EXHAUSTED before anything is decoded. A client that cancels, or whose deadline passes, cancels
 * its request if it is still queued (the REST route does the same when the connection closes).
 */
import { timingSafeEqual } from 'node:crypto';
import { Server, ServerCredentials, loadPackageDefinition, status, Metadata, type GrpcObject, type ServerUnaryCall, type ServiceDefinition, type sendUnaryData, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { AuthError, UsageError, errorMessage } from '../../core/errors.js';
import { BadRequestError, DeadlineExceededError } from '../../core/serve/errors.js';
import { checkModelName } from '../../core/serve/repository.js';
import { decodeInputs, encodeOutputs, tensorMetadata } from '../../core/serve/tensors.js';
import { failureReason } from '../../core/serve-metrics/index.js';
import type { ServerOptions, ServerState } from '../app.js';
import { errorReply } from '../http-errors.js';
import type { RequestTrace, Tracing } from '../tracing.js';
import { inferenceProto } from './proto.js';
import { toInferRequest, type GrpcInferRequest } from './tensors.js';

export type GrpcOptions = Pick<ServerOptions, 'registry' | 'apiKey' | 'maxBodyBytes' | 'requestTimeoutMs' | 'serverVersion' | 'metrics' | 'tracing'>;

const SERVICE = 'inference.GRPCInferenceService';
/** The server span of a call, when tracing is on (ModelInfer adds its queue / batch / compute children). */
const callTraces = new WeakMap<object, RequestTrace>();
/** gRPC codes that make a server span an error (OpenTelemetry's RPC conventions); the others are the client's. */
const SERVER_ERROR_CODES = new Set<number>([status.UNKNOWN, status.DEADLINE_EXCEEDED, status.UNIMPLEMENTED, status.INTERNAL, status.UNAVAILABLE, status.DATA_LOSS]);

/**
 * Every RPC in a server span named `inference.GRPCInferenceService/{method}` that continues the client's
 * `traceparent` metadata (W3C Trace Context), as the HTTP routes do; `rpc.grpc.status_code` is its answer.
 */
function traced(tracing: Tracing, handlers: UntypedServiceImplementation): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const [method, h] of Object.entries(handlers)) {
    const handler = h as (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => void;
    out[method] = (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => {
      const attributes: Record<string, string | number> = { 'rpc.system': 'grpc', 'rpc.service': SERVICE, 'rpc.method': method };
      const peer = call.getPeer?.();
      if (peer) attributes['network.peer.address'] = peer;
      const trace = tracing.startRequest(`${SERVICE}/${method}`, call.metadata.getMap(), attributes);
      callTraces.set(call, trace);
      handler(call, (err, res, trailer, flags) => {
        const code = err ? (err.code ?? status.UNKNOWN) : status.OK;
        trace.setAttributes({ 'rpc.grpc.status_code': code });
        trace.end(SERVER_ERROR_CODES.has(code) ? { error: status[code] ?? String(code) } : {});
        cb(err, res, trailer, flags);
      });
    };
  }
  return out;
}

/** The HTTP status of an error (http-errors.ts) as the gRPC code Triton's clients expect. */
export function grpcCodeOf(httpStatus: number): status {
  switch (httpStatus) {
    case 400:
      return status.INVALID_ARGUMENT;
    case 401:
      return status.UNAUTHENTICATED;
    case 403:
      return status.PERMISSION_DENIED;
    case 404:
      return status.NOT_FOUND;
    case 413:
      return status.RESOURCE_EXHAUSTED;
    case 499:
      return status.CANCELLED;
    case 501:
      return status.UNIMPLEMENTED;
    case 502:
    case 503:
      return status.UNAVAILABLE;
    case 504:
      return status.DEADLINE_EXCEEDED;
    default:
      return httpStatus >= 400 && httpStatus < 500 ? status.FAILED_PRECONDITION : status.INTERNAL;
  }
}

/** A thrown error as a gRPC status: the message and hint as details, aivmm's code and Retry-After as trailing metadata. */
export function grpcStatusOf(err: unknown): Partial<ServiceError> & { code: status; details: string; metadata: Metadata } {
  const { status: http, body, retryAfterS } = errorReply(err);
  const metadata = new Metadata();
  if (body.code) metadata.set('aivmm-code', body.code);
  if (retryAfterS !== undefined) metadata.set('retry-after', String(retryAfterS));
  return { code: grpcCodeOf(http), details: body.hint ? `${body.error} (${body.hint})` : body.error, metadata };
}

function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A handler that answers with whatever it returns (and `trailer`, the trailing metadata), or the status of whatever it throws. */
type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>, trailer: Metadata) => Promise<Res>;

function unary<Req, Res>(opts: GrpcOptions, open: boolean, fn: Handler<Req, Res>): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return (call, cb) => {
    const trailer = new Metadata();
    void (async () => {
      if (!open && opts.apiKey) {
        const auth = String(call.metadata.get('authorization')[0] ?? '');
        const m = /^Bearer\s+(.+)$/i.exec(auth);
        if (!m || !sameKey(m[1]!.trim(), opts.apiKey)) throw new AuthError(m ? 'invalid API key' : 'missing API key', 'send metadata authorization: Bearer <key> (the --api-key / AIVMM_API_KEY of the server)');
      }
      return fn(call, trailer);
    })().then(
      (res) => cb(null, res, trailer),
      (err: unknown) => cb(grpcStatusOf(err)),
    );
  };
}

/** The request's deadline in ms from t0: the client's (grpc-timeout), parameters.timeout (µs), the model's, the server's — the earliest. */
function deadlineMs(params: Record<string, unknown>, client: Date | number, modelTimeoutMs: number, serverTimeoutMs: number, t0: number): number | undefined {
  const limits: number[] = [];
  const t = params['timeout'];
  if (t !== undefined) {
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) throw new BadRequestError('parameters.timeout must be a number of microseconds');
    if (t > 0) limits.push(t / 1000);
  }
  if (!limits.length && (modelTimeoutMs || serverTimeoutMs)) limits.push(modelTimeoutMs || serverTimeoutMs);
  const c = client instanceof Date ? client.getTime() : client;
  if (Number.isFinite(c)) limits.push(Math.max(0, c - Date.now() - (performance.now() - t0)));
  return limits.length ? Math.min(...limits) : undefined;
}

export function grpcHandlers(opts: GrpcOptions, state: ServerState): UntypedServiceImplementation {
  const reg = opts.registry;
  const metrics = opts.metrics;
  const handlers: UntypedServiceImplementation = {
    ServerLive: unary(opts, true, async () => ({ live: true })),
    ServerReady: unary(opts, true, async () => ({ ready: state.ready && !state.closing })),
    ModelReady: unary<{ name: string; version: string }, { ready: boolean }>(opts, false, async (call) => {
      const { name, version } = call.request;
      checkModelName(name);
      reg.settings(name); // NOT_FOUND for an unknown model
      return { ready: reg.isReady(name, version || undefined) };
    }),
    ServerMetadata: unary(opts, true, async () => ({ name: 'aivmm', version: opts.serverVersion, extensions: ['model_repository', 'statistics', 'schedule_policy'] })),
    ModelMetadata: unary<{ name: string; version: string }, unknown>(opts, false, async (call) => {
      const { name, version } = call.request;
      const held = await reg.acquire(checkModelName(name), version || undefined);
      try {
        const v = held.version;
        const versions = version ? [version] : reg.served(name).map((s) => String(s.version));
        return { name, versions, platform: 'onnxruntime_onnx', inputs: v.inputs.map(tensorMetadata), outputs: v.outputs.map(tensorMetadata) };
      } finally {
        held.release();
      }
    }),
    ModelInfer: unary<GrpcInferRequest, unknown>(opts, false, async (call, trailer) => {
      const t0 = performance.now();
      const req = call.request;
      const name = req.model_name;
      const held = await reg.acquire(checkModelName(name), req.model_version || undefined);
      const release = held.release; // idempotent (LoadedVersion.hold)
      const v = held.version;
      try {
        const tIn = performance.now();
        const { body, binary } = toInferRequest(req, v.inputs);
        const feeds = decodeInputs(body, v.inputs, v.outputs, binary);
        const inputS = (performance.now() - tIn) / 1000;
        const limit = deadlineMs(body.parameters ?? {}, call.getDeadline(), reg.settings(name).timeoutMs, opts.requestTimeoutMs, t0);
        const ac = new AbortController();
        // A cancelled call (the client's cancel, its deadline, a dropped connection) cancels the request if still queued.
        const onCancel = (): void => ac.abort();
        call.on('cancelled', onCancel);
        if (call.cancelled) ac.abort();
        const deadline = limit !== undefined ? t0 + limit : undefined;
        const tRun = performance.now();
        const running = v.run(feeds, { signal: ac.signal, deadline });
        void running.then(release, release);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const result = await (deadline === undefined
          ? running
          : Promise.race([
              running,
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new DeadlineExceededError(`the request took longer than its ${Math.round(limit as number)} ms deadline`, 'raise the deadline (the client\'s timeout, parameters.timeout in µs, the model\'s timeout, or --request-timeout)')), Math.max(0, deadline - performance.now()));
              }),
            ]).finally(() => {
              clearTimeout(timer);
              call.off('cancelled', onCancel);
            }));
        const tOut = performance.now();
        const only = v.placement.length === 1 ? v.placement[0] : undefined;
        callTraces.get(call)?.inference({ model: v.model, version: String(v.version), startMs: tRun, endMs: tOut, queueMs: result.queueMs, computeMs: result.computeMs, batchSize: result.batchSize, device: only?.device ?? v.placement.map((p) => p.device).join(','), backend: only?.backend });
        // Raw outputs for every output, as Triton answers (binary_data parameters do not apply to gRPC).
        const enc = encodeOutputs({ inputs: [], parameters: { binary_data_output: true }, ...(body.outputs ? { outputs: body.outputs } : {}) }, result.value, v.outputs, { name, version: String(v.version) });
        const res = {
          model_name: name,
          model_version: String(v.version),
          id: req.id ?? '',
          outputs: enc.json.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape })),
          raw_output_contents: enc.binary.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
        };
        const serverMs = performance.now() - t0;
        // The REST route's Server-Timing, as trailing metadata (scripts/bench-serve-overhead.mjs --grpc reads it).
        trailer.set('server-timing', `queue;dur=${result.queueMs.toFixed(3)}, compute;dur=${result.computeMs.toFixed(3)}, overhead;dur=${Math.max(0, serverMs - result.queueMs - result.computeMs).toFixed(3)}`);
        if (metrics) {
          const labels = { model: v.model, version: String(v.version) };
          const batch = Object.values(feeds)[0]?.dims[0] ?? 1;
          const inferS = result.computeMs / 1000;
          metrics.recordRequest({ ...labels, outcome: 'success', queueS: result.queueMs / 1000, inputS, inferS, outputS: (performance.now() - tOut) / 1000, totalS: serverMs / 1000, batch });
          const device = v.placement.length === 1 ? v.placement[0]!.device : undefined;
          metrics.recordBatch({ ...labels, size: batch, inferS, ...(device ? { device } : {}) });
        }
        return res;
      } catch (err) {
        release();
        metrics?.recordRequest({ model: v.model, version: String(v.version), outcome: 'failure', reason: failureReason(err), totalS: (performance.now() - t0) / 1000 });
        throw err;
      }
    }),
    // Triton's clients (perf_analyzer among them) read the configuration before they infer. max_batch_size
    // 0: the shapes are the model's own, a leading -1 is a batch dimension the client sizes itself.
    ModelConfig: unary<{ name: string; version: string }, unknown>(opts, false, async (call) => {
      const { name, version } = call.request;
      const held = await reg.acquire(checkModelName(name), version || undefined);
      try {
        const v = held.version;
        const dt = (d: string): string => `TYPE_${d === 'BYTES' ? 'STRING' : d}`;
        const input = v.inputs.map(tensorMetadata).map((t) => ({ name: t.name, data_type: dt(t.datatype), dims: t.shape }));
        const output = v.outputs.map(tensorMetadata).map((t) => ({ name: t.name, data_type: dt(t.datatype), dims: t.shape }));
        return { config: { name, platform: 'onnxruntime_onnx', backend: 'onnxruntime', max_batch_size: 0, input, output } };
      } finally {
        held.release();
      }
    }),
    ModelStatistics: unary<{ name: string; version: string }, unknown>(opts, false, async (call) => {
      const { name, version } = call.request;
      const stats = reg.stats(name ? checkModelName(name) : undefined).filter((s) => !version || s.version === version);
      const now = Date.now();
      const ns = (ms: number): string => String(Math.round(ms * 1e6));
      return {
        model_stats: stats.map((s) => {
          const q = s.inference_stats;
          const executions = s.batching ? s.batching.batches : q.success;
          return {
            name: s.name,
            version: s.version,
            last_inference: String(q.success + q.failure > 0 ? now - s.last_inference_ms_ago : 0),
            inference_count: String(s.batching ? s.batching.items : q.success),
            execution_count: String(executions),
            inference_stats: {
              success: { count: String(q.success), ns: ns(q.queueMs + q.computeMs) },
              fail: { count: String(q.failure), ns: '0' },
              queue: { count: String(q.success), ns: ns(q.queueMs) },
              compute_infer: { count: String(q.success), ns: ns(q.computeMs) },
            },
            // per batch size: the count is exact; the time is the batcher's learned cost (EWMA) × count, an estimate
            batch_stats: s.batching ? Object.entries(s.batching.sizes).map(([size, n]) => ({ batch_size: size, compute_infer: { count: String(n), ns: ns((s.batching?.costs[Number(size)]?.ms ?? 0) * n) } })) : [],
          };
        }),
      };
    }),
    RepositoryIndex: unary<{ repository_name: string; ready: boolean }, unknown>(opts, false, async (call) => {
      await reg.scan().catch(() => undefined);
      return { models: reg.index(call.request.ready ? { ready: true } : {}).map((e) => ({ name: e.name, version: e.version ?? '', state: e.state, reason: e.reason ?? '' })) };
    }),
    RepositoryModelLoad: unary<{ model_name: string }, unknown>(opts, false, async (call) => {
      const name = checkModelName(call.request.model_name);
      if (!reg.names().includes(name)) await reg.scan();
      await reg.load(name, { byUser: true });
      return {};
    }),
    RepositoryModelUnload: unary<{ model_name: string }, unknown>(opts, false, async (call) => {
      await reg.unload(checkModelName(call.request.model_name), 'unloaded through the API', { byUser: true });
      return {};
    }),
  };
  return opts.tracing ? traced(opts.tracing, handlers) : handlers;
}

export interface RunningGrpc {
  host: string;
  port: number;
  /** host:port as a gRPC client dials it ([::1]:8001 for IPv6). */
  address: string;
  /** Stops accepting calls; resolves once the running ones have answered, or after `forceAfterMs` when it cancels them. */
  close(forceAfterMs: number): Promise<void>;
}

export function grpcServiceDefinition(): ServiceDefinition {
  const pkg = loadPackageDefinition(inferenceProto()) as unknown as { inference: GrpcObject & { GRPCInferenceService: { service: ServiceDefinition } } };
  return pkg.inference.GRPCInferenceService.service;
}

export async function startGrpcServer(opts: GrpcOptions, state: ServerState, host: string, port: number): Promise<RunningGrpc> {
  const server = new Server({
    // The body limit applies to gRPC messages too: past it grpc-js answers RESOURCE_EXHAUSTED unread.
    'grpc.max_receive_message_length': opts.maxBodyBytes,
    'grpc.max_send_message_length': -1,
  });
  server.addService(grpcServiceDefinition(), grpcHandlers(opts, state));
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${h}:${port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(new UsageError(`cannot listen for gRPC on ${h}:${port}: ${errorMessage(err)}`, 'choose another --grpc-port (0: any free port)')) : resolve(p))),
  );
  let closing: Promise<void> | undefined;
  return {
    host,
    port: bound,
    address: `${h}:${bound}`,
    close: (forceAfterMs) =>
      (closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), forceAfterMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      })),
  };
}
