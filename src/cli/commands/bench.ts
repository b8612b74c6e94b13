/** `aivmm bench`: parse flags, resolve the model and devices, run each pair in its own process, render, gate. */
import { access, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { listDevices } from '../../core/devices/index.js';
import { parseDuration, parseInputFileFlag, parsePercent, parseShape, runBench, sha256File, type BenchEvent, type BenchReport, type BenchSettings } from '../../core/bench/index.js';
import { parseRequire, recordMeasurements, type AutoChoice, type Prefer } from '../../core/bench/auto.js';
import { writeFileAtomic } from '../../core/atomic-write.js';
import { checkCpuEpOptions } from '../../core/backends/ep-options.js';
import { UsageError, errorFromCode, errorMessage, ConfigError } from '../../core/errors.js';
import { SCHEMAS, okEnvelope, toJson } from '../../ui/json.js';
import type { CliContext } from '../context.js';
import { resolveModelArg } from '../model-arg.js';
import { chooseAuto } from '../auto-choice.js';
import type { BenchFlags } from '../program.js';
import { processBenchRunner } from '../../runtime/bench-runner.js';
import { EXIT_CODES } from '../exit-codes.js';
import { startBenchProgress } from '../bench-progress.js';
import { onInterrupt } from '../interrupt.js';
import { duration, integer, positiveInt } from '../flags.js';
import { aivmmVersion } from '../version.js';

async function checkWritable(file: string): Promise<void> {
  const dir = dirname(resolve(file));
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
    await access(dir, constants.W_OK);
  } catch (err) {
    throw new ConfigError(`cannot write --save ${file}: ${dir}: ${errorMessage(err)}`, 'give a file in an existing, writable directory');
  }
}


/**
 * `--against`: looks of the sequential rule when --max-duration is not given (each tests at 1% / 10 with a
 * 99.5% interval). Simulated with 50 block pairs per look (scripts/experiments/gate-sequential-power.ts),
 * +8% twins were detected by one look 25% of the time, 80% with at most 4, 92% with 6, 100% with 10 — and
 * a decided run stops after ~4 looks on average.
 */
export const DEFAULT_LOOKS = 10;

/** measure.ts keeps at most this many samples per row. */
export const MAX_ITERATIONS = 1_000_000;

