/**
 * KServe v2 / Open Inference Protocol REST, as Triton implements it: server and model metadata, health,
 * readiness, inference with JSON tensors or the binary tensor extension, and per-model statistics.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DeadlineExceededError, BadRequestError } from '../../core/serve/errors.js';
import { decodeInputs, encodeOutputs, tensorMetadata, type InferRequest } from '../../core/serve/tensors.js';
import { checkModelName } from '../../core/serve/repository.js';
import { clientFrom, priorityFrom } from '../../core/serve/scheduler.js';
import { binaryInPlace, binaryOf, holdBodyUntil, type ServerOptions, type ServerState } from '../app.js';
import { sendError } from '../http-errors.js';
import { failureReason } from '../../core/serve-metrics/index.js';
import { recordInference } from '../tracing.js';

const nameParam = { type: 'string', maxLength: 128 };
const modelParams = { type: 'object', properties: { name: nameParam }, required: ['name'] };
const versionParams = { type: 'object', properties: { name: nameParam, version: { type: 'string', maxLength: 20 } }, required: ['name', 'version'] };

const tensorSchema = {
  type: 'object',
  required: ['name', 'shape', 'datatype'],
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer' } },
    datatype: { type: 'string' },
    parameters: { type: 'object' },
    data: {},
  },
};
export const INFER_BODY = {
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string' },
    parameters: { type: 'object' },
    inputs: { type: 'array', items: tensorSchema },
    outputs: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, parameters: { type: 'object' } } } },
  },
};
const metaTensor = {
  type: 'object',
  properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' } } },
};
const MODEL_META = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    versions: { type: 'array', items: { type: 'string' } },
    platform: { type: 'string' },
    inputs: { type: 'array', items: metaTensor },
    outputs: { type: 'array', items: metaTensor },
  },
};

const json = (reply: FastifyReply, status: number, body: unknown): FastifyReply => reply.code(status).type('application/json').send(JSON.stringify(body));

/** The request's deadline: parameters.timeout (µs, Triton's schedule-policy field), the model's timeout, the server's. */
function deadlineMs(body: InferRequest, modelTimeoutMs: number, serverTimeoutMs: number): number | undefined {
  const t = body.parameters?.['timeout'];
  if (t !== undefined) {
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) throw new BadRequestError('parameters.timeout must be a number of microseconds');
    if (t > 0) return t / 1000;
  }
  const ms = modelTimeoutMs || serverTimeoutMs;
  return ms > 0 ? ms : undefined;
}

