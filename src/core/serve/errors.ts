/**
 * Errors of the serving layer. They are AivmmErrors (stable codes, hints) that also carry the HTTP
 * status the server answers with, so the mapping lives next to the reason and not in every route.
 * Statuses follow KServe/Triton: NOT_FOUND→404, UNAVAILABLE→503, UNSUPPORTED→501, bad input→400.
 */
import { AivmmError, BackendUnavailableError, CancelledError, InferenceError, NotFoundError, NotImplementedError, UsageError } from '../errors.js';

export interface HttpStatusError {
  readonly status: number;
  /** Seconds a client should wait before retrying (sent as Retry-After). */
  readonly retryAfterS?: number;
}

/** A request whose tensors, parameters or JSON do not match what the model or the protocol expects. */
export class BadRequestError extends UsageError implements HttpStatusError {
  readonly status = 400;
}

/** An unknown model or version, or one that exists but is not loaded. */
export class ModelNotFoundError extends NotFoundError implements HttpStatusError {
  readonly status = 404;
}

/** A model (version) that is known but not ready: loading, unloading, failed, or unloaded. */
export class ModelUnavailableError extends BackendUnavailableError implements HttpStatusError {
  readonly status: number = 503;
  readonly retryAfterS?: number;
  constructor(message: string, hint?: string, retryAfterS?: number) {
    super(message, hint);
    if (retryAfterS !== undefined) this.retryAfterS = retryAfterS;
  }
}

/** The model's queue is full: back-pressure instead of unbounded memory. */
export class QueueFullError extends ModelUnavailableError {}

/** A request that waited past its deadline (queued or running). */
export class DeadlineExceededError extends InferenceError implements HttpStatusError {
  readonly status = 504;
}

/** The client went away, or the server is shutting down, before the request ran. */
export class RequestCancelledError extends CancelledError implements HttpStatusError {
  readonly status: number;
  constructor(message: string, status = 499) {
    super(message);
    this.status = status;
  }
}

/** A datatype or feature the protocol has but aivmm does not serve. */
export class UnsupportedError extends NotImplementedError implements HttpStatusError {
  readonly status = 501;
}

/** The HTTP status for anything thrown: the error's own, else by code (STYLE §8), else 500. */
export function httpStatusOf(err: unknown): number {
  const own = (err as Partial<HttpStatusError> | undefined)?.status;
  if (typeof own === 'number' && own >= 400 && own < 600) return own;
  if (err instanceof AivmmError) {
    switch (err.code) {
      case 'USAGE':
      case 'CONFIG':
        return 400;
      case 'AUTH':
        return 401;
      case 'NOT_FOUND':
        return 404;
      case 'BACKEND_UNAVAILABLE':
      case 'LANE_CRASHED': // the lane restarts: retrying is the right move
        return 503;
      case 'NETWORK':
      case 'INTEGRITY':
        return 502;
      case 'CANCELLED':
        return 499;
      case 'NOT_IMPLEMENTED':
        return 501;
      default:
        return 500;
    }
  }
  return 500;
}
