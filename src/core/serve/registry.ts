/**
 * The model registry: which models the server knows (from the command line, the config file and the
 * repository), which versions are loaded, and their lifecycle — load (warm-up before READY), unload,
 * hot reload and idle unload. Testable without HTTP: the server only resolves, decodes and calls run().
 *
 * Hot reload: a changed or new version is loaded beside the one serving; when it is READY the served set
 * is swapped in one assignment, so a request sees either the old or the new version, never none. The old
 * version is retired: requests holding it (queued or running) finish on it, then its instances unload.
 * A version that fails to load leaves the old one serving and its reason in the index. Concurrent loads
 * of one model share one promise, so the model is loaded once.
 */
import { availableParallelism } from 'node:os';
import type { HostTensor, TensorSpec } from '../backends/types.js';
import { errorMessage } from '../errors.js';
import type { BatchingSettings, ModelSettings } from './config.js';
import { ModelNotFoundError, ModelUnavailableError, RequestCancelledError } from './errors.js';
import type { ModelExecutor } from './executor.js';
import { AdmissionQueue, type Admission, type QueueStats } from './queue.js';
import { applyPolicy, checkModelName, scanRepository, statModelFile, type VersionFile } from './repository.js';
import { warmupFeeds } from './tensors.js';
import { DynamicBatcher, batchable, padFeeds, type BatcherStats, type HeldWork } from './batcher.js';
import { Router, type PlacementExplanation } from './router.js';
import type { SchedulerPolicy, SchedulerStats } from './scheduler.js';

export type ModelState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

/** Where an executor runs and why it was chosen (GET /v1/placement). */
export interface Placement {
  device: string;
  backend: string;
  runtimeVersion?: string;
  fallback?: boolean;
  /** Intra-op threads of the instances here, when the registry chose or was given a number. */
  threads?: number;
  /** With dynamic batching on an EP that re-plans per shape: each instance keeps up to this many sessions, one per batch size. */
  sessionPerBatchSize?: number;
  /** A sentence: measured choice, requested, fallback, or what was unavailable. */
  reason: string;
}

export interface DeviceExecutor {
  executor: ModelExecutor;
  placement: Placement;
}

/**
 * An executor that reports its health (a lane: down when it crashed, up when its restart reloaded the
 * instances). The registry marks the router's instances on it down and up.
 */
export interface HealthReporting {
  onHealth(listener: (e: { up: boolean; reason?: string }) => void): () => void;
}

const reportsHealth = (ex: unknown): ex is HealthReporting => typeof (ex as Partial<HealthReporting>).onHealth === 'function';

/** The scheduler policy of a model's settings: its priority levels, the others holding max_queue. */
export function schedulerPolicyOf(s: ModelSettings): SchedulerPolicy {
  const p = s.priorities;
  const fallback = { maxQueue: s.maxQueue, timeoutAction: 'reject' as const };
  if (!p) return { levels: 1, defaultLevel: 1, fallback };
  const perLevel: SchedulerPolicy['perLevel'] = {};
  for (const [n, l] of Object.entries(p.perLevel))
    perLevel[Number(n)] = {
      ...(l.maxQueue !== undefined ? { maxQueue: l.maxQueue } : {}),
      ...(l.timeoutMs !== undefined ? { timeoutMs: l.timeoutMs } : {}),
      ...(l.timeoutAction ? { timeoutAction: l.timeoutAction } : {}),
    };
  return { levels: p.levels, defaultLevel: p.defaultLevel, perLevel, fallback };
}

export type ServeEvent =
  | { type: 'model'; model: string; version: string; state: ModelState; reason?: string; at: number }
  | { type: 'placement'; model: string; version: string; placement: Placement[]; at: number };

export interface ModelSource {
  name: string;
  /** A model file (served as version 1) or a repository model directory's versions. */
  kind: 'file' | 'repository';
  path?: string;
  settings: ModelSettings;
}

