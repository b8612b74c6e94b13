/**
 * Bench from the browser: `POST /v1/bench` starts `aivmm bench` (core's runBench) on a served model, a
 * cached model or an alias, one run at a time (409 while one runs). Each (device, backend) pair runs in
 * its own fresh process lane with the runtime's 'bench-pair' job, as the CLI runs it: the HTTP event loop
 * never measures, a native crash fails one pair, and the device's environment pins it. Progress goes out
 * on the event stream (`bench` events on /v1/events) and `GET /v1/bench/{id}`; a finished run is saved
 * under the cache dir as the CLI's `--save` envelope (so `aivmm bench --baseline <file>` reads it), listed
 * by `GET /v1/bench`, and two saved runs are compared by `GET /v1/bench/compare` with the CLI gate's rule
 * (core's checkModes + gate: per-process medians, Welch on their logs).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { writeFileAtomic } from '../../core/atomic-write.js';
import { addSpeedups, BENCH_SCHEMA, checkModes, gate, parseDuration, parsePercent, readBaseline, runBench, type BenchEvent, type BenchReport, type BenchRow, type BenchSettings, type GateResult, type PairRunner } from '../../core/bench/index.js';
import { okEnvelope, toJson } from '../../core/contract/index.js';
import { selectDevices } from '../../core/devices/select.js';
import type { DevicesReport } from '../../core/devices/types.js';
import { BackendUnavailableError, errorMessage, errorRecord, isAivmmError, NotFoundError } from '../../core/errors.js';
import type { ResolvedModel } from '../../core/hub/resolve-model.js';
import { BadRequestError } from '../../core/serve/errors.js';
import { processBenchRunner } from '../../runtime/bench-runner.js';

/** While a run is in progress, another is refused with 409 (two runs would measure each other). */
export class BenchBusyError extends BackendUnavailableError {
  readonly status = 409;
}

export type BenchState = 'running' | 'done' | 'failed' | 'cancelled';

export interface BenchRequest {
  model: string;
  /** Device selectors (CPU, GPU.0, NPU, all); default ["CPU"]. */
  devices?: string[];
  /** Backend filter (ort-cpu, ort-webgpu, …); default: every available backend of each device. */
  backends?: string[];
  batch?: number;
  /** Seconds per row (a number) or a time ("2s", "500ms"); default 2 s. */
  duration?: number | string;
  /** Fresh processes per pair (samples pooled); the gate needs ≥ 2 on each side to decide. Default 1. */
  repeat?: number;
}

export interface BenchProgress {
  /** Pairs planned, and the index (0-based) of the one running. */
  pairs: number;
  pair: number;
  device?: string;
  backend?: string;
  phase?: 'starting' | 'warmup' | 'measure' | 'done';
  /** 0..1 over the whole run (pairs × repeats). */
  fraction: number;
  /** The running pair's last latency, ms. */
  lastMs?: number;
}

/** One row as the page lists it (the full row, with samples, is in the report). */
export interface BenchRowSummary {
  device: string;
  deviceName: string;
  backend: string;
  batch: number;
  p50: number;
  p95: number;
  p99: number;
  itemsPerSec: number;
  speedupVsCpu?: number;
  noisy: boolean;
}

export interface BenchRunSummary {
  id: string;
  state: BenchState;
  model: string;
  devices: string[];
  batch: number;
  durationMs: number;
  repeat: number;
  startedAt: string;
  finishedAt?: string;
  rows: BenchRowSummary[];
  failed: { device: string; backend: string; error: string }[];
  error?: { code: string; message: string; hint?: string };
}

export interface BenchJobView extends BenchRunSummary {
  progress?: BenchProgress;
  report?: BenchReport;
}

export interface BenchCompare {
  baseline: BenchRunSummary;
  current: BenchRunSummary;
  gate: GateResult;
  warnings: string[];
}

export interface BenchServiceOptions {
  /** Saved runs go to `<cacheDir>/bench-runs/<id>.json`. */
  cacheDir: string;
  devices: () => Promise<DevicesReport>;
  /** A served model's name, a cached model or an alias → its file (never a client-given path). */
  resolveModel: (name: string) => Promise<ResolvedModel>;
  publish: (e: { type: string; [k: string]: unknown }) => void;
  aivmmVersion: string;
  /** How each pair runs; default: a fresh process lane with the 'bench-pair' job. */
  runner?: PairRunner;
  baseEnv?: Readonly<Record<string, string | undefined>>;
  log?: (line: string) => void;
}

