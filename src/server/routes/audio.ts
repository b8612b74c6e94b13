/**
 * POST /v1/audio/transcriptions (OpenAI-compatible, multipart/form-data): `file` (a WAV file), `model`,
 * optional `language` (ISO code; detected otherwise), `response_format` json | text | verbose_json;
 * `prompt` and `temperature` are accepted and ignored (decoding is greedy); aivmm's own `max_tokens` field
 * caps the tokens per 30 s window (default 224). The speech pipeline runs in
 * the model's lane: WAV decode, resampling to 16 kHz mono, log-mel, encoder, cached greedy decoding.
 * Errors use OpenAI's shape, {"error": {"message", "type", "code"}}. With metrics, each request to a
 * served model counts as a success or a failure by reason (as the chat and embedding routes do).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequestError, RequestCancelledError } from '../../core/serve/errors.js';
import { checkModelName } from '../../core/serve/repository.js';
import type { ServeMetrics } from '../../core/serve-metrics/index.js';
import { errorReply } from '../http-errors.js';
import type { PipelineService } from '../pipelines.js';
import { recordPipelineRequest } from './openai.js';

const FORMATS = ['json', 'text', 'verbose_json'] as const;
type Format = (typeof FORMATS)[number];

function sendOpenAiError(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body, retryAfterS } = errorReply(err);
  if (retryAfterS !== undefined) void reply.header('retry-after', String(retryAfterS));
  const type = status === 400 || status === 413 ? 'invalid_request_error' : status === 401 ? 'authentication_error' : status === 404 ? 'not_found_error' : status === 503 ? 'server_overloaded' : 'server_error';
  return reply.code(status).type('application/json').send(JSON.stringify({ error: { message: body.error, type, code: body.code ?? null, param: null } }));
}

function isWav(b: Uint8Array): boolean {
  return b.length >= 12 && String.fromCharCode(...b.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...b.subarray(8, 12)) === 'WAVE';
}

/** Needs @fastify/multipart registered (routes/tasks.ts registers it for the whole server). */
export function registerAudioRoutes(app: FastifyInstance, pipelines: PipelineService, metrics?: ServeMetrics): void {
  app.post(
    '/v1/audio/transcriptions',
    {
      schema: {
        summary: 'Speech to text (OpenAI): multipart with file (WAV), model, language?, response_format json|text|verbose_json',
        tags: ['OpenAI-compatible'],
        'x-content-types': ['multipart/form-data'],
      },
      errorHandler: (err, _req, reply) => sendOpenAiError(reply, err),
    },
    async (req: FastifyRequest, reply) => {
      const t0 = performance.now();
      let model: string | undefined;
      try {
        if (!req.isMultipart()) throw new BadRequestError('send multipart/form-data with a file part and a model field', 'curl -F file=@speech.wav -F model=whisper …/v1/audio/transcriptions');
        const fields: Record<string, string> = {};
        let audio: Uint8Array | undefined;
        let filename = 'the upload';
        for await (const part of req.parts()) {
          if (part.type === 'file') {
            const bytes = new Uint8Array(await part.toBuffer());
            if (part.fieldname === 'file') {
              audio = bytes;
              filename = part.filename || filename;
            }
          } else if (typeof part.value === 'string') fields[part.fieldname] = part.value;
        }
        model = fields['model'];
        if (!audio?.length) throw new BadRequestError('the request has no file', 'send the audio as the multipart part named file (a WAV file)');
        if (!model) throw new BadRequestError('the request has no model field', 'add -F model=<name> (GET /v1/models lists them)');
        const name = checkModelName(model);
        const format = (fields['response_format'] ?? 'json') as Format;
        if (!FORMATS.includes(format)) throw new BadRequestError(`response_format '${format}' is not supported`, `use one of ${FORMATS.join(', ')}`);
        if (!isWav(audio)) throw new BadRequestError(`${filename} is not a WAV file`, 'convert it first, e.g. ffmpeg -i input.mp3 -ar 16000 -ac 1 output.wav');
        const language = fields['language']?.trim().toLowerCase();
        if (language !== undefined && language !== '' && !/^[a-z]{2,3}$/.test(language)) throw new BadRequestError(`language '${fields['language']}' is not an ISO-639-1 code`, 'e.g. en, de, fr; leave it out to detect the language');
        let maxTokens: number | undefined;
        if (fields['max_tokens'] !== undefined) {
          maxTokens = Number(fields['max_tokens']);
          if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 440) throw new BadRequestError(`max_tokens must be an integer in [1, 440], not '${fields['max_tokens']}'`);
        }
        const ac = new AbortController();
        reply.raw.on('close', () => {
          if (!reply.raw.writableFinished) ac.abort();
        });
        const r = await pipelines.transcribe(name, audio, { ...(language ? { language } : {}), ...(maxTokens ? { maxTokens } : {}) }, ac.signal);
        recordPipelineRequest(metrics, pipelines, name, t0, {});
        if (format === 'text') return reply.type('text/plain; charset=utf-8').send(`${r.text}\n`);
        if (format === 'json') return reply.type('application/json').send(JSON.stringify({ text: r.text }));
        return reply.type('application/json').send(
          JSON.stringify({ task: 'transcribe', language: r.language, duration: r.seconds, text: r.text, segments: [{ id: 0, seek: 0, start: 0, end: r.seconds, text: r.text }], usage: { type: 'duration', seconds: Math.ceil(r.seconds) } }),
        );
      } catch (err) {
        const gone = reply.raw.destroyed && !reply.raw.writableFinished;
        if (model) recordPipelineRequest(metrics, pipelines, model, t0, { error: gone ? new RequestCancelledError('the client went away') : err });
        return sendOpenAiError(reply, err);
      }
    },
  );
}