export interface RegistryOptions {
  /** The executor of a device ("CPU", "GPU.0"), created on first use and kept. */
  executorFor(device: string): Promise<DeviceExecutor>;
  repository?: string | undefined;
  /** Settings for repository models that the config does not name. */
  defaults: ModelSettings;
  /** Per-model settings for repository models, by name. */
  overrides?: ReadonlyMap<string, ModelSettings>;
  clock?: () => number;
  onEvent?: (e: ServeEvent) => void;
  /**
   * A known cost (ms per request) of a model file on a (device, backend), e.g. bench's cached batch-1
   * p50: seeds the router of a model served on several devices (learned online from there).
   */
  seedCostMs?(modelPath: string, device: string, backend: string): Promise<number | undefined>;
  /** Repository models another service serves (pipeline models: server/pipelines.ts); scans skip them. */
  ignore?: (name: string) => boolean;
  /** Cores of this host (default os.availableParallelism()): sizes the CPU instance beside a GPU. */
  cores?: number;
}

/**
 * Intra-op threads of a CPU instance placed beside accelerator lanes, when `threads` is not given: the
 * cores less two (the HTTP process, the load) and one per accelerator lane (its host thread), at least 1.
 * Undefined (the runtime decides: every core) when the CPU is the only device.
 */
export function cpuThreadsBeside(cores: number, acceleratorLanes: number): number | undefined {
  return acceleratorLanes > 0 ? Math.max(1, cores - 2 - acceleratorLanes) : undefined;
}

/** What the batching warm-up did at load: each candidate size run twice per instance. */
export interface WarmupStats {
  ms: number;
  sizes: number[];
  /** The second run's compute per size (ms, the median over instances): the batcher's seeded costs. */
  costs: Record<number, number>;
}

let generation = 0;

/** Sessions per batch size an instance may hold; above the candidate sizes a batcher forms (1, 2, 4 … 32 and the preferred). */
const MAX_SESSIONS_PER_INSTANCE = 16;

/**
 * How many sessions per batch size an instance opens (undefined: one session for every size). `auto` means
 * the EPs that re-plan their kernels when a shape changes: CUDA (cuDNN's convolution plans) and TensorRT
 * (an engine per shape); the CPU EP, OpenVINO and WebGPU keep one session.
 */
export function sessionPerBatchSize(b: BatchingSettings | undefined, backend: string): number | undefined {
  if (!b || b.sessionPerBatchSize === false) return undefined;
  if (b.sessionPerBatchSize === true || /(^|-)(cuda|tensorrt)$/i.test(backend)) return MAX_SESSIONS_PER_INSTANCE;
  return undefined;
}

const isCpu = (device: string): boolean => device.split('@')[0]?.toUpperCase() === 'CPU';

/**
 * Runs each batch size twice on every instance (batch-1 zero feeds padded to the size). `byInstance`: each
 * instance's second-run times, which seed the router of a model on several devices.
 */
export async function warmBatchSizes(
  instances: ReadonlyMap<string, ModelExecutor>,
  inputs: readonly TensorSpec[],
  sizes: readonly number[],
): Promise<WarmupStats & { byInstance: Record<string, Record<number, number>> }> {
  const t0 = performance.now();
  const costs: Record<number, number> = {};
  const byInstance: Record<string, Record<number, number>> = {};
  // Fresh feeds for every run: a lane executor moves (detaches) the buffers it is given.
  const feeds = (b: number): Record<string, HostTensor> => padFeeds(warmupFeeds(inputs), 1, b);
  for (const b of sizes) {
    const seconds: number[] = [];
    for (const [id, ex] of instances) {
      await ex.run(id, feeds(b));
      const ms = (await ex.run(id, feeds(b))).computeMs;
      seconds.push(ms);
      (byInstance[id] ??= {})[b] = ms;
    }
    seconds.sort((x, y) => x - y);
    costs[b] = seconds[(seconds.length - 1) >> 1] as number;
  }
  return { ms: performance.now() - t0, sizes: [...sizes], costs, byInstance };
}

