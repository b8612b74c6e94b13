/** `aivmm bench --server URL`: flags → core/bench/server-load.ts over the load client (http-client.ts) and the process clock → present, gate. */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration, parsePercent, parseShape } from '../../core/bench/index.js';
import { loadClient } from '../http-client.js';
import { BENCH_SERVER_SCHEMA, DEFAULT_LOAD, baselineFromJson, parseConcurrencyList, parseRate, runServerBench, type LoadSettings, type PointSpec, type ServerBenchReport } from '../../core/bench/server-load.js';
import { writeFileAtomic } from '../../core/atomic-write.js';
import { ConfigError, NotFoundError, UsageError, errorMessage } from '../../core/errors.js';
import { okEnvelope, toJson } from '../../ui/json.js';
import type { CliContext } from '../context.js';
import type { BenchFlags } from '../program.js';
import { EXIT_CODES } from '../exit-codes.js';
import { aivmmVersion } from '../version.js';
import { onInterrupt } from '../interrupt.js';

function time(flag: string, text: string, min = 1): number {
  const v = parseDuration(text);
  if (v === undefined || v < min) throw new UsageError(`invalid ${flag} '${text}'`, 'give a time such as 2s or 500ms');
  return v;
}

export function loadSettingsFromFlags(opts: BenchFlags): { settings: LoadSettings; points: PointSpec[]; batch: number } {
  if (opts.duration !== undefined || opts.iterations !== undefined) throw new UsageError('--duration and --iterations are for local bench', 'with --server, measurement runs in windows: --window 2s --max-windows 10');
  const stability = opts.stability === undefined ? DEFAULT_LOAD.stability : parsePercent(opts.stability);
  if (stability === undefined || stability <= 0 || stability >= 1) throw new UsageError(`invalid --stability '${opts.stability}'`, 'give a percentage such as 10%');
  const maxWindows = opts.maxWindows === undefined ? DEFAULT_LOAD.maxWindows : Number(opts.maxWindows);
  if (!Number.isInteger(maxWindows) || maxWindows < DEFAULT_LOAD.stableWindows) throw new UsageError(`invalid --max-windows '${opts.maxWindows}'`, `give an integer ≥ ${DEFAULT_LOAD.stableWindows} (stability needs ${DEFAULT_LOAD.stableWindows} windows)`);
  if (/^\d+$/.test(opts.warmup.trim()) && opts.warmup.trim() !== '0') throw new UsageError(`--warmup ${opts.warmup}: with --server give a time (1s, 500ms)`);
  const warmupMs = opts.warmup.trim() === '0' ? 0 : time('--warmup', opts.warmup, 0);
  const seed = Number(opts.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`invalid --seed '${opts.seed}'`, 'give an integer');
  const batches = opts.batch === undefined ? [1] : opts.batch.split(',').map((b) => Number(b.trim()));
  if (batches.length !== 1 || !Number.isInteger(batches[0]) || (batches[0] as number) < 1) throw new UsageError(`invalid --batch '${opts.batch}' with --server`, 'give one batch size (the first dimension of -1-sized inputs)');
  const points: PointSpec[] = opts.rate !== undefined
    ? opts.rate.split(',').map((r) => ({ rate: parseRate(r) }))
    : parseConcurrencyList(opts.concurrency).map((c) => ({ concurrency: c }));
  return {
    settings: { ...DEFAULT_LOAD, windowMs: opts.window === undefined ? DEFAULT_LOAD.windowMs : time('--window', opts.window, 50), stability, maxWindows, warmupMs, seed, honourRetryAfter: opts.retryAfter !== false },
    points,
    batch: batches[0] as number,
  };
}

async function readServerBaseline(path: string): Promise<ServerBenchReport> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new NotFoundError(`cannot read baseline ${path}: ${errorMessage(err)}`, 'write one with `aivmm bench --server URL --save baseline.json`');
  }
  try {
    return baselineFromJson(JSON.parse(text), path);
  } catch (err) {
    if (err instanceof SyntaxError) throw new ConfigError(`baseline ${path} is not JSON: ${err.message}`);
    throw err;
  }
}

