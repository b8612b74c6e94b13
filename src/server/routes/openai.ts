/**
 * OpenAI-compatible routes over the task pipelines: /v1/models, /v1/chat/completions and /v1/completions
 * (SSE streaming with `stream: true`, a usage chunk with `stream_options.include_usage`), /v1/embeddings.
 * Errors here use OpenAI's shape, {"error": {"message", "type", "code"}}, which its clients read.
 * With metrics, every request to a served model counts as a success or a failure (by reason) like a v2
 * request (version "1": pipelines have no versions), and each generation records its time to first
 * token and time per output token (docs/metrics.md).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequestError, RequestCancelledError } from '../../core/serve/errors.js';
import { failureReason, type ServeMetrics } from '../../core/serve-metrics/index.js';
import type { ChatMessage } from '../../core/tasks/types.js';
import { errorReply } from '../http-errors.js';
import type { GenerateRequest, PipelineService } from '../pipelines.js';

const tags = ['OpenAI-compatible'];

function sendOpenAiError(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body, retryAfterS } = errorReply(err);
  if (retryAfterS !== undefined) void reply.header('retry-after', String(retryAfterS));
  const type = status === 400 ? 'invalid_request_error' : status === 401 ? 'authentication_error' : status === 404 ? 'not_found_error' : status === 503 ? 'server_overloaded' : 'server_error';
  return reply.code(status).type('application/json').send(JSON.stringify({ error: { message: body.error, type, code: body.code ?? null, param: null } }));
}

const CHAT_BODY = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    model: { type: 'string' },
    messages: { type: 'array', minItems: 1, items: { type: 'object', required: ['role'], properties: { role: { type: 'string' }, content: {} } } },
    max_tokens: { type: ['integer', 'null'], minimum: 1 },
    max_completion_tokens: { type: ['integer', 'null'], minimum: 1 },
    temperature: { type: ['number', 'null'], minimum: 0, maximum: 2 },
    top_p: { type: ['number', 'null'], exclusiveMinimum: 0, maximum: 1 },
    seed: { type: ['integer', 'null'] },
    n: { type: ['integer', 'null'], minimum: 1, maximum: 1 },
    stream: { type: ['boolean', 'null'] },
    stream_options: { type: ['object', 'null'], properties: { include_usage: { type: 'boolean' } } },
  },
};
const COMPLETION_BODY = {
  type: 'object',
  required: ['model', 'prompt'],
  properties: { ...CHAT_BODY.properties, messages: undefined, prompt: { type: 'string' } },
};
delete (COMPLETION_BODY.properties as Record<string, unknown>)['messages'];
const EMBED_BODY = {
  type: 'object',
  required: ['model', 'input'],
  properties: {
    model: { type: 'string' },
    input: { anyOf: [{ type: 'string' }, { type: 'array', minItems: 1, maxItems: 256, items: { type: 'string' } }] },
    encoding_format: { enum: ['float', 'base64'] },
    dimensions: { type: 'integer' },
    user: { type: 'string' },
  },
};

interface ChatBody {
  model: string;
  messages?: { role: string; content?: unknown }[];
  prompt?: string;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
}

/** The client closed the connection before the answer was written. */
function clientGone(reply: FastifyReply): boolean {
  return reply.raw.destroyed && !reply.raw.writableFinished;
}

/** OpenAI message content: a string or an array of {type: 'text', text} parts. */
function contentText(c: unknown, i: number): string {
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) {
    return c
      .map((p) => {
        if (p && typeof p === 'object' && (p as { type?: string }).type === 'text') return String((p as { text?: unknown }).text ?? '');
        throw new BadRequestError(`messages[${i}]: only text content parts are supported`);
      })
      .join('');
  }
  if (c === null || c === undefined) return '';
  throw new BadRequestError(`messages[${i}].content must be a string or text parts`);
}

/** Pipelines have no versions; their request series carry version "1". */
export const PIPELINE_VERSION = '1';

/** Records one OpenAI-route request's outcome (nothing for a model that is not served: no series for it). */
export function recordPipelineRequest(metrics: ServeMetrics | undefined, pipelines: PipelineService, model: string, t0: number, r: { error?: unknown; queueMs?: number; batch?: number }): void {
  if (!metrics || !pipelines.has(model)) return;
  const totalS = (performance.now() - t0) / 1000;
  const queueS = (r.queueMs ?? 0) / 1000;
  const base = { model, version: PIPELINE_VERSION, queueS, inferS: Math.max(0, totalS - queueS), totalS };
  if (r.error === undefined) metrics.recordRequest({ ...base, outcome: 'success', ...(r.batch ? { batch: r.batch } : {}) });
  else metrics.recordRequest({ ...base, outcome: 'failure', reason: failureReason(r.error) });
}