const ID = /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$/;
const SAVED_LIMIT = 100;
const SEED = 42;


/**
 * A request's model name as the bench resolves it: a served model first, then core's resolver (embedded
 * model, alias or Hub id found in the cache), never a file path a client names.
 */
export function benchModelResolver(opts: { served: (name: string) => string | undefined; resolve: (name: string) => Promise<ResolvedModel> }): (name: string) => Promise<ResolvedModel> {
  return async (name) => {
    const path = opts.served(name);
    if (path) return { name, path, embedded: false };
    if (/^[.~/\\]|\.\.|\\|\.onnx$/i.test(name) || name.includes('\0')) {
      throw new BadRequestError(`model '${name}' looks like a file path: the server benchmarks served models, cached models and aliases only`, 'give a served model name (GET /v2/repository/index), an embedded model or a catalog alias');
    }
    try {
      return await opts.resolve(name);
    } catch (err) {
      if (isAivmmError(err) && err.code === 'NOT_FOUND') throw new NotFoundError(`model '${name}' is not served, cached or an alias here: ${err.message}`, err.hint ?? 'pull it first: aivmm pull <alias>');
      throw err;
    }
  };
}

const summaryRows = (rows: readonly BenchRow[]): BenchRowSummary[] =>
  rows.map((r) => ({
    device: r.device,
    deviceName: r.deviceName,
    backend: r.backend,
    batch: r.batch,
    p50: r.stats.p50,
    p95: r.stats.p95,
    p99: r.stats.p99,
    itemsPerSec: r.throughput.itemsPerSec,
    ...(r.speedupVsCpu !== undefined ? { speedupVsCpu: r.speedupVsCpu } : {}),
    noisy: r.noise.noisy,
  }));

function newId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

interface Job {
  view: BenchJobView;
  controller: AbortController;
  done: Promise<void>;
}

/** One benchmark at a time, its progress, and the saved runs. */
export class BenchService {
  private job: Job | undefined;
  /** Finished runs of this process, by id (the saved file is the record; this spares a read). */
  private readonly recent = new Map<string, BenchJobView>();
  private readonly runner: PairRunner;

  constructor(private readonly opts: BenchServiceOptions) {
    this.runner = opts.runner ?? processBenchRunner(opts.baseEnv ?? process.env, opts.log, 'bench ');
  }

  get dir(): string {
    return join(this.opts.cacheDir, 'bench-runs');
  }

  get running(): BenchJobView | undefined {
    return this.job?.view;
  }

  /** Checks the request, resolves the model, and starts the run; answers once it has started. */
  async start(req: BenchRequest): Promise<BenchJobView> {
    if (this.job) throw new BenchBusyError(`a benchmark is already running (${this.job.view.id}: ${this.job.view.model})`, `wait for it (GET /v1/bench/${this.job.view.id}) or cancel it (DELETE /v1/bench/${this.job.view.id})`);
    const devices = req.devices?.length ? req.devices : ['CPU'];
    const batch = req.batch ?? 1;
    const repeat = req.repeat ?? 1;
    let durationMs = 2000;
    if (typeof req.duration === 'number') durationMs = Math.round(req.duration * 1000);
    else if (typeof req.duration === 'string') {
      const d = parseDuration(req.duration);
      if (d === undefined) throw new BadRequestError(`invalid duration '${req.duration}'`, 'give seconds (2) or a time (2s, 500ms)');
      durationMs = d;
    }
    if (!(durationMs >= 100 && durationMs <= 120_000)) throw new BadRequestError(`duration ${durationMs} ms is out of range`, 'between 0.1 s and 120 s per row');
    // Reserve the slot before the first await: two requests at once must not both start.
    const controller = new AbortController();
    const view: BenchJobView = { id: newId(), state: 'running', model: req.model, devices, batch, durationMs, repeat, startedAt: new Date().toISOString(), rows: [], failed: [], progress: { pairs: 0, pair: 0, phase: 'starting', fraction: 0 } };
    const job: Job = { view, controller, done: Promise.resolve() };
    this.job = job;
    let model: ResolvedModel;
    let report: DevicesReport;
    try {
      model = await this.opts.resolveModel(req.model);
      report = await this.opts.devices();
      // planPairs' own check, now: an unknown device is a 400/404 before anything starts
      for (const d of devices) selectDevices(d, report.devices);
    } catch (err) {
      this.job = undefined;
      throw err;
    }
    const settings: BenchSettings = {
      batches: [batch],
      shapes: [],
      inputFiles: [],
      seed: SEED,
      concurrency: 1,
      warmup: { ms: Math.min(1000, Math.max(100, Math.round(durationMs / 4))) },
      durationMs,
      minIterations: 20,
      maxMs: Math.max(30_000, 3 * durationMs),
      epOptions: {},
      reference: false,
      repeat,
    };
    job.done = this.measure(job, model, report, settings, req.backends ?? []).finally(() => {
      if (this.job === job) this.job = undefined;
    });
    this.publish(view);
    return view;
  }

