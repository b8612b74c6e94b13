/**
 * What aivmm allocates from sizes the user or a model gives (batch, --shape, --size, input dims) is
 * estimated before it is allocated: past the budget it is a UsageError (exit 2) naming the estimate, not
 * "Invalid typed array length" or a process growing past the machine's memory.
 */
import { totalmem } from 'node:os';
import { UsageError } from './errors.js';

/** Half of this machine's memory, and never more than 4 GiB for one set of tensors (V8 caps one typed array near there). */
export function allocationBudget(): number {
  return Math.min(4 * 1024 ** 3, Math.floor(totalmem() / 2));
}

const gib = (n: number): string => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(n >= 100 * 1024 ** 3 ? 0 : 1)} GiB` : `${Math.ceil(n / 1024 ** 2)} MiB`);

/** Throws when `bytes` (an estimate of what `what` would take) exceeds the budget. */
export function checkAllocation(what: string, bytes: number, hint = 'use smaller dimensions (a smaller batch, --shape or --size)', budget = allocationBudget()): void {
  if (!(bytes <= budget)) throw new UsageError(`${what} would need about ${Number.isFinite(bytes) ? gib(bytes) : 'unbounded memory'}, more than the ${gib(budget)} aivmm allows itself here`, hint);
}