/** One loaded version: its instances (on one or more devices), metadata, and admission queue. */
export class LoadedVersion {
  private refs = 0;
  private drainWaiters: (() => void)[] = [];
  readonly loadedAt: number;
  /** Set at load when the model's settings ask for dynamic batching and its batch dimension is dynamic. */
  batcher?: DynamicBatcher;
  /** Set at load when the version's instances span several devices (lanes). */
  router?: Router;
  /** Set when batching warm-up ran at load. */
  warmup?: WarmupStats;
  /** Undone when the version is unloaded (health subscriptions). */
  readonly disposers: (() => void)[] = [];

  constructor(
    readonly model: string,
    readonly version: number,
    readonly file: VersionFile,
    readonly inputs: TensorSpec[],
    readonly outputs: TensorSpec[],
    readonly instances: ReadonlyMap<string, ModelExecutor>,
    readonly queue: AdmissionQueue,
    readonly placement: Placement[],
    now: number,
  ) {
    this.loadedAt = now;
  }

  /** Keeps the version alive (not unloaded by a swap) until the returned function is called. */
  hold(): () => void {
    this.refs++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.refs--;
      if (this.refs === 0) for (const f of this.drainWaiters.splice(0)) f();
    };
  }

  get held(): boolean {
    return this.refs > 0;
  }

  drained(): Promise<void> {
    return this.refs === 0 ? Promise.resolve() : new Promise((r) => this.drainWaiters.push(r));
  }

  /** Runs `feeds` on a free instance through the admission queue. */
  run(
    feeds: Record<string, HostTensor>,
    admission: Admission = {},
  ): Promise<{ value: Record<string, HostTensor>; queueMs: number; computeMs: number; batchSize?: number }> {
    if (this.batcher)
      return this.batcher.submit(feeds, admission).then((r) => ({ value: r.outputs, queueMs: r.queueMs, computeMs: r.computeMs, batchSize: r.batchSize }));
    return this.runOnInstance(feeds, admission);
  }

  /**
   * The 503 (QueueFullError with Retry-After) this request would get now because its level is full, counted
   * as a refusal; undefined when it might be admitted. Asked before the body is read (shedding cheaply).
   */
  refuseEarly(admission: Pick<Admission, 'priority' | 'client'>): Error | undefined {
    return this.batcher ? this.batcher.refuseEarly(admission) : this.queue.refuseEarly(admission);
  }

  /** Routing state for /v1/placement: instances with cost, queue, share and the last decision. */
  routing(): PlacementExplanation | undefined {
    return this.router?.explain();
  }

  /** One run on a free instance (a whole batch when batching). */
  runOnInstance(
    feeds: Record<string, HostTensor>,
    admission: Admission = {},
  ): Promise<{ value: Record<string, HostTensor>; queueMs: number; computeMs: number }> {
    return this.queue.run(async (id) => {
      const ex = this.instances.get(id) as ModelExecutor;
      const r = await ex.run(id, feeds);
      return { value: r.outputs, computeMs: r.computeMs };
    }, admission);
  }
}

interface VersionStatus {
  state: ModelState;
  reason?: string;
}

interface ModelRecord {
  source: ModelSource;
  /** The versions being served, highest first. Replaced as a whole (the atomic switch). */
  served: LoadedVersion[];
  status: Map<number, VersionStatus>;
  loading?: Promise<void> | undefined;
  /** The last scan, for change detection (a change is acted on when two scans agree: no half-written files). */
  lastSeen?: string;
  stableSeen?: string;
  /** Unloaded through the API: polling does not bring it back. */
  unloadedByUser: boolean;
  /** Unloaded by keep_alive: the next request loads it again. */
  idleUnloaded: boolean;
}

export interface IndexEntry {
  name: string;
  version?: string;
  state: ModelState;
  reason?: string;
}

export interface ModelStats {
  name: string;
  version: string;
  instances: number;
  inference_stats: QueueStats;
  /** Dynamic batching: requests, batches, sizes, the learned costs and the current window/size choice. */
  batching?: BatcherStats;
  /** Batching warm-up at load: time, sizes, and the costs it seeded. */
  warmup?: WarmupStats;
  /** Priorities and fair share: per level and per client (present when the model has priority levels). */
  scheduling?: SchedulerStats;
  last_inference_ms_ago: number;
}

const fileKey = (files: readonly VersionFile[]): string => files.map((f) => `${f.version}:${f.mtimeMs}:${f.size}`).join('|');