  /** Asks the running benchmark to stop; it ends with what it measured (state 'cancelled'). */
  cancel(id: string): BenchJobView {
    if (!ID.test(id)) throw new BadRequestError(`invalid benchmark id '${id}'`);
    if (this.job?.view.id !== id) throw new NotFoundError(`no running benchmark ${id}`, 'GET /v1/bench lists the running one and the saved runs');
    this.job.controller.abort();
    return this.job.view;
  }

  /** Waits for the running benchmark, if any (tests, shutdown). */
  async idle(): Promise<void> {
    await this.job?.done;
  }

  async close(): Promise<void> {
    this.job?.controller.abort();
    await this.idle();
  }

  private publish(view: BenchJobView): void {
    const { report: _r, ...rest } = view;
    this.opts.publish({ type: 'bench', at: Date.now(), ...rest });
  }

  private async measure(job: Job, model: ResolvedModel, report: DevicesReport, settings: BenchSettings, backends: readonly string[]): Promise<void> {
    const view = job.view;
    const reports: BenchReport[] = [];
    let lastPublish = 0;
    let planned = 0;
    const progress = (p: Partial<BenchProgress>, force = false): void => {
      view.progress = { ...(view.progress as BenchProgress), ...p };
      const now = Date.now();
      if (force || now - lastPublish >= 250) {
        lastPublish = now;
        this.publish(view);
      }
    };
    // The final state is set only once the run has ended (its file written): while a view said 'done' before
    // the slot was freed, a client that read 'done' (GET or the event) and started the next run got a 409.
    let state: BenchState;
    let error: BenchJobView['error'];
    try {
      for (const selector of view.devices) {
        if (job.controller.signal.aborted) break;
        const offset = planned;
        let jobs: readonly { device: { id: string }; backend: string }[] = [];
        const r = await runBench({
          model,
          devices: report,
          device: selector,
          backends,
          settings,
          runner: this.runner,
          signal: job.controller.signal,
          aivmmVersion: this.opts.aivmmVersion,
          onEvent: (e: BenchEvent) => {
            if (e.kind === 'plan') {
              jobs = e.jobs;
              planned += e.jobs.length;
              progress({ pairs: planned }, true);
            } else if (e.kind === 'pair-start') progress({ pair: offset + e.index, device: e.job.device.id, backend: e.job.backend, phase: 'starting' }, true);
            else if (e.kind === 'pair-event' && e.event.kind === 'progress') {
              const within = (e.repeat.index + (e.event.progress.phase === 'measure' ? e.event.progress.fraction : 0)) / e.repeat.of;
              progress({ phase: e.event.progress.phase, lastMs: e.event.progress.lastMs, fraction: Math.min(1, (offset + e.index + within) / Math.max(1, planned)) });
            } else if (e.kind === 'pair-end') {
              view.rows.push(...summaryRows(e.rows));
              if (e.error) view.failed.push({ device: jobs[e.index]?.device.id ?? '', backend: jobs[e.index]?.backend ?? '', error: e.error.message });
              progress({ phase: 'done', fraction: Math.min(1, (offset + e.index + 1) / Math.max(1, planned)) }, true);
            }
          },
        });
        reports.push(r);
      }
      const merged = mergeReports(reports);
      view.report = merged;
      view.rows = summaryRows(merged.rows);
      view.failed = merged.failed.map((f) => ({ device: f.device, backend: f.backend, error: f.error.message }));
      state = job.controller.signal.aborted ? 'cancelled' : merged.rows.length === 0 && merged.failed.length > 0 ? 'failed' : 'done';
      if (state === 'failed') error = merged.failed[0]?.error ?? { code: 'INTERNAL', message: 'every pair failed' };
      if (merged.rows.length > 0) {
        await mkdir(this.dir, { recursive: true });
        await writeFileAtomic(join(this.dir, `${view.id}.json`), toJson({ ...okEnvelope(BENCH_SCHEMA, merged, merged.warnings), run: runMeta({ ...view, state, ...(error ? { error } : {}) }) }));
      }
    } catch (err) {
      state = job.controller.signal.aborted ? 'cancelled' : 'failed';
      error = errorRecord(err);
      this.opts.log?.(`bench ${view.id}: ${errorMessage(err)}`);
    }
    // From here to the publish, nothing awaits: the state, the slot and the event change together.
    view.state = state;
    if (error) view.error = error;
    view.finishedAt = new Date().toISOString();
    delete view.progress;
    this.recent.set(view.id, view);
    if (this.recent.size > 20) this.recent.delete(this.recent.keys().next().value as string);
    if (this.job === job) this.job = undefined;
    this.publish(view);
  }

