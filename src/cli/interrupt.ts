/**
 * Ctrl-C for commands that run long: the first aborts `signal` with a CancelledError (the command
 * finishes the item in hand and reports what it has, exit 130); the second aborts `forced` too and says
 * so, and lets go of the signal, so a third gets Node's default (the process ends). No process.exit here:
 * main() returns the exit code.
 */
import { CancelledError } from '../core/errors.js';

interface SignalSource {
  on(event: NodeJS.Signals, listener: () => void): unknown;
  off(event: NodeJS.Signals, listener: () => void): unknown;
}

export interface Interrupt {
  /** Aborted at the first Ctrl-C (reason: a CancelledError). */
  readonly signal: AbortSignal;
  /** Aborted at the second. */
  readonly forced: AbortSignal;
  /** Stops listening (call in `finally`). */
  dispose(): void;
}

export interface InterruptOptions {
  /** Said on the first Ctrl-C (e.g. what is being finished); nothing when undefined. */
  first?: string;
  /** Said on the second. */
  second?: string;
  write?: (text: string) => void;
  signals?: readonly NodeJS.Signals[];
  /** Where signals come from (default: this process). */
  source?: SignalSource;
}

export function onInterrupt(opts: InterruptOptions = {}): Interrupt {
  const source = opts.source ?? process;
  const signals = opts.signals ?? ['SIGINT'];
  const soft = new AbortController();
  const hard = new AbortController();
  const listener = (): void => {
    if (!soft.signal.aborted) {
      if (opts.first) opts.write?.(opts.first);
      soft.abort(new CancelledError('interrupted'));
      return;
    }
    if (opts.second) opts.write?.(opts.second);
    hard.abort(new CancelledError('interrupted twice'));
    dispose();
  };
  const dispose = (): void => {
    for (const s of signals) source.off(s, listener);
  };
  for (const s of signals) source.on(s, listener);
  return { signal: soft.signal, forced: hard.signal, dispose };
}