export function registerOpenAiRoutes(app: FastifyInstance, pipelines: PipelineService, listTensorModels: () => string[], metrics?: ServeMetrics): void {
  app.get('/v1/models', { schema: { summary: 'Models (OpenAI format)', tags } }, async (_req, reply) => {
    const seen = new Set<string>();
    const data: unknown[] = [];
    for (const m of pipelines.list()) {
      seen.add(m.name);
      data.push({ id: m.name, object: 'model', created: m.created, owned_by: 'aivmm', ...(m.task ? { task: m.task } : {}) });
    }
    for (const n of listTensorModels()) if (!seen.has(n)) data.push({ id: n, object: 'model', created: 0, owned_by: 'aivmm' });
    return reply.type('application/json').send(JSON.stringify({ object: 'list', data }));
  });
  app.get('/v1/models/:id', { schema: { summary: 'One model (OpenAI format)', tags, params: { type: 'object', properties: { id: { type: 'string' } } } } }, async (req: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const m = pipelines.list().find((x) => x.name === req.params.id);
    if (!m && !listTensorModels().includes(req.params.id)) return sendOpenAiError(reply, new BadRequestError(`unknown model '${req.params.id}'`)).code(404);
    return reply.type('application/json').send(JSON.stringify({ id: req.params.id, object: 'model', created: m?.created ?? 0, owned_by: 'aivmm' }));
  });

  /** A body the route's schema refused (400): counted as a bad_input failure of the model it names. */
  const invalid = (req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply => {
    const model = (req.body as { model?: unknown } | undefined)?.model;
    if (typeof model === 'string') recordPipelineRequest(metrics, pipelines, model, performance.now(), { error: err });
    return sendOpenAiError(reply, err);
  };

  const complete = (kind: 'chat' | 'text') => async (req: FastifyRequest<{ Body: ChatBody }>, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const b = req.body;
    const t0 = performance.now();
    // Time to first token and per output token, from the request's arrival (queue wait included).
    let firstAt: number | undefined;
    let queueMs = 0;
    const generated = (r: { tokens: number; finish: string }): void => {
      const end = performance.now();
      if (r.finish === 'interrupted') {
        recordPipelineRequest(metrics, pipelines, b.model, t0, { error: new RequestCancelledError('the client went away'), queueMs });
        return;
      }
      recordPipelineRequest(metrics, pipelines, b.model, t0, { queueMs });
      if (!metrics || firstAt === undefined || r.tokens === 0) return;
      metrics.recordGeneration({
        model: b.model,
        operation: kind === 'chat' ? 'chat' : 'text_completion',
        tokens: r.tokens,
        ttftS: (firstAt - t0) / 1000,
        ...(r.tokens > 1 ? { tpotS: (end - firstAt) / 1000 / (r.tokens - 1) } : {}),
        durationS: (end - t0) / 1000,
      });
    };
    const onToken = (tokens: number): void => {
      if (tokens > 0) firstAt ??= performance.now();
    };
    try {
      const input: string | ChatMessage[] = kind === 'chat' ? (b.messages ?? []).map((m, i) => ({ role: m.role as ChatMessage['role'], content: contentText(m.content, i) })) : (b.prompt as string);
      const g: GenerateRequest = { input };
      const maxTokens = b.max_completion_tokens ?? b.max_tokens;
      if (maxTokens) g.maxTokens = maxTokens;
      if (typeof b.temperature === 'number') g.temperature = b.temperature;
      if (typeof b.top_p === 'number') g.topP = b.top_p;
      if (typeof b.seed === 'number') g.seed = b.seed;
      if (kind === 'text') g.chatTemplate = false;
      const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
      const created = Math.floor(Date.now() / 1000);
      const ac = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) ac.abort();
      });
      if (!b.stream) {
        const r = await pipelines.generate(b.model, g, (_d, tokens) => onToken(tokens), ac.signal);
        queueMs = r.queueMs;
        generated(r);
        const finish = r.finish === 'length' ? 'length' : 'stop';
        const usage = { prompt_tokens: r.promptTokens, completion_tokens: r.tokens, total_tokens: r.promptTokens + r.tokens };
        const choice = kind === 'chat' ? { index: 0, message: { role: 'assistant', content: r.text }, finish_reason: finish, logprobs: null } : { index: 0, text: r.text, finish_reason: finish, logprobs: null };
        return reply.type('application/json').send(JSON.stringify({ id, object: kind === 'chat' ? 'chat.completion' : 'text_completion', created, model: b.model, choices: [choice], usage }));
      }
      // Streaming: errors before the first token are ordinary JSON errors; after it, the stream ends.
      await pipelines.task(b.model).then((t) => {
        if (t !== 'text-generation') throw new BadRequestError(`model '${b.model}' is a ${t} model, not a text-generation model`);
      });
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const object = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
      const send = (choices: unknown[], extra: Record<string, unknown> = {}): void => {
        res.write(`data: ${JSON.stringify({ id, object, created, model: b.model, choices, ...extra })}\n\n`);
      };
      const includeUsage = b.stream_options?.include_usage === true;
      const usageNull = includeUsage ? { usage: null } : {};
      if (kind === 'chat') send([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }], usageNull);
      try {
        const r = await pipelines.generate(
          b.model,
          g,
          (delta, tokens) => {
            onToken(tokens);
            if (delta) send([kind === 'chat' ? { index: 0, delta: { content: delta }, finish_reason: null, logprobs: null } : { index: 0, text: delta, finish_reason: null, logprobs: null }], usageNull);
          },
          ac.signal,
        );
        queueMs = r.queueMs;
        generated(r);
        const finish = r.finish === 'length' ? 'length' : 'stop';
        send([kind === 'chat' ? { index: 0, delta: {}, finish_reason: finish, logprobs: null } : { index: 0, text: '', finish_reason: finish, logprobs: null }], usageNull);
        if (includeUsage) send([], { usage: { prompt_tokens: r.promptTokens, completion_tokens: r.tokens, total_tokens: r.promptTokens + r.tokens } });
      } catch (err) {
        recordPipelineRequest(metrics, pipelines, b.model, t0, { error: ac.signal.aborted ? new RequestCancelledError('the client went away') : err });
        const { body } = errorReply(err);
        res.write(`data: ${JSON.stringify({ error: { message: body.error, type: 'server_error', code: body.code ?? null } })}\n\n`);
      }
      res.end('data: [DONE]\n\n');
      return undefined;
    } catch (err) {
      recordPipelineRequest(metrics, pipelines, b.model, t0, { error: clientGone(reply) ? new RequestCancelledError('the client went away') : err });
      if (reply.sent || reply.raw.headersSent) return undefined;
      return sendOpenAiError(reply, err);
    }
  };
  const completionDoc = { 'x-responses': { 200: { description: 'A completion, or with stream: true Server-Sent Events of chunks ending in data: [DONE]' } } };
  app.post<{ Body: ChatBody }>('/v1/chat/completions', { schema: { summary: 'Chat completion (OpenAI); stream: true for SSE', tags, body: CHAT_BODY, ...completionDoc }, errorHandler: (err, req, reply) => invalid(req, reply, err) }, complete('chat'));
  app.post<{ Body: ChatBody }>('/v1/completions', { schema: { summary: 'Text completion (OpenAI, no chat template); stream: true for SSE', tags, body: COMPLETION_BODY, ...completionDoc }, errorHandler: (err, req, reply) => invalid(req, reply, err) }, complete('text'));

  app.post<{ Body: { model: string; input: string | string[]; encoding_format?: 'float' | 'base64' } }>(
    '/v1/embeddings',
    { schema: { summary: 'Sentence embeddings (OpenAI): mean-pooled, L2-normalised', tags, body: EMBED_BODY }, errorHandler: (err, req, reply) => invalid(req, reply, err) },
    async (req, reply) => {
      const b = req.body;
      const texts = typeof b.input === 'string' ? [b.input] : b.input;
      const t0 = performance.now();
      try {
        const ac = new AbortController();
        reply.raw.on('close', () => {
          if (!reply.raw.writableFinished) ac.abort();
        });
        const out = await pipelines.embed(b.model, texts, ac.signal);
        recordPipelineRequest(metrics, pipelines, b.model, t0, { batch: texts.length });
        const data = out.map((o, index) => ({
          object: 'embedding',
          index,
          embedding: b.encoding_format === 'base64' ? Buffer.from(new Float32Array(o.embedding).buffer).toString('base64') : o.embedding,
        }));
        const tokens = out.reduce((a, o) => a + o.tokens, 0);
        return reply.type('application/json').send(JSON.stringify({ object: 'list', data, model: b.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }));
      } catch (err) {
        recordPipelineRequest(metrics, pipelines, b.model, t0, { error: clientGone(reply) ? new RequestCancelledError('the client went away') : err });
        return sendOpenAiError(reply, err);
      }
    },
  );
}