export async function benchServerCommand(ctx: CliContext, modelArg: string | undefined, opts: BenchFlags): Promise<void> {
  const { settings, points, batch } = loadSettingsFromFlags(opts);
  const format = ctx.flags.json ? 'json' : opts.format;
  const maxRegression = parsePercent(opts.maxRegression);
  if (maxRegression === undefined || maxRegression >= 1) throw new UsageError(`invalid --max-regression '${opts.maxRegression}'`, 'give a percentage such as 5%');
  if (opts.model !== undefined && modelArg !== undefined && opts.model !== modelArg) throw new UsageError(`two models: '${modelArg}' and --model ${opts.model}`, 'give one');
  const baseline = opts.baseline ? { report: await readServerBaseline(opts.baseline), path: opts.baseline, maxRegression } : undefined;
  // Ctrl-C: finish the current window and report what was measured; a second one ends the process.
  const interrupt = onInterrupt({ reraise: true, signals: ['SIGINT', 'SIGTERM'], first: '\naivmm: stopping: finishing the current window (Ctrl-C again to quit at once)\n', write: (t) => ctx.io.stderr.write(t) });
  const controller = { signal: interrupt.signal };
  let report: ServerBenchReport;
  const http = loadClient();
  try {
    const model = opts.model ?? modelArg;
    const apiKey = opts.apiKey ?? ctx.io.env['AIVMM_API_KEY'];
    report = await runServerBench(
      {
        client: http.client,
        clock: { now: () => performance.now(), sleep: (ms) => sleep(ms) },
        signal: controller.signal,
        onWindow: (key, w, rps) => ctx.log(`${key}: window ${w}: ${rps.toFixed(1)} req/s`),
      },
      {
        url: opts.server as string,
        ...(model !== undefined ? { model } : {}),
        ...(apiKey ? { apiKey } : {}),
        points,
        request: { batch, shapes: opts.shape.map(parseShape), binary: !opts.jsonData },
        settings,
        aivmmVersion: aivmmVersion(),
        ...(baseline ? { baseline } : {}),
      },
    );
  } finally {
    interrupt.dispose();
    await http.close();
  }
  const failed = report.points.reduce((a, p) => a + Object.values(p.errors).reduce((x, y) => x + y, 0), 0);
  const warnings = report.points.filter((p) => !p.stable).map((p) => `${p.key}: throughput not stable within ±${Math.round(settings.stability * 100)}% after ${p.windows} windows`);
  const envelope = okEnvelope(BENCH_SERVER_SCHEMA, report, warnings);
  if (opts.save) {
    try {
      await writeFileAtomic(opts.save, toJson(envelope));
    } catch (err) {
      throw new ConfigError(`cannot write ${opts.save}: ${errorMessage(err)}`);
    }
  }
  const view = await import('../../ui/bench-server-view.js');
  if (format === 'json') ctx.io.stdout.write(toJson(envelope));
  else if (format === 'md') ctx.io.stdout.write(view.renderServerBenchMarkdown(report));
  else if (format === 'csv') ctx.io.stdout.write(view.renderServerBenchCsv(report));
  else ctx.io.stdout.write(view.renderServerBenchPlain(report));
  if (format !== 'json') for (const w of warnings) ctx.io.stderr.write(`warning: ${w}\n`);
  if (opts.save && format !== 'json') ctx.io.stderr.write(`saved ${opts.save}\n`);
  if (report.interrupted) {
    ctx.io.stderr.write('aivmm: interrupted: the results above cover what was measured before Ctrl-C\n');
    ctx.exitCode = EXIT_CODES.CANCELLED;
    return;
  }
  if (failed > 0) {
    const first = report.points.find((p) => p.firstError)?.firstError;
    ctx.io.stderr.write(`aivmm: ${failed} request(s) failed${first ? `; first: ${first}` : ''}\n`);
    ctx.exitCode = EXIT_CODES.INFERENCE;
    return;
  }
  if (report.gate && report.gate.regressed > 0) {
    const names = report.gate.rows.filter((r) => r.comparison?.verdict === 'regressed').map((r) => `${r.key} (${r.comparison?.reason ?? ''})`);
    ctx.io.stderr.write(`aivmm: ${report.gate.regressed} regression(s) against ${report.gate.baselinePath}: ${names.join('; ')}\n`);
    ctx.exitCode = EXIT_CODES.REGRESSION;
  }
}
