/** `aivmm pull`: Hub settings from the environment, pull into the shared cache, progress on stderr, paths on stdout. */
import { CancelledError, UsageError } from '../../core/errors.js';
import { onInterrupt } from '../interrupt.js';
import { pullModel, type PullEvent } from '../../core/hub/pull.js';
import { formatBytes } from '../../ui/format/units.js';
import { SCHEMAS, okEnvelope, toJson } from '../../ui/json.js';
import type { CliContext } from '../context.js';
import type { PullFlags } from '../program.js';
import { startSpinner } from '../spinner.js';
import { userAgent } from '../version.js';

export async function pullCommand(ctx: CliContext, model: string, opts: PullFlags): Promise<void> {
  const connections = Number(opts.connections);
  if (!Number.isInteger(connections) || connections < 1 || connections > 64) throw new UsageError(`invalid --connections '${opts.connections}'`, 'give 1 to 64');
  const settings = ctx.config.hub;
  const spinner = await startSpinner(ctx, `resolving ${model}`);
  let total = 0;
  let done = 0;
  let kept = 0; // from earlier runs: done, but not part of this run's rate
  const t0 = performance.now();
  let lastDraw = 0;
  const onEvent = (e: PullEvent): void => {
    if (e.kind === 'plan') {
      total = e.files.reduce((a, f) => a + f.size, 0);
      ctx.log(`${e.files.length} file(s), ${formatBytes(total)}: ${e.files.map((f) => f.path).join(', ')}`);
    } else if (e.kind === 'kept') {
      kept += e.n;
      done += e.n;
      ctx.log(`${e.path}: continuing an earlier download (${formatBytes(e.n)} kept)`);
    } else if (e.kind === 'bytes') {
      done += e.n;
      const now = performance.now();
      if (now - lastDraw < 100) return;
      lastDraw = now;
      const rate = (done - kept) / Math.max(0.001, (now - t0) / 1000);
      const eta = rate > 0 && total > done ? ` · ETA ${Math.ceil((total - done) / rate)} s` : '';
      spinner.text(`${model}: ${formatBytes(done)} / ${formatBytes(total)} · ${formatBytes(rate)}/s${eta}`);
    } else if (e.kind === 'retry') {
      // Always shown: a wait with nothing on screen looks like a hang.
      const line = `retry${e.path ? ` ${e.path}` : ''}: ${e.why}`;
      spinner.text(line);
      ctx.io.stderr.write(`aivmm: ${line}\n`);
    } else if (e.kind === 'waiting-lock') {
      spinner.text(`${e.path}: waiting for another download of the same file`);
    } else if (e.kind === 'file-done') {
      ctx.log(`${e.path}: ${e.downloaded ? 'downloaded and verified' : 'already cached'}`);
    }
  };
  // Ctrl-C cancels (what arrived is kept for the next run, exit 130); a second one ends the process at once (130).
  const interrupt = onInterrupt({ reraise: true, reason: () => new CancelledError('the pull was cancelled', 'run the command again to continue where it stopped') });
  let result;
  try {
    result = await pullModel(
      { id: model, revision: opts.revision, include: opts.include, dtype: opts.dtype, ...(opts.force ? { force: true } : {}) },
      { settings, userAgent: userAgent(), connections, onEvent, signal: interrupt.signal },
    );
  } finally {
    interrupt.dispose();
    spinner.stop();
  }
  if (ctx.flags.json) {
    ctx.io.stdout.write(toJson(okEnvelope(SCHEMAS.pull, result, result.warnings)));
    return;
  }
  for (const w of result.warnings) ctx.io.stderr.write(`warning: ${w}\n`);
  for (const f of result.files) ctx.io.stdout.write(`${f.localPath}\n`);
  const fetched = result.files.filter((f) => f.downloaded);
  const bytes = fetched.reduce((a, f) => a + f.size, 0);
  const secs = (performance.now() - t0) / 1000;
  ctx.io.stderr.write(
    `${result.alias ? `${result.alias} = ` : ''}${result.repo}@${result.revision} (${result.commit.slice(0, 12)})${result.offline ? ' from the cache (offline)' : ''}: ${result.files.length} file(s), ${fetched.length} downloaded${fetched.length ? ` (${formatBytes(bytes)} in ${secs.toFixed(1)} s)` : ''} → ${result.snapshotDir}\n`,
  );
}
