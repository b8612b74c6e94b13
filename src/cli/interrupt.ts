/**
 * Ctrl-C for commands that run long: the first aborts `signal` with a CancelledError (the command
 * finishes the item in hand and reports what it has, exit 130); the second aborts `forced` too and says
 * so, and lets go of the signal, so a third gets Node's default (the process ends). With `reraise`, the
 * second also sends the signal again once let go: the process ends at once as an unhandled Ctrl-C does
 * (exit status 130 in a shell) — for commands whose work in hand cannot be cut short. No process.exit
 * here: main() returns the exit code otherwise.
 */
import { CancelledError } from '../core/errors.js';

interface SignalSource {
  on(event: NodeJS.Signals, listener: () => void): unknown;
  off(event: NodeJS.Signals, listener: () => void): unknown;
  /** Sends a signal to this process (process.kill(process.pid, …)); used by `reraise`. */
  raise?(signal: NodeJS.Signals): void;
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
  /** At the second signal, let go and send it again: the default action ends the process (130 after Ctrl-C). */
  reraise?: boolean;
  /** The first abort's CancelledError (default: "interrupted"), e.g. what was cancelled. */
  reason?: () => Error;
}

const processSource: SignalSource = {
  on: (e, l) => process.on(e, l),
  off: (e, l) => process.off(e, l),
  raise: (signal) => process.kill(process.pid, signal),
};

export function onInterrupt(opts: InterruptOptions = {}): Interrupt {
  const source = opts.source ?? processSource;
  const signals = opts.signals ?? ['SIGINT'];
  const soft = new AbortController();
  const hard = new AbortController();
  const listener = (signal: NodeJS.Signals): void => {
    if (!soft.signal.aborted) {
      if (opts.first) opts.write?.(opts.first);
      soft.abort(opts.reason?.() ?? new CancelledError('interrupted'));
      return;
    }
    if (opts.second) opts.write?.(opts.second);
    hard.abort(new CancelledError('interrupted twice'));
    dispose();
    if (opts.reraise) source.raise?.(signal);
  };
  const dispose = (): void => {
    for (const [s, l] of listeners) source.off(s, l);
  };
  const listeners = new Map(signals.map((s) => [s, (): void => listener(s)] as const));
  for (const [s, l] of listeners) source.on(s, l);
  return { signal: soft.signal, forced: hard.signal, dispose };
}