  /** A run: the running one, a recent one of this process, or a saved file. */
  async get(id: string): Promise<BenchJobView> {
    if (!ID.test(id)) throw new BadRequestError(`invalid benchmark id '${id}'`, 'ids look like 20261202T031500Z-a1b2c3 (GET /v1/bench lists them)');
    if (this.job?.view.id === id) return this.job.view;
    const recent = this.recent.get(id);
    if (recent) return recent;
    const saved = await this.readSaved(id);
    return { ...saved.summary, report: saved.report };
  }

  private async readSaved(id: string): Promise<{ summary: BenchRunSummary; report: BenchReport; path: string }> {
    const path = join(this.dir, `${id}.json`);
    let doc: { run?: Partial<BenchRunSummary> };
    try {
      doc = JSON.parse(await readFile(path, 'utf8')) as { run?: Partial<BenchRunSummary> };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`no benchmark ${id}`, 'GET /v1/bench lists the saved runs');
      throw err;
    }
    const report = await readBaseline(path); // the CLI gate's reader: the same checks on the file
    const run = doc.run ?? {};
    const summary: BenchRunSummary = {
      id,
      state: 'done',
      model: run.model ?? report.model.name,
      devices: run.devices ?? [...new Set(report.rows.map((r) => r.device))],
      batch: run.batch ?? report.settings.batches[0] ?? 1,
      durationMs: run.durationMs ?? report.settings.durationMs ?? 0,
      repeat: run.repeat ?? report.settings.repeat,
      startedAt: run.startedAt ?? report.at,
      ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
      rows: summaryRows(report.rows),
      failed: report.failed.map((f) => ({ device: f.device, backend: f.backend, error: f.error.message })),
    };
    return { summary, report, path };
  }

  /** The saved runs, newest first (at most SAVED_LIMIT; a file that cannot be read is left out). */
  async list(): Promise<{ running?: BenchJobView; runs: BenchRunSummary[]; dir: string }> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const ids = names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).filter((id) => ID.test(id)).sort().reverse().slice(0, SAVED_LIMIT);
    const runs: BenchRunSummary[] = [];
    for (const id of ids) {
      const s = await this.readSaved(id).catch(() => undefined);
      if (s) runs.push(s.summary);
    }
    const running = this.running;
    return { ...(running ? { running } : {}), runs, dir: this.dir };
  }

  /** `current` against `baseline` with the CLI gate's rule (`aivmm bench --baseline`): modes must match. */
  async compare(baselineId: string, currentId: string, maxRegression: number): Promise<BenchCompare> {
    for (const id of [baselineId, currentId]) if (!ID.test(id)) throw new BadRequestError(`invalid benchmark id '${id}'`);
    if (!(maxRegression > 0 && maxRegression < 1)) throw new BadRequestError(`maxRegression ${maxRegression} is out of range`, 'a fraction such as 0.05 (5%)');
    const [base, cur] = await Promise.all([this.readSaved(baselineId), this.readSaved(currentId)]);
    if (!cur.report.measurement) throw new BadRequestError(`run ${currentId} records no measurement mode: it cannot be gated`, 'measure it again');
    const check = checkModes(cur.report.measurement, base.report);
    if (check.modeDiffs.length > 0) {
      throw new BadRequestError(`runs ${baselineId} and ${currentId} were measured in different modes (${check.modeDiffs.join('; ')}): not comparable`, 'measure both with the same batch, duration and repeat');
    }
    const warnings = [...check.warnings, ...check.hostDiffs.map((d) => `host changed: ${d}`)];
    const result = gate(cur.report.rows, base.report, base.path, maxRegression);
    return { baseline: base.summary, current: cur.summary, gate: result, warnings };
  }
}

