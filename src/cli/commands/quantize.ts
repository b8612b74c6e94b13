/** `aivmm quantize`: resolve the model and the device, quantize, render the fidelity report. */
import { resolve } from 'node:path';
import { CancelledError, UsageError } from '../../core/errors.js';
import { parseShape } from '../../core/bench/inputs.js';
import type { CalibrationMethod, QuantizeEvent, QuantizeMode } from '../../core/quantize/index.js';
import { SCHEMAS, okEnvelope, toJson } from '../../ui/json.js';
import type { CliContext } from '../context.js';
import { resolveModelArg } from '../model-arg.js';
import { EXIT_CODES } from '../exit-codes.js';
import type { QuantizeFlags } from '../program.js';
import { resolveOrtTarget } from '../ort-target.js';
import { startSpinner } from '../spinner.js';
import { backendId, duration, integer, positiveInt } from '../flags.js';
import { onInterrupt } from '../interrupt.js';

const MODES: readonly string[] = ['static', 'dynamic', 'fp16', 'auto'];
const METHODS: readonly string[] = ['minmax', 'percentile', 'entropy'];

export async function quantizeCommand(ctx: CliContext, modelArg: string | undefined, opts: QuantizeFlags): Promise<void> {
  if (!MODES.includes(opts.mode)) throw new UsageError(`invalid --mode '${opts.mode}'`, 'give static, dynamic, fp16 or auto');
  if (!METHODS.includes(opts.method)) throw new UsageError(`invalid --method '${opts.method}'`, 'give minmax, percentile or entropy');
  const percentile = opts.percentile === undefined ? undefined : Number(opts.percentile);
  if (percentile !== undefined && !(percentile > 50 && percentile <= 100)) throw new UsageError(`invalid --percentile '${opts.percentile}'`, 'give a number in (50, 100], e.g. 99.999');
  const latencyMs = opts.latency === false ? 0 : duration('--latency', String(opts.latency ?? '3s'), true);
  const seed = integer('--seed', opts.seed);
  const threads = opts.threads === undefined ? undefined : positiveInt('--threads', opts.threads);
  const mode = opts.mode === 'auto' ? undefined : (opts.mode as QuantizeMode);
  const shapes = (opts.shape ?? []).map(parseShape);
  const backendArg = opts.backend === undefined ? undefined : backendId('--backend', opts.backend);

  const { cacheDir } = ctx.config.paths;
  const model = await resolveModelArg(ctx, modelArg, cacheDir);

  // The device fidelity and latency are measured on.
  const { device, backend, target } = await resolveOrtTarget(ctx, 'quantize', opts.device, backendArg, cacheDir);

  const spinner = await startSpinner(ctx, `quantizing ${model.name}`);
  // Ctrl-C (or SIGTERM): the run stops at its next inference, removes its staging directory and exits 130;
  // the target is only ever replaced after evaluation, so it is left as it was. A second one ends the process.
  const interrupt = onInterrupt({ reraise: true, signals: ['SIGINT', 'SIGTERM'] });
  const controller = { signal: interrupt.signal };
  const onEvent = (e: QuantizeEvent): void => {
    if (e.kind === 'stage') {
      spinner.text(`${e.stage}${e.detail ? `: ${e.detail}` : ''}`);
      ctx.log(`${e.stage}${e.detail ? `: ${e.detail}` : ''}`);
    } else spinner.text(`calibrate${e.passes > 1 ? ` (pass ${e.pass}/${e.passes})` : ''}: ${e.done}/${e.total} samples`);
  };
  let report;
  try {
    const { quantizeModel } = await import('../../core/quantize/index.js');
    report = await quantizeModel({
      model: model.path,
      modelName: model.name,
      ...(opts.output ? { output: resolve(opts.output) } : {}),
      outputDir: process.cwd(),
      ...(mode ? { mode } : {}),
      perChannel: opts.perChannel !== false,
      ...(opts.calibration ? { calibration: opts.calibration } : {}),
      method: opts.method as CalibrationMethod,
      ...(percentile !== undefined ? { percentile } : {}),
      ...(shapes.length ? { shapes } : {}),
      exclude: opts.exclude.flatMap((e) => e.split(',')).map((e) => e.trim()).filter(Boolean),
      keepIoTypes: opts.keepIoTypes !== false,
      ...(opts.quantizeOutputs ? { quantizeOutputs: true } : {}),
      biasCorrection: opts.biasCorrection !== false,
      externalData: opts.externalData ? 'always' : 'auto',
      target,
      device: { id: device.id, name: device.name, backend },
      latencyMs,
      seed,
      ...(threads ? { threads } : {}),
      onEvent,
      signal: controller.signal,
    });
  } catch (err) {
    if (controller.signal.aborted || err instanceof CancelledError) {
      spinner.stop();
      ctx.io.stderr.write(`aivmm: interrupted: nothing was written${opts.output ? ` (${opts.output} is as it was)` : ''}\n`);
      ctx.exitCode = EXIT_CODES.CANCELLED;
      return;
    }
    throw err;
  } finally {
    spinner.stop();
    interrupt.dispose();
  }
  if (ctx.flags.json) {
    ctx.io.stdout.write(toJson(okEnvelope(SCHEMAS.quantize, report, report.warnings)));
    return;
  }
  if (ctx.interactive) {
    const [{ renderToString }, React, { QuantizeScreen }] = await Promise.all([import('ink'), import('react'), import('../../ui/screens/QuantizeScreen.js')]);
    ctx.io.stdout.write(`${renderToString(React.createElement(QuantizeScreen, { report }), { columns: ctx.io.stdout.columns ?? 100 })}\n`);
  } else {
    const { renderQuantizePlain } = await import('../../ui/plain/quantize.js');
    ctx.io.stdout.write(renderQuantizePlain(report));
  }
}
