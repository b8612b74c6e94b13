/**
 * `--ep-option` keys the CPU execution provider takes. onnxruntime-node's CPU EP reads one provider
 * option (`useArena`); keys with a dot are session configuration entries (`session.…`, `mlas.…`) and go
 * to every EP. Anything else used to vanish silently (and was recorded in the report as if applied): it
 * is refused, as the CUDA EP's C API refuses unknown keys.
 */
import { UsageError } from '../errors.js';

export const CPU_EP_OPTIONS: readonly string[] = ['useArena'];

/** Throws a UsageError naming the first key the CPU EP does not take. */
export function checkCpuEpOptions(options: Readonly<Record<string, unknown>>): void {
  for (const key of Object.keys(options)) {
    if (key.includes('.') || CPU_EP_OPTIONS.includes(key)) continue;
    throw new UsageError(`--ep-option ${key}: the CPU execution provider has no option '${key}'`, `its options: ${CPU_EP_OPTIONS.join(', ')}; keys with a dot are session config entries (e.g. session.intra_op.allow_spinning=0)`);
  }
}
