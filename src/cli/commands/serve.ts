/**
 * `aivmm serve`: flags and config file → a model registry → the HTTP server; runs until SIGTERM/SIGINT,
 * then drains (up to --drain-timeout) and exits 0. A second signal exits at once (130).
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError, UsageError, errorMessage } from '../../core/errors.js';
import {
  DEFAULT_SETTINGS,
  parseDuration,
  parseInstances,
  parseLaneHost,
  parseServeConfig,
  parseSize,
  settingsFor,
  type ModelSettings,
  type ServeConfig,
} from '../../core/serve/config.js';
import { ModelRegistry } from '../../core/serve/registry.js';
import { BufferPool } from '../../core/buffer-pool.js';
import { isPipelineModelDir, taskOfFiles } from '../../core/serve/pipeline-dir.js';
import { checkModelName } from '../../core/serve/repository.js';
import type { TaskPlan } from '../../core/tasks/plan.js';
import type { CliContext } from '../context.js';
import { resolveModelArg } from '../model-arg.js';
import { aivmmVersion } from '../version.js';

export interface ServeFlags {
  modelRepository?: string;
  config?: string;
  host?: string;
  port?: string;
  grpcPort?: string;
  device?: string;
  apiKey?: string;
  poll?: string;
  requestTimeout?: string;
  drainTimeout?: string;
  maxBody?: string;
  maxQueue?: string;
  instances?: string;
  keepAlive?: string;
  /** --lane process|thread (server.lane). */
  lane?: string;
  /** false with --no-metrics: no /metrics route, nothing recorded. */
  metrics?: boolean;
  metricsPublic?: boolean;
  telemetryInterval?: string;
  logLevel?: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const SERVE_SCHEMA = 'aivmm/serve@1';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost|\[::1\])$/i;

function flagNumber(v: string | undefined, flag: string, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`invalid ${flag} '${v}'`, `give an integer ≥ ${min}`);
  return n;
}

function flagDuration(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseDuration(v, flag);
  } catch (err) {
    throw new UsageError(errorMessage(err), 'e.g. 500ms, 10s, 5m');
  }
}

/** "name=model" names a model explicitly; otherwise the name is the alias, embedded name or file stem. */
function splitNamed(arg: string): { name?: string; model: string } {
  const m = /^([A-Za-z0-9_][A-Za-z0-9_.-]*)=(.+)$/.exec(arg);
  return m ? { name: m[1] as string, model: m[2] as string } : { model: arg };
}

/** Where a pipeline model answers, for the start-up listing. */
function routesOf(task: string | undefined, url: string): string {
  if (task === 'automatic-speech-recognition') return `POST ${url}/v1/audio/transcriptions`;
  if (task === 'text-generation') return `POST ${url}/v1/chat/completions`;
  if (task === 'sentence-embeddings') return `POST ${url}/v1/embeddings`;
  if (task) return `POST ${url}/v1/tasks/<name>`;
  return `OpenAI routes under ${url}/v1`;
}