export class ModelRegistry {
  private readonly records = new Map<string, ModelRecord>();
  private readonly clock: () => number;
  private closed = false;
  private keepAliveTimer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: RegistryOptions) {
    this.clock = opts.clock ?? (() => Date.now());
  }

  private emit(e: ServeEvent): void {
    this.opts.onEvent?.(e);
  }

  private setStatus(rec: ModelRecord, version: number, st: VersionStatus): void {
    rec.status.set(version, st);
    const e: ServeEvent = { type: 'model', model: rec.source.name, version: String(version), state: st.state, at: this.clock() };
    if (st.reason) e.reason = st.reason;
    this.emit(e);
  }

  /** Adds a model the server knows about (not loaded yet). */
  add(source: ModelSource): void {
    checkModelName(source.name);
    if (this.records.has(source.name))
      throw new ModelUnavailableError(`two models are named '${source.name}'`, 'rename one (config `models.<name>`) or serve one of them');
    this.records.set(source.name, { source, served: [], status: new Map(), unloadedByUser: false, idleUnloaded: false });
  }

  names(): string[] {
    return [...this.records.keys()].sort();
  }

  private record(name: string): ModelRecord {
    checkModelName(name);
    const rec = this.records.get(name);
    if (!rec) throw new ModelNotFoundError(`unknown model '${name}'`, `served models: ${this.names().join(', ') || 'none'}`);
    return rec;
  }

  private async files(rec: ModelRecord): Promise<VersionFile[]> {
    const s = rec.source;
    if (s.kind === 'file') {
      const f = await statModelFile(s.path as string);
      return f ? [f] : [];
    }
    const scanned = await scanRepository(this.opts.repository as string);
    return scanned.find((m) => m.name === s.name)?.versions ?? [];
  }

  /** Repository models found on disk become known (settings: the override for the name, else defaults). */
  async scan(): Promise<{ added: string[]; removed: string[] }> {
    const added: string[] = [];
    const removed: string[] = [];
    if (!this.opts.repository) return { added, removed };
    const scanned = await scanRepository(this.opts.repository);
    for (const m of scanned) {
      if (this.records.has(m.name) || this.opts.ignore?.(m.name)) continue;
      this.add({ name: m.name, kind: 'repository', settings: this.opts.overrides?.get(m.name) ?? this.opts.defaults });
      added.push(m.name);
    }
    for (const [name, rec] of this.records) {
      if (rec.source.kind === 'repository' && !scanned.some((m) => m.name === name)) removed.push(name);
    }
    return { added, removed };
  }

  /**
   * Loads (or reloads) `name`: the policy's versions from disk. Concurrent calls share one load.
   * Resolves when done; a version that failed is in the index with its reason (throws only when the
   * model ends up with nothing serving).
   */
  load(name: string, opts: { byUser?: boolean } = {}): Promise<void> {
    const rec = this.record(name);
    if (opts.byUser) rec.unloadedByUser = false;
    rec.idleUnloaded = false;
    rec.loading ??= this.sync(rec).finally(() => {
      rec.loading = undefined;
    });
    return rec.loading;
  }

  private async sync(rec: ModelRecord): Promise<void> {
    if (this.closed) throw new RequestCancelledError('the server is shutting down', 503);
    const files = await this.files(rec);
    rec.lastSeen = rec.stableSeen = fileKey(files);
    const wanted = applyPolicy(files, rec.source.settings.policy);
    if (!wanted.length) {
      const v = rec.served.map((s) => s.version);
      const reason = rec.source.kind === 'file' ? `model file ${rec.source.path} not found` : `no version directory with model.onnx under ${rec.source.name}/`;
      await this.retire(rec, rec.served, reason);
      if (!v.length) this.setStatus(rec, 0, { state: 'UNAVAILABLE', reason });
      throw new ModelUnavailableError(`model '${rec.source.name}': ${reason}`);
    }
    rec.status.delete(0);
    const next: LoadedVersion[] = [];
    const stale: LoadedVersion[] = [];
    const failures: string[] = [];
    for (const f of wanted) {
      const current = rec.served.find((s) => s.version === f.version);
      if (current && current.file.mtimeMs === f.mtimeMs && current.file.size === f.size) {
        next.push(current);
        continue;
      }
      if (!current) this.setStatus(rec, f.version, { state: 'LOADING' });
      try {
        const loaded = await this.loadVersion(rec, f);
        next.push(loaded);
        if (current) stale.push(current);
        this.setStatus(rec, f.version, { state: 'READY' });
      } catch (err) {
        const reason = `load failed: ${errorMessage(err)}`;
        failures.push(`version ${f.version}: ${errorMessage(err)}`);
        if (current) {
          next.push(current); // a failed reload leaves the old version serving
          this.setStatus(rec, f.version, { state: 'READY', reason: `${reason} (the previous file keeps serving)` });
        } else {
          this.setStatus(rec, f.version, { state: 'UNAVAILABLE', reason });
        }
      }
    }
    // A new version that failed leaves the version it would have replaced serving (latest-N keeps N up).
    const failedNew = wanted.filter((f) => !next.some((n) => n.version === f.version)).length;
    next.push(...rec.served.filter((s) => !next.includes(s) && !stale.includes(s)).slice(0, failedNew));
    const unwanted = rec.served.filter((s) => !next.includes(s) && !stale.includes(s));
    next.sort((a, b) => b.version - a.version);
    rec.served = next; // the atomic switch: new requests resolve against `next` from here on
    await this.retire(rec, stale, undefined, true);
    await this.retire(rec, unwanted, 'not in the version policy any more');
    if (!next.length) throw new ModelUnavailableError(`model '${rec.source.name}' could not be loaded: ${failures.join('; ')}`);
  }

  private async loadVersion(rec: ModelRecord, f: VersionFile): Promise<LoadedVersion> {
    const s = rec.source.settings;
    const gen = ++generation;
    const instances = new Map<string, ModelExecutor>();
    const placement: Placement[] = [];
    const where = new Map<string, { device: string; backend: string; executor: ModelExecutor }>();
    let meta: { inputs: TensorSpec[]; outputs: TensorSpec[] } | undefined;
    try {
      const devices = Object.keys(s.instances);
      const accelerators = devices.filter((d) => !isCpu(d)).length;
      for (const [device, count] of Object.entries(s.instances)) {
        const { executor, placement: p } = await this.opts.executorFor(device);
        // Beside a GPU the CPU instance leaves cores to the server, the GPU lane's host thread and the load.
        const threads = s.threads ?? (isCpu(p.device) ? cpuThreadsBeside(this.opts.cores ?? availableParallelism(), accelerators) : undefined);
        const perSize = sessionPerBatchSize(s.batching, p.backend);
        for (let i = 0; i < count; i++) {
          const id = `${rec.source.name}@${f.version}#${gen}/${device}/${i}`;
          const loaded = await executor.load(id, f.path, { ...(threads ? { threads } : {}), ...(perSize ? { sessionPerBatchSize: perSize } : {}) });
          instances.set(id, executor);
          where.set(id, { device, backend: p.backend, executor });
          meta ??= { inputs: loaded.inputs, outputs: loaded.outputs };
          if (s.warmup) await executor.run(id, warmupFeeds(loaded.inputs));
          if (i === 0) {
            const pl: Placement = {
              ...p,
              runtimeVersion: loaded.runtimeVersion,
              ...(threads ? { threads } : {}),
              ...(perSize ? { sessionPerBatchSize: perSize } : {}),
              ...(s.placementReason ? { reason: s.placementReason } : {}),
            };
            if (loaded.fallback !== undefined) pl.fallback = loaded.fallback;
            placement.push(pl);
          }
        }
      }
    } catch (err) {
      await Promise.all([...instances].map(([id, ex]) => ex.unload(id).catch(() => undefined)));
      throw err;
    }
    // Instances on several devices (lanes): a router sends each request where it finishes soonest.
    let router: Router | undefined;
    if (Object.keys(s.instances).length > 1) {
      const infos = await Promise.all(
        [...where].map(async ([id, w]) => {
          const seed = await this.opts.seedCostMs?.(f.path, w.device, w.backend).catch(() => undefined);
          return { id, device: w.device, backend: w.backend, ...(seed !== undefined && seed > 0 ? { seedCostMs: seed } : {}) };
        }),
      );
      router = new Router(infos, s.latencyTargetMs !== undefined ? { latencyTargetMs: s.latencyTargetMs } : {});
    }
    const policy = schedulerPolicyOf(s);
    const queue = new AdmissionQueue({ instances: [...instances.keys()], maxQueue: s.maxQueue, scheduler: policy, ...(router ? { router } : {}) });
    const inputs = meta?.inputs ?? [];
    const outputs = meta?.outputs ?? [];
    const v = new LoadedVersion(rec.source.name, f.version, f, inputs, outputs, instances, queue, placement, this.clock());
    if (router) {
      v.router = router;
      const r = router;
      // A lane that crashes takes its instances out of the routing; its restart brings them back.
      for (const ex of new Set([...where.values()].map((w) => w.executor))) {
        if (!reportsHealth(ex)) continue;
        const ids = [...where].filter(([, w]) => w.executor === ex).map(([id]) => id);
        v.disposers.push(
          ex.onHealth((e) => {
            for (const id of ids) {
              if (e.up) {
                r.markUp(id);
                queue.instanceUp(id);
              } else {
                r.markDown(id, e.reason ?? 'its lane is down');
                queue.instanceDown(id);
              }
            }
          }),
        );
      }
    }
    if (s.batching && batchable(inputs, outputs)) {
      const b = s.batching;
      // Batches go through the admission queue like single requests: one batch per free instance, at the
      // priority of the most urgent request in it.
      v.batcher = new DynamicBatcher(
        (feeds, admission) => v.runOnInstance(feeds, admission ?? {}).then((r) => ({ outputs: r.value, computeMs: r.computeMs })),
        {
          scheduler: policy,
          maxBatchSize: b.maxBatchSize,
          ...(b.preferredBatchSizes ? { preferredBatchSizes: b.preferredBatchSizes } : {}),
          maxQueueDelayMs: b.maxQueueDelayMs,
          // Over several devices, two batches per instance: one running and one ready behind it. With one per
          // instance, a batch on the slow device took the fast one's second slot, so the fast one waited for
          // each next batch to be formed and sent (tiny-convnet on the CPU lane: 3× fewer batches a second).
          concurrency: router ? 2 * instances.size : instances.size,
          maxQueue: s.maxQueue,
          pad: true,
          // ... but a batch is formed only when it would start soon where the router sends it (queue.ts).
          ...(router ? { canDispatch: (items: number, held: () => HeldWork) => queue.wouldStartSoon(items, held) } : {}),
          ...(b.latencyTarget ? { adaptive: { targetMs: b.latencyTarget.ms, quantile: b.latencyTarget.quantile } } : {}),
        },
      );
      // Warm-up before READY: every size the batcher forms, twice on each instance. The first run pays the
      // backend's one-off cost of a new shape (cuDNN's algorithm search, arena growth); the second's time
      // seeds the cost table, so adaptive mode starts from real costs and no request pays a search.
      // `warmup: false` skips it (a faster load; the batcher then learns from the second run of each size).
      if (s.warmup) {
        try {
          const { byInstance, ...stats } = await warmBatchSizes(instances, inputs, v.batcher.candidateSizes());
          v.warmup = stats;
          // Each instance's own cost per batch size: the router's plan needs them (a GPU's and a CPU's differ 20×).
          for (const [id, costs] of Object.entries(byInstance)) router?.seedCosts(id, costs);
        } catch (err) {
          await Promise.all([...instances].map(([id, ex]) => ex.unload(id).catch(() => undefined)));
          for (const d of v.disposers.splice(0)) d();
          throw err;
        }
        v.batcher.seedCosts(v.warmup.costs, { warm: true });
      }
    }

    this.emit({ type: 'placement', model: rec.source.name, version: String(f.version), placement, at: this.clock() });
    return v;
  }

  /** Unloads `versions` once the requests holding them have finished. */
  private async retire(rec: ModelRecord, versions: readonly LoadedVersion[], reason?: string, replaced = false): Promise<void> {
    await Promise.all(
      versions.map(async (v) => {
        if (!replaced) this.setStatus(rec, v.version, { state: 'UNLOADING' });
        await v.drained();
        await v.queue.idle();
        for (const d of v.disposers.splice(0)) d();
        await Promise.all([...v.instances].map(([id, ex]) => ex.unload(id).catch(() => undefined)));
        if (!replaced) this.setStatus(rec, v.version, reason ? { state: 'UNAVAILABLE', reason } : { state: 'UNAVAILABLE' });
      }),
    );
  }

  /** Unloads every version of `name`; polling leaves it unloaded until it is loaded through the API. */
  async unload(name: string, reason = 'unloaded', opts: { byUser?: boolean; idle?: boolean } = {}): Promise<void> {
    const rec = this.record(name);
    if (rec.loading) await rec.loading.catch(() => undefined);
    if (opts.byUser) rec.unloadedByUser = true;
    if (opts.idle) rec.idleUnloaded = true;
    const old = rec.served;
    rec.served = [];
    await this.retire(rec, old, reason);
  }

  /**
   * The version requests for `name` go to (the highest served, or `version`), held until the caller
   * releases it. A model unloaded by keep_alive is loaded again first; one still loading answers 503.
   */
  async acquire(name: string, version?: string): Promise<{ version: LoadedVersion; release: () => void }> {
    const rec = this.record(name);
    if (!rec.served.length && rec.idleUnloaded && !this.closed) await this.load(name);
    let v: LoadedVersion | undefined;
    if (version !== undefined) {
      if (!/^[1-9][0-9]{0,15}$/.test(version))
        throw new ModelNotFoundError(`model '${name}' has no version '${version.slice(0, 20)}'`, 'versions are positive integers');
      v = rec.served.find((s) => String(s.version) === version);
      if (!v) {
        const st = rec.status.get(Number(version));
        if (!st)
          throw new ModelNotFoundError(
            `model '${name}' has no version ${version}`,
            `served versions: ${rec.served.map((s) => s.version).join(', ') || 'none'}`,
          );
        throw new ModelUnavailableError(
          `model '${name}' version ${version} is ${st.state}${st.reason ? `: ${st.reason}` : ''}`,
          undefined,
          st.state === 'LOADING' ? 1 : undefined,
        );
      }
    } else {
      v = rec.served[0];
      if (!v) {
        const loading = [...rec.status.values()].some((s) => s.state === 'LOADING');
        const reason = [...rec.status.values()].map((s) => s.reason).find(Boolean);
        throw new ModelUnavailableError(
          `model '${name}' is ${loading ? 'loading' : 'not loaded'}${reason && !loading ? ` (${reason})` : ''}`,
          loading ? 'retry shortly' : `load it: POST /v2/repository/models/${name}/load`,
          loading ? 1 : undefined,
        );
      }
    }
    return { version: v, release: v.hold() };
  }

  /** READY versions of `name` (metadata and health). */
  served(name: string): readonly LoadedVersion[] {
    return this.record(name).served;
  }

  isReady(name: string, version?: string): boolean {
    const rec = this.records.get(name);
    if (!rec) return false;
    return version === undefined ? rec.served.length > 0 : rec.served.some((s) => String(s.version) === version);
  }

  /** Every known model and version with its state (Triton's repository index). */
  index(opts: { ready?: boolean } = {}): IndexEntry[] {
    const out: IndexEntry[] = [];
    for (const name of this.names()) {
      const rec = this.records.get(name) as ModelRecord;
      const versions = [...rec.status].sort((a, b) => b[0] - a[0]);
      if (!versions.length) out.push({ name, state: 'UNAVAILABLE', reason: rec.unloadedByUser ? 'unloaded' : 'not loaded' });
      for (const [v, st] of versions) {
        const e: IndexEntry = v > 0 ? { name, version: String(v), state: st.state } : { name, state: st.state };
        if (st.reason) e.reason = st.reason;
        out.push(e);
      }
    }
    return opts.ready ? out.filter((e) => e.state === 'READY') : out;
  }

  stats(name?: string): ModelStats[] {
    const now = performance.now();
    const out: ModelStats[] = [];
    for (const n of name ? [this.record(name).source.name] : this.names()) {
      for (const v of (this.records.get(n) as ModelRecord).served) {
        out.push({
          name: n,
          version: String(v.version),
          instances: v.instances.size,
          inference_stats: { ...v.queue.stats },
          ...(v.batcher ? { batching: v.batcher.stats() } : {}),
          ...(v.warmup ? { warmup: v.warmup } : {}),
          ...(v.queue.policy.levels > 1 ? { scheduling: v.batcher ? v.batcher.schedulerStats() : v.queue.schedulerStats() } : {}),
          last_inference_ms_ago: Math.round(now - v.queue.lastActive),
        });
      }
    }
    return out;
  }

  settings(name: string): ModelSettings {
    return this.record(name).source.settings;
  }

  /**
   * One polling round: new repository models are added and loaded, removed ones unloaded, and models
   * whose files changed (the same change seen by two consecutive rounds) reloaded. Errors stay in the index.
   */
  async poll(): Promise<void> {
    if (this.closed) return;
    const { added, removed } = await this.scan().catch(() => ({ added: [] as string[], removed: [] as string[] }));
    await Promise.all(added.map((n) => this.load(n).catch(() => undefined)));
    for (const n of removed) {
      const rec = this.records.get(n);
      if (!rec) continue;
      await this.unload(n, 'removed from the repository').catch(() => undefined);
      this.records.delete(n);
    }
    for (const rec of this.records.values()) {
      if (added.includes(rec.source.name) || rec.unloadedByUser || rec.idleUnloaded || rec.loading) continue;
      const key = fileKey(await this.files(rec).catch(() => []));
      if (key === rec.stableSeen) continue;
      if (key !== rec.lastSeen) {
        rec.lastSeen = key; // seen once: wait for the next round to agree (the file may still be written)
        continue;
      }
      await this.load(rec.source.name).catch(() => undefined);
    }
  }

  /** Unloads models idle longer than their keep_alive; called on a timer by start(). */
  async expireIdle(now = performance.now()): Promise<string[]> {
    const expired: string[] = [];
    for (const rec of this.records.values()) {
      const ka = rec.source.settings.keepAliveMs;
      if (!ka || !rec.served.length || rec.loading) continue;
      if (rec.served.every((v) => !v.held && !v.queue.busy && now - v.queue.lastActive >= ka)) {
        expired.push(rec.source.name);
        await this.unload(rec.source.name, `idle for ${Math.round(ka / 1000)} s (keep_alive); the next request loads it again`, { idle: true });
      }
    }
    return expired;
  }

  /** Starts the keep_alive timer (the server calls this; tests may call expireIdle directly). */
  startTimers(): void {
    const kas = [...this.records.values()].map((r) => r.source.settings.keepAliveMs).filter((k) => k > 0);
    if (!kas.length || this.keepAliveTimer) return;
    this.keepAliveTimer = setInterval(() => void this.expireIdle().catch(() => undefined), Math.max(50, Math.min(1000, Math.min(...kas) / 4)));
    this.keepAliveTimer.unref?.();
  }

  /** Fails every queued request with `err` (shutdown past the drain timeout); running ones finish. */
  failQueued(err: Error): void {
    for (const rec of this.records.values()) for (const v of rec.served) v.queue.close(err);
  }

  /** Waits until no request is queued or running anywhere. */
  async idle(): Promise<void> {
    await Promise.all([...this.records.values()].flatMap((r) => r.served.map((v) => v.queue.idle())));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    await Promise.all([...this.records.values()].map((r) => r.loading?.catch(() => undefined)));
    for (const rec of this.records.values()) {
      const old = rec.served;
      rec.served = [];
      for (const v of old) {
        v.queue.close(new RequestCancelledError('the server is shutting down', 503));
        for (const d of v.disposers.splice(0)) d();
      }
      await Promise.all(old.flatMap((v) => [...v.instances].map(([id, ex]) => ex.unload(id).catch(() => undefined))));
    }
  }
}
