/**
 * Live bench progress: an Ink view on stderr when it is a terminal (not CI, not --json); with
 * --verbose, one log line per finished row. Turns BenchEvents into the view's state.
 */
import type { BenchEvent } from '../core/bench/index.js';
import { formatMs } from '../ui/format/units.js';
import type { PairProgress } from '../ui/screens/BenchProgress.js';
import type { CliContext } from './context.js';

export interface BenchProgressHandle {
  update(e: BenchEvent): void;
  /** A line shown under the progress (Ctrl-C's "stopping…"); written to stderr when there is no live view. */
  notice(text: string): void;
  /** Erases the live view: the report that follows says everything it said. */
  stop(): void;
}

export async function startBenchProgress(ctx: CliContext, stream: NodeJS.WriteStream = process.stderr): Promise<BenchProgressHandle> {
  const pairs: PairProgress[] = [];
  let title = 'benchmarking';
  const apply = (e: BenchEvent): void => {
    if (e.kind === 'plan') {
      pairs.splice(0, pairs.length, ...e.jobs.map((j) => ({ label: `${j.device.id} ${j.backend}`, state: 'pending' as const })));
      title = `benchmarking ${e.jobs[0]?.model.name ?? ''} on ${e.jobs.length} device/backend pair(s) (Ctrl-C stops and keeps what was measured)`;
      return;
    }
    const p = pairs[e.index];
    if (!p) return;
    if (e.kind === 'pair-start') Object.assign(p, { state: 'running', phase: 'creating session', fraction: 0 });
    else if (e.kind === 'pair-end') {
      p.state = e.error ? 'failed' : 'done';
      p.result = e.error ? e.error.message : e.rows.map((r) => `b${r.batch} p50 ${formatMs(r.stats.p50)}`).join(' · ');
      for (const r of e.rows) ctx.log(`${r.device} ${r.backend} batch ${r.batch}: p50 ${formatMs(r.stats.p50)}, ${r.stats.n} runs`);
    } else if (e.event.kind === 'session') {
      p.phase = `session ${formatMs(e.event.sessionMs)}`;
    } else if (e.event.kind === 'progress') {
      const pr = e.event.progress;
      const rep = e.repeat.of > 1 ? ` (process ${e.repeat.index + 1}/${e.repeat.of})` : '';
      Object.assign(p, { phase: `${pr.phase === 'warmup' ? 'warm-up' : 'measuring'} batch ${e.event.batch}${rep}`, fraction: pr.fraction, runs: pr.done, lastMs: pr.lastMs });
    }
  };
  if (!ctx.progress) return { update: apply, notice: (t) => void ctx.io.stderr.write(`${t}\n`), stop: () => undefined };
  let notice: string | undefined;

  const [{ render }, React, { BenchProgress }] = await Promise.all([import('ink'), import('react'), import('../ui/screens/BenchProgress.js')]);
  const view = () => React.createElement(BenchProgress, { pairs: pairs.map((p) => ({ ...p })), title, ...(notice ? { notice } : {}) });
  const instance = render(view(), { stdout: stream, patchConsole: false, exitOnCtrlC: false });
  let last = 0;
  return {
    update: (e) => {
      apply(e);
      const t = performance.now();
      if (e.kind === 'pair-event' && e.event.kind === 'progress' && t - last < 100) return;
      last = t;
      instance.rerender(view());
    },
    notice: (t) => {
      notice = t;
      instance.rerender(view());
    },
    stop: () => {
      instance.clear();
      instance.unmount();
    },
  };
}
