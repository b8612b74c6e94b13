/**
 * Typed errors. Core throws these with a stable `code` and an actionable `hint`;
 * only src/cli/exit-codes.ts turns a code into a process exit status.
 */
export type ErrorCode =
  | 'INTERNAL'
  | 'USAGE'
  | 'CONFIG'
  | 'NETWORK'
  | 'NOT_FOUND'
  | 'AUTH'
  | 'BACKEND_UNAVAILABLE'
  | 'INFERENCE'
  | 'INTEGRITY'
  | 'REGRESSION'
  | 'NOT_IMPLEMENTED'
  | 'CANCELLED'
  | 'LANE_CRASHED'
  | 'TOO_NOISY'
  | 'GATE_UNMATCHED';

export abstract class AivmmError extends Error {
  abstract readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** A bad flag, argument or value given by the user. */
export class UsageError extends AivmmError {
  readonly code = 'USAGE' as const;
}
/** An invalid configuration file or environment variable. */
export class ConfigError extends AivmmError {
  readonly code = 'CONFIG' as const;
}
/** Connection failures, timeouts, 5xx answers after retries. */
export class NetworkError extends AivmmError {
  readonly code = 'NETWORK' as const;
}
/** A model, revision, file or device that does not exist. */
export class NotFoundError extends AivmmError {
  readonly code = 'NOT_FOUND' as const;
}
/** 401/403: a gated or private model, or a bad token. */
export class AuthError extends AivmmError {
  readonly code = 'AUTH' as const;
}
/** A runtime, execution provider or device that cannot be used here. */
export class BackendUnavailableError extends AivmmError {
  readonly code = 'BACKEND_UNAVAILABLE' as const;
}
/** Session creation or a run failed (bad model, shape or dtype mismatch). */
export class InferenceError extends AivmmError {
  readonly code = 'INFERENCE' as const;
}
/** A checksum or size mismatch. */
export class IntegrityError extends AivmmError {
  readonly code = 'INTEGRITY' as const;
}
/** A benchmark slower than its baseline beyond the allowed threshold. */
export class RegressionError extends AivmmError {
  readonly code = 'REGRESSION' as const;
}
/** A command that exists in the interface but is not built yet. */
export class NotImplementedError extends AivmmError {
  readonly code = 'NOT_IMPLEMENTED' as const;
}
/** Ctrl-C or an abort signal. */
export class CancelledError extends AivmmError {
  readonly code = 'CANCELLED' as const;
}
/** The bench gate cannot decide: its interval spans both no change and the limit (issue #21). */
export class TooNoisyError extends AivmmError {
  readonly code = 'TOO_NOISY' as const;
}
/** The bench gate compared nothing: no row of the run matches the baseline. */
export class GateUnmatchedError extends AivmmError {
  readonly code = 'GATE_UNMATCHED' as const;
}
/** A worker lane (src/runtime) died, or was stopped on a timeout, with this request in flight. */
export class LaneCrashedError extends AivmmError {
  readonly code = 'LANE_CRASHED' as const;
}

export function isAivmmError(err: unknown): err is AivmmError {
  return err instanceof AivmmError;
}

/** A readable one-line message from anything thrown (native addons throw plain Errors or strings). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message;
  return String(err);
}

const BY_CODE: Readonly<Record<ErrorCode, new (message: string, hint?: string) => AivmmError>> = {
  INTERNAL: class InternalError extends AivmmError {
    readonly code = 'INTERNAL' as const;
  },
  USAGE: UsageError,
  CONFIG: ConfigError,
  NETWORK: NetworkError,
  NOT_FOUND: NotFoundError,
  AUTH: AuthError,
  BACKEND_UNAVAILABLE: BackendUnavailableError,
  INFERENCE: InferenceError,
  INTEGRITY: IntegrityError,
  REGRESSION: RegressionError,
  NOT_IMPLEMENTED: NotImplementedError,
  CANCELLED: CancelledError,
  LANE_CRASHED: LaneCrashedError,
  TOO_NOISY: TooNoisyError,
  GATE_UNMATCHED: GateUnmatchedError,
};

/** Rebuilds a typed error that crossed a process boundary as { code, message, hint }. */
export function errorFromCode(code: string, message: string, hint?: string): AivmmError {
  const Ctor = BY_CODE[code as ErrorCode] ?? BY_CODE.INTERNAL;
  return new Ctor(message, hint);
}

/** { code, message, hint } of anything thrown, for a process boundary or a JSON report. */
export function errorRecord(err: unknown): { code: string; message: string; hint?: string } {
  if (isAivmmError(err)) return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  return { code: 'INTERNAL', message: errorMessage(err) };
}