export function registerV2Routes(app: FastifyInstance, opts: ServerOptions, state: ServerState): void {
  const reg = opts.registry;
  const metrics = opts.metrics;
  const tags = ['KServe v2'];

  app.get('/v2', { schema: { summary: 'Server metadata', tags } }, async (_req, reply) =>
    json(reply, 200, { name: 'aivmm', version: opts.serverVersion, extensions: ['binary_tensor_data', 'model_repository', 'statistics', 'schedule_policy'] }),
  );
  app.get('/v2/health/live', { schema: { summary: 'Liveness: 200 while the process serves HTTP', tags } }, async (_req, reply) =>
    json(reply, 200, { live: true }),
  );
  app.get(
    '/v2/health/ready',
    { schema: { summary: 'Readiness: 200 once the startup models are loaded, 503 while loading or shutting down', tags } },
    async (_req, reply) => json(reply, state.ready && !state.closing ? 200 : 503, { ready: state.ready && !state.closing }),
  );

  const metadata = async (req: FastifyRequest<{ Params: { name: string; version?: string } }>, reply: FastifyReply): Promise<FastifyReply> => {
    const { name, version } = req.params;
    const held = await reg.acquire(checkModelName(name), version);
    try {
      const v = held.version;
      const versions = version ? [version] : reg.served(name).map((s) => String(s.version));
      return json(reply, 200, { name, versions, platform: 'onnxruntime_onnx', inputs: v.inputs.map(tensorMetadata), outputs: v.outputs.map(tensorMetadata) });
    } finally {
      held.release();
    }
  };
  const metaDoc = { 200: { description: 'Model metadata: inputs and outputs with datatype and shape (-1: any size)', schema: MODEL_META } };
  app.get(
    '/v2/models/:name',
    { schema: { summary: 'Model metadata (the highest served version)', tags, params: modelParams, 'x-responses': metaDoc } },
    metadata,
  );
  app.get(
    '/v2/models/:name/versions/:version',
    { schema: { summary: 'Model version metadata', tags, params: versionParams, 'x-responses': metaDoc } },
    metadata,
  );

  const ready = async (req: FastifyRequest<{ Params: { name: string; version?: string } }>, reply: FastifyReply): Promise<FastifyReply> => {
    const { name, version } = req.params;
    checkModelName(name);
    reg.settings(name); // 404 for an unknown model
    const ok = reg.isReady(name, version);
    return json(reply, ok ? 200 : 503, { name, ...(version ? { version } : {}), ready: ok });
  };
  app.get('/v2/models/:name/ready', { schema: { summary: 'Model readiness: 200 when ready, 503 when not', tags, params: modelParams } }, ready);
  app.get('/v2/models/:name/versions/:version/ready', { schema: { summary: 'Model version readiness', tags, params: versionParams } }, ready);

  const infer = async (req: FastifyRequest<{ Params: { name: string; version?: string }; Body: InferRequest }>, reply: FastifyReply): Promise<FastifyReply> => {
    const t0 = performance.now();
    const { name, version } = req.params;
    const body = req.body;
    if (!body || typeof body !== 'object')
      throw new BadRequestError('the body must be a JSON inference request', 'see POST /v2/models/{name}/infer in /openapi.json');
    const held = await reg.acquire(checkModelName(name), version);
    const release = held.release; // idempotent (LoadedVersion.hold)
    const v = held.version;
    try {
      const tIn = performance.now();
      // Priority (the aivmm-priority header or parameters.priority) and the fair-share client, before any decoding work.
      const priority = priorityFrom(req.headers, body.parameters, v.queue.policy);
      const client = clientFrom(req.headers, req.ip);
      const feeds = decodeInputs(body, v.inputs, v.outputs, binaryOf(req), { inPlace: binaryInPlace(req) });
      const inputS = (performance.now() - tIn) / 1000;
      const limit = deadlineMs(body, reg.settings(name).timeoutMs, opts.requestTimeoutMs);
      const ac = new AbortController();
      // The client closing the connection before the answer cancels the request if it is still queued.
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) ac.abort();
      });
      const deadline = limit !== undefined ? t0 + limit : undefined;
      const tRun = performance.now();
      const running = v.run(feeds, { signal: ac.signal, deadline, priority, client });
      // The version stays held until the run settles, even when the answer has gone out (deadline), and so
      // does the pooled body the feeds are views of.
      void running.then(release, release);
      holdBodyUntil(req, running);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await (deadline === undefined
        ? running
        : Promise.race([
            running,
            new Promise<never>((_, reject) => {
              timer = setTimeout(
                () =>
                  reject(
                    new DeadlineExceededError(
                      `the request took longer than its ${Math.round(limit as number)} ms deadline`,
                      "raise the timeout (parameters.timeout in µs, the model's timeout, or --request-timeout)",
                    ),
                  ),
                Math.max(0, deadline - performance.now()),
              );
            }),
          ]).finally(() => clearTimeout(timer)));
      const tOut = performance.now();
      const only = v.placement.length === 1 ? v.placement[0] : undefined;
      recordInference(req, {
        model: v.model,
        version: String(v.version),
        startMs: tRun,
        endMs: tOut,
        queueMs: result.queueMs,
        computeMs: result.computeMs,
        batchSize: result.batchSize,
        device: only?.device ?? v.placement.map((p) => p.device).join(','),
        backend: only?.backend,
      });
      const enc = encodeOutputs(body, result.value, v.outputs, { name, version: String(v.version) });
      const serverMs = performance.now() - t0;
      if (metrics) {
        const labels = { model: v.model, version: String(v.version) };
        const batch = Object.values(feeds)[0]?.dims[0] ?? 1;
        const inferS = result.computeMs / 1000;
        metrics.recordRequest({
          ...labels,
          outcome: 'success',
          queueS: result.queueMs / 1000,
          inputS,
          inferS,
          outputS: (performance.now() - tOut) / 1000,
          totalS: serverMs / 1000,
          batch,
        });
        const device = v.placement.length === 1 ? v.placement[0]!.device : undefined;
        metrics.recordBatch({ ...labels, size: batch, inferS, ...(device ? { device } : {}) });
      }
      void reply.header(
        'server-timing',
        `queue;dur=${result.queueMs.toFixed(3)}, compute;dur=${result.computeMs.toFixed(3)}, overhead;dur=${Math.max(0, serverMs - result.queueMs - result.computeMs).toFixed(3)}`,
      );
      const header = JSON.stringify(enc.json);
      if (!enc.binary.length) return reply.code(200).type('application/json').send(header);
      const head = Buffer.from(header, 'utf8');
      void reply.header('inference-header-content-length', String(head.length));
      return reply
        .code(200)
        .type('application/octet-stream')
        .send(Buffer.concat([head, ...enc.binary.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength))]));
    } catch (err) {
      release();
      metrics?.recordRequest({
        model: v.model,
        version: String(v.version),
        outcome: 'failure',
        reason: failureReason(err),
        totalS: (performance.now() - t0) / 1000,
      });
      return sendError(reply, err);
    }
  };
  // Shedding cheaply: a request its level would refuse anyway (full, no fair-share place to take) is
  // answered 503 + Retry-After from its headers alone, before its body is read, parsed or decoded — under
  // overload those refusals are most of the traffic. Only when the priority is known without the body:
  // the aivmm-priority header, or a model with one level. Anything unclear goes on to the handler.
  const shedEarly = async (req: FastifyRequest<{ Params: { name: string; version?: string } }>, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const { name, version } = req.params;
    let served: ReturnType<typeof reg.served>;
    try {
      served = reg.served(name);
    } catch {
      return undefined;
    }
    const v = version === undefined ? served[0] : served.find((s) => String(s.version) === version);
    if (!v) return undefined;
    const policy = v.queue.policy;
    if (req.headers['aivmm-priority'] === undefined && policy.levels > 1) return undefined;
    let priority: number;
    try {
      priority = priorityFrom(req.headers, undefined, policy);
    } catch {
      return undefined; // the handler answers the 400
    }
    const err = v.refuseEarly({ priority, client: clientFrom(req.headers, req.ip) });
    if (!err) return undefined;
    metrics?.recordRequest({ model: v.model, version: String(v.version), outcome: 'failure', reason: failureReason(err), totalS: reply.elapsedTime / 1000 });
    return sendError(reply, err);
  };
  const inferDoc = {
    'x-content-types': ['application/octet-stream'],
    'x-responses': {
      200: { description: 'Outputs as JSON, or (binary extension) a JSON header of Inference-Header-Content-Length bytes followed by raw tensors' },
      400: { description: 'Bad input: unknown input, wrong datatype, shape (the expected shape is named) or size' },
      404: { description: 'Unknown model or version' },
      413: { description: 'Body larger than --max-body' },
      503: { description: 'Model not ready, or its queue is full (Retry-After says when to retry)' },
      504: { description: 'The request passed its deadline' },
    },
  };
  app.post(
    '/v2/models/:name/infer',
    {
      schema: { summary: 'Inference (JSON tensors or the binary tensor extension)', tags, params: modelParams, body: INFER_BODY, ...inferDoc },
      onRequest: shedEarly,
    },
    infer,
  );
  app.post(
    '/v2/models/:name/versions/:version/infer',
    { schema: { summary: 'Inference on one version', tags, params: versionParams, body: INFER_BODY, ...inferDoc }, onRequest: shedEarly },
    infer,
  );

  app.get('/v2/models/stats', { schema: { summary: 'Statistics of every served model version (statistics extension)', tags } }, async (_req, reply) =>
    json(reply, 200, { model_stats: reg.stats() }),
  );
  app.get(
    '/v2/models/:name/stats',
    { schema: { summary: 'Statistics of one model', tags, params: modelParams } },
    async (req: FastifyRequest<{ Params: { name: string } }>, reply) => json(reply, 200, { model_stats: reg.stats(checkModelName(req.params.name)) }),
  );
}