function runMeta(v: BenchJobView): BenchRunSummary {
  const { report: _r, progress: _p, ...rest } = v;
  return rest;
}

/** One report from the per-selector runs: rows, failures and skips together, speed-ups over all rows. */
function mergeReports(reports: BenchReport[]): BenchReport {
  const [first, ...rest] = reports;
  if (!first) throw new BackendUnavailableError('nothing was measured');
  const out: BenchReport = { ...first, rows: [...first.rows], failed: [...first.failed], skipped: [...first.skipped], warnings: [...first.warnings], runtimes: { ...first.runtimes } };
  for (const r of rest) {
    out.rows.push(...r.rows);
    out.failed.push(...r.failed);
    out.skipped.push(...r.skipped);
    out.warnings.push(...r.warnings);
    Object.assign(out.runtimes, r.runtimes);
    out.elapsedMs += r.elapsedMs;
    out.interrupted ||= r.interrupted;
  }
  if (out.measurement) out.measurement = { ...out.measurement, runtimes: out.runtimes };
  for (const row of out.rows) delete row.speedupVsCpu;
  addSpeedups(out.rows);
  return out;
}

const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: ID.source } } } as const;
const rowSchema = {
  type: 'object',
  properties: { device: { type: 'string' }, deviceName: { type: 'string' }, backend: { type: 'string' }, batch: { type: 'integer' }, p50: { type: 'number' }, p95: { type: 'number' }, p99: { type: 'number' }, itemsPerSec: { type: 'number' }, speedupVsCpu: { type: 'number' }, noisy: { type: 'boolean' } },
} as const;
const runSchema = {
  type: 'object',
  required: ['id', 'state', 'model', 'devices', 'batch', 'rows'],
  properties: {
    id: { type: 'string' },
    state: { enum: ['running', 'done', 'failed', 'cancelled'] },
    model: { type: 'string' },
    devices: { type: 'array', items: { type: 'string' } },
    batch: { type: 'integer' },
    durationMs: { type: 'integer' },
    repeat: { type: 'integer' },
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
    rows: { type: 'array', items: rowSchema },
    failed: { type: 'array', items: { type: 'object', properties: { device: { type: 'string' }, backend: { type: 'string' }, error: { type: 'string' } } } },
    progress: { type: 'object', properties: { pairs: { type: 'integer' }, pair: { type: 'integer' }, device: { type: 'string' }, backend: { type: 'string' }, phase: { type: 'string' }, fraction: { type: 'number' }, lastMs: { type: 'number' } } },
    report: { type: 'object', description: "the aivmm/bench@1 report (as `aivmm bench --json`'s data), with every row's samples and histogram" },
  },
} as const;
const errorRef = { $ref: '#/components/schemas/Error' };