export async function serveCommand(ctx: CliContext, models: string[], opts: ServeFlags): Promise<void> {
  const env = ctx.io.env;
  let config: ServeConfig = { models: [] };
  const configPath = opts.config ?? env['AIVMM_SERVE_CONFIG'];
  if (configPath) {
    const text = await readFile(configPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new ConfigError(`cannot read ${configPath}: ${err.code ?? errorMessage(err)}`);
    });
    config = parseServeConfig(text, configPath);
  }
  // OTEL_* variables over the config file's tracing: section; read before anything loads, so a malformed one fails at once (exit 3)
  const tracingSettings = config.tracing ? (await import('../../core/config/tracing.js')).tracingSettings(ctx.config.env, config.tracing) : ctx.config.tracing;
  const host = opts.host ?? config.host ?? '127.0.0.1';
  const port = flagNumber(opts.port, '--port') ?? config.port ?? 8080;
  if (port > 65535) throw new UsageError(`invalid --port '${port}'`, 'give 0 (any free port) to 65535');
  const grpcPort = flagNumber(opts.grpcPort, '--grpc-port') ?? config.grpcPort;
  if (grpcPort !== undefined && grpcPort > 65535) throw new UsageError(`invalid --grpc-port '${grpcPort}'`, 'give 0 (any free port) to 65535');
  if (grpcPort !== undefined && grpcPort === port && port !== 0)
    throw new UsageError(`--grpc-port ${grpcPort} is the HTTP --port too`, 'give gRPC its own port (Triton uses 8001 beside 8000)');
  const apiKey = opts.apiKey ?? env['AIVMM_API_KEY'] ?? undefined;
  if (!LOOPBACK.test(host) && !apiKey) {
    throw new UsageError(
      `--host ${host} would expose the server beyond this machine without an API key`,
      'set --api-key <secret> or AIVMM_API_KEY (clients send Authorization: Bearer <secret>), or bind 127.0.0.1',
    );
  }
  const device = opts.device ?? config.device ?? 'CPU';
  const devices = device
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean);
  const defaultDevice = devices[0]?.toLowerCase() === 'auto' ? 'CPU' : (devices[0] ?? 'CPU');
  const instancesFlag = flagNumber(opts.instances, '--instances', 1);
  const defaults: ModelSettings = settingsFor(DEFAULT_SETTINGS, {
    // --device GPU.0,CPU: each model gets instances on every listed device (the router balances them).
    instances:
      devices.length > 1 && !devices.some((d) => d.toLowerCase() === 'auto')
        ? Object.fromEntries(devices.map((d) => [d, instancesFlag ?? 1]))
        : parseInstances(instancesFlag ?? 1, 'flags', defaultDevice),
    maxQueue: flagNumber(opts.maxQueue, '--max-queue') ?? config.maxQueue ?? DEFAULT_SETTINGS.maxQueue,
    keepAliveMs: flagDuration(opts.keepAlive, '--keep-alive') ?? config.keepAliveMs ?? 0,
  });
  let laneHost = config.lane ?? 'process';
  if (opts.lane !== undefined) {
    try {
      laneHost = parseLaneHost(opts.lane, '--lane');
    } catch (err) {
      throw new UsageError(errorMessage(err), 'process (default) or thread');
    }
  }
  const repository = opts.modelRepository ?? config.modelRepository;
  const pollMs = flagDuration(opts.poll, '--poll') ?? config.pollMs ?? 2000;
  const requestTimeoutMs = flagDuration(opts.requestTimeout, '--request-timeout') ?? config.requestTimeoutMs ?? 0;
  const drainMs = flagDuration(opts.drainTimeout, '--drain-timeout') ?? config.drainTimeoutMs ?? 10_000;
  let maxBodyBytes = config.maxBodyBytes ?? 64 * 1024 * 1024;
  if (opts.maxBody !== undefined) {
    try {
      maxBodyBytes = parseSize(opts.maxBody, '--max-body');
    } catch (err) {
      throw new UsageError(errorMessage(err));
    }
  }

  // Which models: the arguments, the config's models with a source, or (neither, no repository) the embedded default.
  const { cacheDir } = ctx.config.paths;
  const configured = new Map(config.models.map((m) => [m.name, m]));
  const explicit: { name: string; path: string; settings: ModelSettings }[] = [];
  const wanted: { name?: string; model: string | undefined }[] = models.map(splitNamed);
  for (const m of config.models) if (m.model) wanted.push({ name: m.name, model: m.model });
  if (!wanted.length && !repository) wanted.push({ model: undefined });
  const [{ startServer, forwardEvents }, { EventHub }, { deviceFactory }] = await Promise.all([
    import('../../server/start.js'),
    import('../../server/events.js'),
    import('../../server/devices.js'),
  ]);
  const events = new EventHub();
  const logLevel = opts.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`invalid --log-level '${logLevel}'`, `one of ${LOG_LEVELS.join(', ')}`);
  // Lifecycle events as JSON lines on stderr once the server (and its logger) exists.
  let lifecycle = undefined as ((level: 'info' | 'warn', fields: Record<string, unknown>, msg: string) => void) | undefined;
  const { createServeMetrics } = await import('../../core/serve-metrics/index.js');
  const metrics = opts.metrics === false ? undefined : createServeMetrics();
  const telemetryMs = flagDuration(opts.telemetryInterval, '--telemetry-interval') ?? 5000;
  const forward = forwardEvents(events, metrics);
  const factory = deviceFactory({
    discover: async () => {
      const { listDevices } = await import('../../core/devices/index.js');
      return listDevices({ host: ctx.host(), cacheDir });
    },
    makeExecutor: async (target, device) => {
      // One long-lived worker lane (a child process pinned to the device; with --lane thread, a worker
      // thread) per device: the HTTP event loop never runs inference, and (process) a native crash takes
      // down the lane, not the server.
      const { LaneExecutor, PIPELINE_JOB_MODULE } = await import('../../server/lane-executor.js');
      return new LaneExecutor({
        host: laneHost,
        jobModules: [PIPELINE_JOB_MODULE],
        name: `${device} ${target.runtime === 'onnxruntime' ? `ort-${target.provider}` : 'openvino'}`,
        target,
        baseEnv: env,
        onCrash: (e) => {
          ctx.io.stderr.write(`warning: ${e.reason}; restarting the lane\n`);
          events.publish({ type: 'lane', state: 'crashed', lane: e.lane, reason: e.reason, at: Date.now() });
          lifecycle?.('warn', { event: 'lane', state: 'crashed', lane: e.lane, reason: e.reason }, `lane ${e.lane} crashed`);
        },
        onRestart: (e) => {
          ctx.log(`lane ${e.lane} restarted in ${Math.round(e.ms)} ms with ${e.instances} instance(s)${e.error ? ` (reload failed: ${e.error})` : ''}`);
          events.publish({ type: 'lane', state: 'restarted', lane: e.lane, instances: e.instances, at: Date.now(), ...(e.error ? { error: e.error } : {}) });
          lifecycle?.(
            'info',
            { event: 'lane', state: 'restarted', lane: e.lane, instances: e.instances, ms: Math.round(e.ms), ...(e.error ? { error: e.error } : {}) },
            `lane ${e.lane} restarted`,
          );
        },
        onStderr: (line) => ctx.log(`lane ${device}: ${line}`),
      });
    },
  });
  const autoDevice = devices[0]?.toLowerCase() === 'auto';
  /**
   * --device auto: the pair `aivmm bench` (or `run --device auto`) measured fastest for this model on this
   * host (batch-1 latency, from the cache); nothing is probed at start. Unmeasured: the CPU, and why.
   */
  const autoPlacement = async (path: string, name: string): Promise<Partial<ModelSettings>> => {
    const count = instancesFlag ?? 1;
    try {
      const [{ autoCandidates, choose }, { sha256File }] = await Promise.all([import('../../core/bench/auto.js'), import('../../core/bench/index.js')]);
      const report = await factory.report();
      const candidates = await autoCandidates(cacheDir, report, await sha256File(path), []);
      if (candidates.some((c) => !c.excluded && c.measured?.latencyMs !== undefined)) {
        const c = choose(candidates, 'latency', []);
        return { instances: { [`${c.device}@${c.backend}`]: count }, placementReason: `--device auto: ${c.reason}` };
      }
      return {
        instances: { CPU: count },
        placementReason: `--device auto: no measurement of ${name} on this host yet, so the CPU; \`aivmm bench ${name === 'mobilenetv2-seeded' ? '' : '<model> '}--device all\` measures every pair for the next start`,
      };
    } catch (err) {
      return { instances: { CPU: count }, placementReason: `--device auto: the CPU (${errorMessage(err)})` };
    }
  };
  const [{ findAlias }, { EMBEDDED_MODELS }, { planTask }] = await Promise.all([
    import('../../core/hub/catalog.js'),
    import('../../core/models/embedded.js'),
    import('../../core/tasks/plan.js'),
  ]);
  const planned: { name: string; plan: TaskPlan; device: string; settings: ModelSettings; tensors: boolean }[] = [];
  for (const w of wanted) {
    // A local directory holds a pipeline model's files (Whisper's encoder + decoder, CLIP's towers, a model with its tokenizer).
    const localDir =
      w.model !== undefined &&
      (await stat(resolve(w.model)).then(
        (st) => st.isDirectory(),
        () => false,
      ));
    const resolved = await resolveModelArg(ctx, w.model, cacheDir, localDir ? { multi: true } : {});
    const dirTask = resolved.files ? taskOfFiles(resolved.files) : undefined;
    if (resolved.files && resolved.files.length > 1 && !dirTask) {
      throw new UsageError(
        `${w.model} holds ${resolved.files.length} ONNX files (${resolved.files.map((f) => basename(f)).join(', ')}) and they are not a Whisper or CLIP pair`,
        'give the .onnx file to serve (name=path/to/model.onnx names it)',
      );
    }
    const name = checkModelName(w.name ?? (resolved.embedded ? resolved.name : basename(resolved.name).replace(/\.onnx$/i, '')));
    const { name: _n, model: _m, ...own } = configured.get(name) ?? { name };
    let settings = settingsFor(defaults, own);
    if (autoDevice && !own.instances) settings = { ...settings, ...(await autoPlacement(resolve(resolved.path), name)) };
    const entry = w.model ? findAlias(w.model) : undefined;
    const embedded = EMBEDDED_MODELS[resolved.name];
    const plan = await planTask({
      model: resolve(resolved.path),
      ...(resolved.files ? { files: resolved.files.map((f) => resolve(f)) } : {}),
      modelName: name,
      ...(dirTask ? { task: dirTask } : {}),
      ...(entry ? { catalogEntry: entry } : {}),
      ...(embedded ? { embedded: { task: embedded.task } } : {}),
    });
    // Text models are served through their pipeline (OpenAI routes); a model of unknown task both ways.
    // A model of unknown task with a tokenizer beside it is taken for a text model (no tensor warm-up on it).
    const besideTokenizer =
      !plan.task &&
      (
        await Promise.all(
          [dirname(resolved.path), dirname(dirname(resolved.path))].map((d) =>
            stat(join(d, 'tokenizer.json')).then(
              () => true,
              () => false,
            ),
          ),
        )
      ).some(Boolean);
    const textOnly =
      besideTokenizer ||
      (resolved.files?.length ?? 0) > 1 ||
      plan.task === 'text-generation' ||
      plan.task === 'sentence-embeddings' ||
      plan.task === 'automatic-speech-recognition';
    planned.push({ name, plan, device: Object.keys(settings.instances)[0] ?? 'CPU', settings, tensors: !textOnly });
    if (!textOnly) explicit.push({ name, path: resolve(resolved.path), settings });
  }
  const overrides = new Map<string, ModelSettings>();
  for (const { name, model, ...own } of config.models) if (!model) overrides.set(name, settingsFor(defaults, own));

  // Binary request bodies are read into one pool of buffers, reused instead of allocated per request.
  const buffers = new BufferPool();
  const registry = new ModelRegistry({
    executorFor: (d) => factory.executorFor(d),
    // A model on several devices: the router starts from bench's cached batch-1 p50 for each pair.
    seedCostMs: async (path, device, backend) => {
      const [{ autoCandidates }, { sha256File }] = await Promise.all([import('../../core/bench/auto.js'), import('../../core/bench/index.js')]);
      const candidates = await autoCandidates(cacheDir, await factory.report(), await sha256File(path), []);
      return candidates.find((c) => c.device === device.split('@')[0] && c.backend === backend)?.measured?.latencyMs;
    },
    repository,
    // Pipeline models in the repository (a tokenizer beside, Whisper/CLIP pairs) are the PipelineService's.
    ...(repository ? { ignore: (n: string) => isPipelineModelDir(repository, n) } : {}),
    defaults,
    overrides,
    onEvent: (e) => {
      forward(e);
      if (e.type === 'model') {
        ctx.log(`${e.model} v${e.version}: ${e.state}${e.reason ? ` (${e.reason})` : ''}`);
        lifecycle?.(
          e.reason?.startsWith('load failed') ? 'warn' : 'info',
          { event: 'model', model: e.model, version: e.version, state: e.state, ...(e.reason ? { reason: e.reason } : {}) },
          `model ${e.model} v${e.version} ${e.state}`,
        );
      }
    },
  });
  for (const m of explicit) registry.add({ name: m.name, kind: 'file', path: m.path, settings: m.settings });
  const { PipelineService } = await import('../../server/pipelines.js');
  const pipelines = new PipelineService((d) => factory.executorFor(d), {
    repository,
    planVersion: async (name, v) => {
      const settings = overrides.get(name) ?? defaults;
      const plan = await planTask({
        model: v.files[0] as string,
        files: v.files,
        modelName: name,
        ...(v.task ? { task: v.task } : {}),
        ...(v.tokenizer ? { flags: { tokenizer: v.tokenizer } } : {}),
      });
      return {
        plan,
        device: Object.keys(settings.instances)[0] ?? 'CPU',
        maxQueue: settings.maxQueue,
        ...(settings.threads ? { threads: settings.threads } : {}),
        ...(settings.maxSequences ? { maxSequences: settings.maxSequences } : {}),
      };
    },
    onEvent: (e) => {
      forward(e);
      ctx.log(`${e.model} v${e.version}: ${e.state}${e.reason ? ` (${e.reason})` : ''}`);
      lifecycle?.(
        e.reason?.startsWith('load failed') ? 'warn' : 'info',
        { event: 'model', model: e.model, version: e.version, state: e.state, ...(e.reason ? { reason: e.reason } : {}) },
        `model ${e.model} v${e.version} ${e.state}`,
      );
    },
  });
  for (const p of planned)
    pipelines.add({
      name: p.name,
      plan: p.plan,
      device: p.device,
      maxQueue: p.settings.maxQueue,
      ...(p.settings.threads ? { threads: p.settings.threads } : {}),
      ...(p.settings.maxSequences ? { maxSequences: p.settings.maxSequences } : {}),
    });
  if (repository) {
    await pipelines.poll(true); // the repository's pipeline models, opened now (as the registry loads its models)
    await registry.scan();
  }
  // Hot reload of repository pipeline models, on the registry's polling interval.
  let pipelinePolling = false;
  const pipelinePoll =
    repository && pollMs
      ? setInterval(() => {
          if (pipelinePolling) return;
          pipelinePolling = true;
          void pipelines.poll().finally(() => {
            pipelinePolling = false;
          });
        }, pollMs)
      : undefined;
  pipelinePoll?.unref();

  const state = { ready: false, closing: false };
  let telemetry: { sampler: import('../../core/devices/telemetry.js').TelemetrySampler; periodMs: number; onError: (e: unknown) => void } | undefined;
  if (metrics && telemetryMs > 0) {
    const { createTelemetrySampler } = await import('../../core/devices/telemetry.js');
    const report = await factory.report().catch(() => undefined);
    if (report)
      telemetry = {
        sampler: createTelemetrySampler({ host: ctx.host(), devices: report.devices }),
        periodMs: telemetryMs,
        onError: (e) => ctx.log(`telemetry: ${errorMessage(e)}`),
      };
  }
  // the SDK is loaded only when tracing is on
  const tracing = tracingSettings.enabled
    ? await (
        await import('../../server/tracing.js')
      ).startTracing(tracingSettings, { serviceVersion: aivmmVersion(), onExportError: (m) => ctx.io.stderr.write(`warning: tracing: ${m}\n`) })
    : undefined;
  // Bench from the dashboard (/v1/bench): a served model by name, else the cache (offline: never a download).
  const [{ BenchService, benchModelResolver }, { resolveModel }, { userAgent }] = await Promise.all([
    import('../../server/routes/bench.js'),
    import('../../core/hub/resolve-model.js'),
    import('../version.js'),
  ]);
  const servedPath = (name: string): string | undefined =>
    registry.names().includes(name) ? (registry.served(name)[0]?.file.path ?? explicit.find((m) => m.name === name)?.path) : undefined;
  const bench = new BenchService({
    cacheDir,
    devices: () => factory.report(),
    // cwd: a directory that does not exist, so a name is never read as a file next to the server
    resolveModel: benchModelResolver({
      served: servedPath,
      resolve: (name) =>
        resolveModel(name, cacheDir, join(cacheDir, '.bench-no-cwd'), async (id) => {
          const { pullModel } = await import('../../core/hub/pull.js');
          return pullModel({ id }, { settings: { ...ctx.config.hub, offline: true }, userAgent: userAgent() });
        }),
    }),
    publish: (e) => events.publish(e),
    aivmmVersion: aivmmVersion(),
    baseEnv: env,
    log: (line) => ctx.log(line),
  });
  const server = await startServer(
    registry,
    {
      host,
      port,
      grpcPort,
      apiKey,
      maxBodyBytes,
      buffers,
      requestTimeoutMs,
      serverVersion: aivmmVersion(),
      pollMs,
      events,
      pipelines,
      bench,
      unavailableDevices: () => factory.unavailable(),
      lanes: () => factory.lanes(),
      metrics,
      metricsPublic: opts.metricsPublic ?? config.metricsPublic ?? false,
      tracing,
      telemetry,
      logger: { level: logLevel, stream: ctx.io.stderr },
    },
    state,
  );
  lifecycle = (level, fields, msg) => server.app.log[level](fields, msg);
  lifecycle(
    'info',
    {
      event: 'start',
      url: server.url,
      ...(server.grpc ? { grpc: server.grpc.address } : {}),
      pid: process.pid,
      metrics: Boolean(metrics),
      auth: Boolean(apiKey),
      tracing: tracingSettings.reason,
    },
    'listening',
  );
  const failures: string[] = [];
  for (const name of registry.names()) {
    await registry.load(name).catch((err) => failures.push(`${name}: ${errorMessage(err)}`));
  }
  // Pipeline models open now too (in their lanes), so the index says READY or why not before the ready line.
  const pipelineFailures: string[] = [];
  const tensorNames = new Set(registry.names());
  for (const name of pipelines.names().filter((n) => !tensorNames.has(n)))
    await pipelines.load(name).catch((err) => pipelineFailures.push(`${name}: ${errorMessage(err)}`));
  for (const f of [...failures, ...pipelineFailures]) ctx.io.stderr.write(`warning: ${f}\n`);
  const textModels = planned.filter((p) => !p.tensors).length;
  if (registry.names().length > 0 && failures.length === registry.names().length && textModels === 0) {
    await server.close(0);
    await factory.closeAll();
    throw new UsageError(`no model could be loaded (${failures.join('; ')})`, 'check the model files (`aivmm run <model>` loads one alone)');
  }
  state.ready = true;

  // Image models are served both ways (v2 tensors and /v1/tasks): listed once, by the registry.
  const index = [...registry.index(), ...pipelines.index().filter((e) => !tensorNames.has(e.name))].sort((a, b) => a.name.localeCompare(b.name));
  if (ctx.flags.json) {
    ctx.io.stdout.write(
      `${JSON.stringify({ schema: SERVE_SCHEMA, ok: true, data: { url: server.url, host: server.host, port: server.port, ...(server.grpc ? { grpc: server.grpc.address } : {}), models: index, pid: process.pid }, warnings: [...failures, ...pipelineFailures] })}\n`,
    );
  } else {
    ctx.io.stdout.write(`aivmm serve: listening on ${server.url}${server.grpc ? ` and gRPC ${server.grpc.address}` : ''}\n`);
    for (const e of index) ctx.io.stdout.write(`  ${e.name}${e.version ? ` v${e.version}` : ''}: ${e.state}${e.reason ? ` (${e.reason})` : ''}\n`);
    for (const p of planned.filter((x) => !x.tensors))
      ctx.io.stdout.write(`  ${p.name}: ${p.plan.task ?? 'text model (task from the model when opened)'} (${routesOf(p.plan.task, server.url)})\n`);
    ctx.io.stdout.write(`  try: curl ${server.url}/v2/models/${index[0]?.name ?? '<name>'}\n`);
  }

  await new Promise<void>((done) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        ctx.io.stderr.write(`aivmm serve: ${sig} again, exiting now\n`);
        process.exit(130); // the second signal does not wait for anything
      }
      ctx.io.stderr.write(`aivmm serve: ${sig}, draining (up to ${Math.round(drainMs / 1000)} s; ${sig} again exits now)\n`);
      lifecycle?.('info', { event: 'drain', signal: sig, drainMs }, 'draining');
      if (pipelinePoll) clearInterval(pipelinePoll);
      pipelines.close();
      void server
        .close(drainMs)
        .then(() => factory.closeAll())
        .catch((err) => ctx.io.stderr.write(`warning: shutdown: ${errorMessage(err)}\n`))
        .finally(() => {
          lifecycle?.('info', { event: 'stopped' }, 'stopped');
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          done();
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
