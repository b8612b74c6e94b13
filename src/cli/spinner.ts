/** An ora spinner on stderr, only on a terminal and never with --json or in CI; otherwise a no-op. */
import type { CliContext } from './context.js';

export interface Spinner {
  text(t: string): void;
  stop(): void;
}

export async function startSpinner(ctx: CliContext, text: string): Promise<Spinner> {
  if (!ctx.progress) return { text: () => undefined, stop: () => undefined };
  const { default: ora } = await import('ora');
  const s = ora({ text, stream: process.stderr, color: 'cyan', isEnabled: true }).start();
  return {
    text: (t) => {
      s.text = t;
    },
    stop: () => s.stop(),
  };
}