export function registerBenchRoutes(app: FastifyInstance, bench: BenchService): void {
  const tags = ['Bench'];
  const json = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) });
  app.post(
    '/v1/bench',
    {
      schema: {
        summary: 'Start a benchmark (one at a time): each (device, backend) pair in a fresh worker process; progress on /v1/events (bench events)',
        tags,
        body: {
          type: 'object',
          required: ['model'],
          additionalProperties: false,
          properties: {
            model: { type: 'string', minLength: 1, maxLength: 256, description: 'a served model name, an embedded model, or a catalog alias / Hub id in the cache' },
            devices: { type: 'array', minItems: 1, maxItems: 16, items: { type: 'string', pattern: '^(all|[A-Za-z]+(\\.[0-9]+)?)$' }, description: 'device selectors; default ["CPU"]' },
            backends: { type: 'array', maxItems: 8, items: { type: 'string', minLength: 1, maxLength: 32 } },
            batch: { type: 'integer', minimum: 1, maximum: 256, description: 'default 1' },
            duration: { type: ['number', 'string'], description: 'per row: seconds (0.1–120) or a time such as "2s"; default 2' },
            repeat: { type: 'integer', minimum: 1, maximum: 5, description: 'fresh processes per pair; ≥ 2 on both sides lets a comparison decide; default 1' },
          },
        },
        'x-responses': { 202: { description: 'started', schema: runSchema }, 400: { description: 'bad input', schema: errorRef }, 404: { description: 'unknown model or device', schema: errorRef }, 409: { description: 'a benchmark is already running', schema: errorRef } },
      },
    },
    async (req: FastifyRequest<{ Body: BenchRequest }>, reply) => {
      const { backends } = req.body;
      const view = await bench.start({ ...req.body, ...(backends ? { backends } : {}) });
      const r = json(202, stripReport(view));
      return reply.code(r.status).type('application/json').header('location', `/v1/bench/${view.id}`).send(r.body);
    },
  );
  app.get('/v1/bench', { schema: { summary: 'The running benchmark and the saved runs, newest first', tags, 'x-responses': { 200: { description: 'OK', schema: { type: 'object', properties: { running: runSchema, runs: { type: 'array', items: runSchema }, dir: { type: 'string' } } } } } } }, async (_req, reply) => {
    const l = await bench.list();
    return reply.type('application/json').send(JSON.stringify({ ...l, ...(l.running ? { running: stripReport(l.running) } : {}) }));
  });
  app.get(
    '/v1/bench/compare',
    {
      schema: {
        summary: "Compare two saved runs with the CLI gate's rule (aivmm bench --baseline): per row regressed / improved / unchanged / too-noisy",
        tags,
        querystring: {
          type: 'object',
          required: ['baseline', 'current'],
          properties: { baseline: { type: 'string', pattern: ID.source }, current: { type: 'string', pattern: ID.source }, maxRegression: { type: 'string', maxLength: 16, description: 'largest tolerated slowdown, as the CLI\'s --max-regression: 5% or 0.05 (default 5%)' } },
        },
        'x-responses': { 200: { description: 'the gate result (as `aivmm bench --json` with --baseline: data.gate)' }, 400: { description: 'bad ids or different measurement modes', schema: errorRef }, 404: { description: 'no such run', schema: errorRef } },
      },
    },
    async (req: FastifyRequest<{ Querystring: { baseline: string; current: string; maxRegression?: string } }>, reply) => {
      const max = req.query.maxRegression === undefined ? 0.05 : parsePercent(req.query.maxRegression);
      if (max === undefined) throw new BadRequestError(`invalid maxRegression '${req.query.maxRegression}'`, 'a percentage such as 5% (or 0.05)');
      return reply.type('application/json').send(JSON.stringify(await bench.compare(req.query.baseline, req.query.current, max)));
    },
  );
  app.get('/v1/bench/:id', { schema: { summary: 'A benchmark: progress while it runs, then its rows and full report', tags, params: idParam, 'x-responses': { 200: { description: 'OK', schema: runSchema }, 404: { description: 'no such run', schema: errorRef } } } }, async (req: FastifyRequest<{ Params: { id: string } }>, reply) =>
    reply.type('application/json').send(JSON.stringify(await bench.get(req.params.id))),
  );
  app.delete('/v1/bench/:id', { schema: { summary: 'Cancel the running benchmark (it ends with what it measured)', tags, params: idParam, 'x-responses': { 202: { description: 'cancelling', schema: runSchema }, 404: { description: 'not running', schema: errorRef } } } }, async (req: FastifyRequest<{ Params: { id: string } }>, reply) =>
    reply.code(202).type('application/json').send(JSON.stringify(stripReport(bench.cancel(req.params.id)))),
  );
}

function stripReport(v: BenchJobView): BenchJobView {
  const { report: _r, ...rest } = v;
  return rest;
}
