/**
 * The one table of exit codes: a public contract (documented in the README; any change is Breaking).
 * Core errors carry codes; only this table turns them into numbers.
 */
import type { ErrorCode } from '../core/errors.js';

export const EXIT_CODES: Readonly<Record<ErrorCode | 'OK', number>> = Object.freeze({
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  CONFIG: 3,
  NETWORK: 4,
  NOT_FOUND: 5,
  AUTH: 6,
  BACKEND_UNAVAILABLE: 7,
  INFERENCE: 8,
  INTEGRITY: 9,
  REGRESSION: 10,
  NOT_IMPLEMENTED: 11,
  LANE_CRASHED: 12,
  TOO_NOISY: 13,
  GATE_UNMATCHED: 14,
  CANCELLED: 130,
});

export function exitCodeFor(code: ErrorCode): number {
  return EXIT_CODES[code];
}
