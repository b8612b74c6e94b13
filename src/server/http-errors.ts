/** Everything thrown in a route becomes `{"error": "…"}` with the status KServe/Triton clients expect. */
import type { FastifyError, FastifyReply } from 'fastify';
import { errorMessage, isAivmmError } from '../core/errors.js';
import { httpStatusOf } from '../core/serve/errors.js';

export interface ErrorBody {
  error: string;
  /** aivmm's stable error code (USAGE, NOT_FOUND, …) and what to do next. */
  code?: string;
  hint?: string;
}

/** Status and body for anything thrown: typed errors by their status, Fastify's own by theirs. */
export function errorReply(err: unknown): { status: number; body: ErrorBody; retryAfterS?: number } {
  if (isAivmmError(err)) {
    const body: ErrorBody = { error: err.message, code: err.code };
    if (err.hint) body.hint = err.hint;
    const retry = (err as { retryAfterS?: number }).retryAfterS;
    return { status: httpStatusOf(err), body, ...(retry !== undefined ? { retryAfterS: retry } : {}) };
  }
  const fe = err as Partial<FastifyError>;
  if (fe.validation) return { status: 400, body: { error: `invalid request: ${fe.message ?? 'schema validation failed'}`, code: 'USAGE' } };
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, body: { error: 'the request body is larger than the server accepts', code: 'USAGE', hint: 'raise --max-body, or send tensors with the binary extension (smaller than JSON)' } };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return { status: fe.statusCode, body: { error: errorMessage(err), code: 'USAGE' } };
  return { status: 500, body: { error: `internal error: ${errorMessage(err)}`, code: 'INTERNAL' } };
}

export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body, retryAfterS } = errorReply(err);
  if (retryAfterS !== undefined) void reply.header('retry-after', String(retryAfterS));
  if (status === 401) void reply.header('www-authenticate', 'Bearer');
  return reply.code(status).type('application/json').send(JSON.stringify(body));
}
