/**
 * The JSON contract every front end shares: the versioned schema names (documented in docs/schemas) and
 * the envelopes around them. The CLI prints exactly one envelope on stdout with --json; a server answers
 * with the same documents, so both speak one format. Pure data: no I/O here.
 */

export const SCHEMAS = Object.freeze({
  devices: 'aivmm/devices@1',
  /** Also read back by core (src/core/bench/baseline.ts) as a --baseline: the two must agree. */
  bench: 'aivmm/bench@1',
  pull: 'aivmm/pull@1',
  models: 'aivmm/models@1',
  quantize: 'aivmm/quantize@1',
  setup: 'aivmm/setup@1',
  run: 'aivmm/run@1',
  error: 'aivmm/error@1',
});

export type SchemaName = (typeof SCHEMAS)[keyof typeof SCHEMAS];

export interface OkEnvelope<T> {
  schema: string;
  ok: true;
  data: T;
  warnings: string[];
}

export interface ErrorEnvelope {
  schema: typeof SCHEMAS.error;
  ok: false;
  error: { code: string; exitCode: number; message: string; hint?: string };
}

export type Envelope<T> = OkEnvelope<T> | ErrorEnvelope;

export function okEnvelope<T>(schema: string, data: T, warnings: string[] = []): OkEnvelope<T> {
  return { schema, ok: true, data, warnings };
}

export function errorEnvelope(code: string, exitCode: number, message: string, hint?: string): ErrorEnvelope {
  const error: ErrorEnvelope['error'] = { code, exitCode, message };
  if (hint) error.hint = hint;
  return { schema: SCHEMAS.error, ok: false, error };
}

/** One document, pretty-printed, newline-terminated: what --json writes. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