export function settingsFromFlags(opts: BenchFlags): BenchSettings {
  const batches = opts.batch === undefined ? [] : opts.batch.split(',').map((b) => positiveInt('--batch', b.trim()));
  if (new Set(batches).size !== batches.length) throw new UsageError(`--batch ${opts.batch} repeats a size`);
  const epOptions: Record<string, string> = {};
  for (const kv of opts.epOption) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`invalid --ep-option '${kv}'`, 'write it as key=value, e.g. --ep-option preferredLayout=NHWC');
    epOptions[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  let warmup: BenchSettings['warmup'];
  if (/^\d+$/.test(opts.warmup.trim())) warmup = { iterations: Number(opts.warmup) };
  else {
    const ms = parseDuration(opts.warmup);
    if (ms === undefined) throw new UsageError(`invalid --warmup '${opts.warmup}'`, 'give runs (20) or a time (2s, 500ms)');
    warmup = { ms };
  }
  let durationMs: number | undefined;
  if (opts.duration !== undefined) {
    durationMs = duration('--duration', opts.duration);
  }
  const iterations = opts.iterations === undefined ? undefined : positiveInt('--iterations', opts.iterations);
  // Every sample is kept (percentiles, --save); measure.ts stops at a million, so more is refused, not cut short.
  if (iterations !== undefined && iterations > MAX_ITERATIONS) throw new UsageError(`--iterations ${iterations}: at most ${MAX_ITERATIONS.toLocaleString('en')} runs per row`, 'give fewer, or a --duration');
  if (iterations === undefined && durationMs === undefined) durationMs = 5000;
  const seed = integer('--seed', opts.seed);
  // --against's sequential rule: one look per --duration, at most --max-duration ÷ --duration looks (default 10).
  const maxDurationMs = opts.maxDuration !== undefined ? duration('--max-duration', opts.maxDuration) : undefined;
  if (maxDurationMs !== undefined && opts.against === undefined) throw new UsageError('--max-duration goes with --against');
  if (maxDurationMs !== undefined && (iterations !== undefined || durationMs === undefined)) throw new UsageError('--max-duration counts looks of --duration each: give a --duration, not --iterations');
  if (maxDurationMs !== undefined && durationMs !== undefined && maxDurationMs < durationMs) throw new UsageError(`--max-duration ${opts.maxDuration} is shorter than --duration ${opts.duration ?? ''}`, 'the first look comes after --duration');
  const maxLooks = opts.against !== undefined && iterations === undefined && durationMs !== undefined ? Math.max(1, Math.floor((maxDurationMs ?? DEFAULT_LOOKS * durationMs) / durationMs + 1e-9)) : undefined;
  return {
    batches,
    shapes: opts.shape.map(parseShape),
    inputFiles: opts.inputData.map(parseInputFileFlag),
    seed,
    concurrency: positiveInt('--concurrency', opts.concurrency),
    warmup,
    ...(iterations !== undefined ? { iterations } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    minIterations: iterations !== undefined ? 0 : 20,
    // A slow model still ends: the timed phase stops after 3× the duration (at least 30 s) even short of 20 runs.
    ...(durationMs !== undefined ? { maxMs: Math.max(30_000, 3 * durationMs) } : {}),
    ...(opts.threads !== undefined ? { threads: positiveInt('--threads', opts.threads) } : {}),
    ...(opts.graphOpt ? { graphOptimizationLevel: opts.graphOpt } : {}),
    epOptions,
    // Off unless asked for: --json, --save and --baseline measure in one mode (issue #21); the gate no longer uses it.
    reference: opts.reference ?? false,
    // Between-process variance dominates on shared machines: a gate needs several processes on each side.
    repeat: opts.repeat !== undefined ? positiveInt('--repeat', opts.repeat) : opts.save !== undefined || opts.baseline !== undefined ? 3 : 1,
    ...(opts.blockSize !== undefined ? { blockSize: positiveInt('--block-size', opts.blockSize) } : {}),
    ...(maxLooks !== undefined ? { maxLooks } : {}),
  };
}

export async function benchCommand(ctx: CliContext, modelArg: string | undefined, opts: BenchFlags): Promise<void> {
  if (opts.server !== undefined) return (await import('./bench-server.js')).benchServerCommand(ctx, modelArg, opts);
  const settings = settingsFromFlags(opts);
  // The CPU EP's keys are known here: when it is the only one measured, a misspelt key fails now, not in its worker.
  const only = opts.backend.flatMap((b) => b.split(',')).map((b) => b.trim().toLowerCase()).filter(Boolean);
  if ((only.length > 0 && only.every((b) => b === 'ort-cpu' || b === 'cpu')) || (only.length === 0 && opts.device.trim().toUpperCase() === 'CPU')) checkCpuEpOptions(settings.epOptions);
  const format = ctx.flags.json ? 'json' : opts.format;
  if (!ctx.flags.json && opts.format === 'json') ctx.io.stderr.write('note: --format json is the global --json (every command has it); use that\n');
  const maxRegression = parsePercent(opts.maxRegression);
  if (maxRegression === undefined || maxRegression >= 1) throw new UsageError(`invalid --max-regression '${opts.maxRegression}'`, 'give a percentage such as 5%');
  if (opts.save) await checkWritable(opts.save); // fail now, not after minutes of measuring
  if (opts.against !== undefined && opts.baseline !== undefined) throw new UsageError('--baseline and --against are two gates: give one', '--against old.onnx when the old model is at hand (the stronger design), --baseline file.json otherwise');
  if (opts.against !== undefined && settings.concurrency > 1) throw new UsageError('--against measures latency: it needs --concurrency 1');
  if (opts.blockSize !== undefined && opts.against === undefined) throw new UsageError('--block-size goes with --against');
  const against = opts.against !== undefined ? await resolveModelArg(ctx, opts.against, ctx.config.paths.cacheDir) : undefined;
  const env = ctx.io.env;
  const { cacheDir } = ctx.config.paths;
  const model = await resolveModelArg(ctx, modelArg, cacheDir);
  const devices = await listDevices({ host: ctx.host(), cacheDir });
  const auto = opts.device.trim().toLowerCase() === 'auto';
  if (!auto && (opts.require !== undefined || opts.prefer !== 'latency')) throw new UsageError('--prefer and --require go with --device auto');
  if (!['latency', 'throughput'].includes(opts.prefer)) throw new UsageError(`invalid --prefer '${opts.prefer}'`, 'give latency or throughput');
  const requirements = parseRequire(opts.require);
  const modelSha = await sha256File(model.path);

  // Ctrl-C: finish the measurement in hand and report what was measured (exit 130); a second ends the process at once.
  const progress = await startBenchProgress(ctx);
  // The "stopping" line goes through the live view (written beside it, it left stale progress lines above the report).
  const interrupt = onInterrupt({ signals: ['SIGINT', 'SIGTERM'], reraise: true, first: 'aivmm: stopping: finishing the current measurement (Ctrl-C again to quit at once)', write: (t) => progress.notice(t) });
  const controller = { signal: interrupt.signal };
  const runner = processBenchRunner(env, ctx.log);
  let choice: AutoChoice | undefined;
  let report: BenchReport;
  try {
    if (auto) choice = await chooseAuto(ctx, { model, devices, cacheDir, modelSha, requirements, prefer: opts.prefer as Prefer, backends: opts.backend, runner, signal: controller.signal, onEvent: (e) => progress.update(e) });
    report = await runBench({
      model,
      devices,
      device: choice ? choice.device : opts.device,
      backends: choice ? [choice.backend] : opts.backend,
      settings,
      runner: processBenchRunner(env, ctx.log),
      signal: controller.signal,
      onEvent: (e: BenchEvent) => progress.update(e),
      ...(opts.baseline ? { baseline: { path: opts.baseline, maxRegression, ...(opts.allowHostChange ? { allowHostChange: true } : {}) } } : {}),
      ...(against ? { against: { path: against.path, name: against.name, maxRegression } } : {}),
      aivmmVersion: aivmmVersion(),
    });
  } finally {
    progress.stop();
    interrupt.dispose();
  }
  ctx.log(`bench took ${report.elapsedMs} ms`);
  if (choice) report.auto = choice;
  // Every measurement feeds --device auto's cache for this host and model.
  await recordMeasurements(cacheDir, devices, modelSha, report.rows).catch((err: unknown) => ctx.log(`auto cache not updated: ${errorMessage(err)}`));

  if (report.rows.length === 0 && !report.interrupted) {
    const first = report.failed[0];
    if (first) throw errorFromCode(first.error.code, report.failed.length > 1 ? `every pair failed; first: ${first.device} ${first.backend}: ${first.error.message}` : first.error.message, first.error.hint);
  }

  const envelope = okEnvelope(SCHEMAS.bench, report, report.warnings);
  if (opts.save) {
    try {
      await writeFileAtomic(opts.save, toJson(envelope));
    } catch (err) {
      throw new ConfigError(`cannot write ${opts.save}: ${errorMessage(err)}`);
    }
  }
  if (format === 'json') ctx.io.stdout.write(toJson(envelope));
  else if (format === 'md' || format === 'csv') {
    const { renderBenchMarkdown, renderBenchCsv } = await import('../../ui/bench-formats.js');
    ctx.io.stdout.write(format === 'md' ? renderBenchMarkdown(report) : renderBenchCsv(report));
  } else if (ctx.interactive) {
    const [{ renderToString }, React, { BenchScreen }] = await Promise.all([import('ink'), import('react'), import('../../ui/screens/BenchScreen.js')]);
    ctx.io.stdout.write(`${renderToString(React.createElement(BenchScreen, { report, columns: ctx.io.stdout.columns ?? 100 }), { columns: ctx.io.stdout.columns ?? 100 })}\n`);
  } else {
    const { renderBenchPlain } = await import('../../ui/plain/bench.js');
    ctx.io.stdout.write(renderBenchPlain(report));
  }
  if (format !== 'json') {
    // The plain and Ink reports carry their warnings; md and csv keep stdout machine-clean.
    if (format === 'md' || format === 'csv') for (const w of report.warnings) ctx.io.stderr.write(`warning: ${w}\n`);
    if (opts.save) ctx.io.stderr.write(`saved ${opts.save}\n`);
  }
  if (report.interrupted) {
    ctx.io.stderr.write('aivmm: interrupted: the results above cover what was measured before Ctrl-C\n');
    ctx.exitCode = EXIT_CODES.CANCELLED;
    return;
  }
  const g = report.gate;
  if (!g) return;
  // One exit code, the gravest first: a regression, then "too noisy to decide", then "nothing compared".
  const which = (v: string): string => g.rows.filter((r) => r.comparison?.verdict === v).map((r) => `${r.key} (${r.comparison?.reason ?? ''})`).join('; ');
  if (g.regressed > 0) {
    ctx.io.stderr.write(`aivmm: ${g.regressed} regression(s) against ${g.baselinePath}: ${which('regressed')}\n`);
    ctx.exitCode = EXIT_CODES.REGRESSION;
  } else if ((g.tooNoisy ?? 0) > 0) {
    ctx.io.stderr.write(`aivmm: too noisy to decide against ${g.baselinePath}: ${which('too-noisy')}\n`);
    ctx.exitCode = EXIT_CODES.TOO_NOISY;
  } else if (g.matched === 0 && !(opts.allowMissing && g.method === 'baseline')) {
    ctx.io.stderr.write(`aivmm: no row of this run matches ${g.baselinePath}: the gate checked nothing (renamed model? other device, backend or batch?)${g.method === 'baseline' ? '; --allow-missing accepts that' : ''}\n`);
    ctx.exitCode = EXIT_CODES.GATE_UNMATCHED;
  }
}
