/** `aivmm devices`: parse flags, call core, pick a renderer. */
import { listDevices, type ProbeEvent } from '../../core/devices/index.js';
import { SCHEMAS, okEnvelope, toJson } from '../../ui/json.js';
import type { CliContext } from '../context.js';
import type { DevicesFlags } from '../program.js';
import { processProbeRunner } from '../probe-runner.js';
import { startSpinner } from '../spinner.js';
import { duration } from '../flags.js';

export async function devicesCommand(ctx: CliContext, opts: DevicesFlags): Promise<void> {
  const timeoutMs = duration('--timeout', opts.timeout);
  const host = ctx.host();
  const cacheDir = opts.cache ? ctx.config.paths.cacheDir : undefined;
  const spinner = opts.probe ? await startSpinner(ctx, 'probing devices') : undefined;
  const onProgress = (e: ProbeEvent): void => {
    const label = `${e.device} ${e.backend} (${e.index + 1}/${e.total})`;
    if (e.kind === 'probe-start') {
      spinner?.text(`probing ${label}`);
    } else {
      const r = e.result;
      ctx.log(`probe ${label}: ${r?.ok ? `ok, session ${r.sessionMs} ms, run ${r.runMs} ms, ran on ${JSON.stringify(r.executedOn ?? {})}` : `failed: ${r?.error ?? ''}`}`);
    }
  };
  let report;
  try {
    report = await listDevices({
      host,
      device: opts.device,
      ...(cacheDir ? { cacheDir } : {}),
      ...(opts.probe ? { probe: { runner: processProbeRunner(ctx.config.env, ctx.log), timeoutMs, onProgress } } : {}),
    });
  } finally {
    spinner?.stop();
  }
  ctx.log(`discovery took ${report.elapsedMs} ms`);

  if (ctx.flags.json) {
    ctx.io.stdout.write(toJson(okEnvelope(SCHEMAS.devices, report, report.warnings)));
    return;
  }
  if (ctx.interactive) {
    const [{ renderToString }, React, { DevicesScreen }] = await Promise.all([import('ink'), import('react'), import('../../ui/screens/DevicesScreen.js')]);
    const columns = ctx.io.stdout.columns ?? 100;
    ctx.io.stdout.write(`${renderToString(React.createElement(DevicesScreen, { report }), { columns })}\n`);
    return;
  }
  const { renderDevicesPlain } = await import('../../ui/plain/devices.js');
  ctx.io.stdout.write(renderDevicesPlain(report));
}
