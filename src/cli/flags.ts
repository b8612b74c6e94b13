/** Shared flag parsers: a bad value is one UsageError naming the flag and what it takes. */
import { UsageError } from '../core/errors.js';
import { parseDuration } from '../core/bench/measure.js';
import { BACKEND_IDS, type BackendId } from '../core/devices/types.js';

/** The one default seed of every command that generates data (bench inputs, quantize samples, sampling). */
export const DEFAULT_SEED = 42;

/** An integer ≥ 1 (or ≥ `min`). */
export function positiveInt(flag: string, value: string, min = 1): number {
  const x = Number(value);
  if (!Number.isInteger(x) || x < min) throw new UsageError(`invalid ${flag} '${value}'`, `give an integer ≥ ${min}`);
  return x;
}

/** Any integer. */
export function integer(flag: string, value: string): number {
  const x = Number(value);
  if (!Number.isInteger(x)) throw new UsageError(`invalid ${flag} '${value}'`, 'give an integer');
  return x;
}

/** A number from 0 to 1. */
export function fraction(flag: string, value: string): number {
  const x = Number(value);
  if (!(x >= 0 && x <= 1)) throw new UsageError(`invalid ${flag} '${value}'`, 'give a number from 0 to 1');
  return x;
}

/** A number in [min, max], described by `hint` when out of range. */
export function numberIn(flag: string, value: string, min: number, max: number, hint = `give ${min} to ${max}`): number {
  const x = Number(value);
  if (!(x >= min && x <= max)) throw new UsageError(`invalid ${flag} '${value}'`, hint);
  return x;
}

/** Exactly `n` comma-separated numbers (undefined when the flag is absent). */
export function numberList(flag: string, value: string | undefined, n: number, example = '0.485,0.456,0.406'): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(',').map((x) => Number(x.trim()));
  if (parts.length !== n || parts.some((x) => !Number.isFinite(x))) throw new UsageError(`invalid ${flag} '${value}'`, `give ${n} comma-separated numbers, e.g. ${example}`);
  return parts;
}

/** One of `choices`. */
export function oneOf<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`invalid ${flag} '${value}'`, `give ${choices.join(' or ')}`);
  return value as T;
}

/** A backend id (ort-cpu, ort-cuda, …): a misspelt one is a usage error (exit 2) in every command; a real one that is unavailable is exit 7, later. */
export function backendId(flag: string, value: string): BackendId {
  const v = value.trim().toLowerCase();
  const ids = BACKEND_IDS as readonly string[];
  if (ids.includes(`ort-${v}`)) return `ort-${v}` as BackendId;
  if (!ids.includes(v)) throw new UsageError(`unknown backend '${value}' (${flag})`, `use one of: ${BACKEND_IDS.join(', ')}`);
  return v as BackendId;
}

/**
 * A time, the same in every command (`devices --timeout`, `bench --duration`, `quantize --latency`):
 * 10s, 500ms, 2m, or a bare number of seconds. Milliseconds out; above zero unless `allowZero`.
 */
export function duration(flag: string, value: string, allowZero = false): number {
  const ms = parseDuration(value);
  if (ms === undefined || !(ms > 0 || (allowZero && ms === 0))) throw new UsageError(`invalid ${flag} '${value}'`, 'give a time: 10s, 500ms, 2m or a number of seconds');
  return ms;
}
