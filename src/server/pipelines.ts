/**
 * Models served through their task pipeline (OpenAI routes): each is opened inside its device's lane
 * (job kind 'pipeline'; lazily on first use, or by load()), and reopened after a lane restart. Requests go
 * through a bounded queue per model (past max_queue waiting: 503 + Retry-After): one image/embedding/speech
 * request at a time, and up to max_sequences generations at once, interleaved by the lane's generation scheduler.
 *
 * Hot reload (repository models, as the v2 registry does for plain models): a changed or new version is
 * opened in the lane beside the one serving, under its own key; once open, requests switch to it in one
 * assignment, and the old one is closed when the requests holding it have finished. A version that fails
 * to open leaves the old one serving, with the reason in the index.
 */
import { BadRequestError, ModelNotFoundError, ModelUnavailableError, UnsupportedError } from '../core/serve/errors.js';
import { AdmissionQueue } from '../core/serve/queue.js';
import type { DeviceExecutor, IndexEntry } from '../core/serve/registry.js';
import { scanPipelineRepository, type PipelineVersion } from '../core/serve/pipeline-dir.js';
import { errorMessage } from '../core/errors.js';
import type { TaskPlan } from '../core/tasks/plan.js';
import type { EmbeddingOutput, GenerationOutput, TranscriptOutput } from '../core/tasks/pipeline.js';
import type { ChatMessage, TaskName } from '../core/tasks/types.js';
import type { LaneExecutor } from './lane-executor.js';
import { DEFAULT_MAX_SEQUENCES, type PipelineJob } from './pipeline-job.js';

export interface PipelineModel {
  name: string;
  plan: TaskPlan;
  device: string;
  maxQueue: number;
  threads?: number;
  /** Generations interleaved at once (text-generation models; default DEFAULT_MAX_SEQUENCES). */
  maxSequences?: number;
  /** The repository version this plan is (0, not shown as a version: a model given on the command line). */
  version?: number;
  /** What identifies the version's files (sizes and mtimes): a change makes poll() reopen it. */
  fileKey?: string;
}

type State = IndexEntry['state'];

/** One open of a model in a lane, under its own key (two versions can be open side by side). */
interface Opened {
  key: string;
  version: number;
  model: PipelineModel;
  generation: number | undefined;
  task: TaskName;
  lane: LaneExecutor;
  /** Requests holding it (acquired, not released): a retired open is closed when this reaches 0. */
  holds: number;
  retired: boolean;
  /** Where the lane runs (the executor's placement). */
  backend?: string | undefined;
}

interface Entry {
  model: PipelineModel;
  queue: AdmissionQueue;
  /** Generations: max_sequences slots, so that many run interleaved in the lane. */
  generations: AdmissionQueue;
  /** Where the lane runs (the executor's placement), once opened. */
  backend?: string | undefined;
  current?: Opened | undefined;
  opening?: Promise<Opened> | undefined;
  /** A reload in progress (poll() and load() share it). */
  reloading?: Promise<void> | undefined;
  status: Map<number, { state: State; reason?: string }>;
  created: number;
  fromRepository: boolean;
  /** The last key poll() saw, and the one acted on (a change counts when two polls agree: no half-written files). */
  lastSeen?: string | undefined;
  stableSeen?: string | undefined;
}

export interface GenerateRequest {
  input: string | ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  chatTemplate?: boolean;
}

export interface PipelineEvent {
  type: 'model';
  model: string;
  version: string;
  state: State;
  reason?: string;
  at: number;
}

export interface PipelineServiceOptions {
  /** A repository whose pipeline models (tokenizer beside, or Whisper/CLIP pairs) this service serves. */
  repository?: string | undefined;
  /** How repository versions become plans (the CLI's planTask with the version's files). */
  planVersion?: (name: string, v: PipelineVersion) => Promise<Omit<PipelineModel, 'name' | 'version' | 'fileKey'>>;
  onEvent?: (e: PipelineEvent) => void;
}

let seq = 0;

export class PipelineService {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(
    private readonly executorFor: (device: string) => Promise<DeviceExecutor>,
    private readonly opts: PipelineServiceOptions = {},
  ) {}

  add(m: PipelineModel, fromRepository = false): void {
    const slots = Array.from({ length: Math.max(1, m.maxSequences ?? DEFAULT_MAX_SEQUENCES) }, (_, i) => String(i));
    this.entries.set(m.name, { model: m, queue: new AdmissionQueue({ instances: ['0'], maxQueue: m.maxQueue }), generations: new AdmissionQueue({ instances: slots, maxQueue: m.maxQueue }), status: new Map(), created: Math.floor(Date.now() / 1000), fromRepository, ...(m.fileKey ? { lastSeen: m.fileKey, stableSeen: m.fileKey } : {}) });
  }

  list(): { name: string; created: number; device: string; task?: TaskName; version?: string }[] {
    return [...this.entries.values()].map((e) => ({
      name: e.model.name,
      created: e.created,
      device: e.model.device,
      ...(e.current ? { task: e.current.task } : e.model.plan.task ? { task: e.model.plan.task } : {}),
      ...(e.current?.version ? { version: String(e.current.version) } : {}),
    }));
  }

  /** The device and backend a model's pipeline runs on (the backend is known once it was opened). */
  where(name: string): { device: string; backend?: string } | undefined {
    const e = this.entries.get(name);
    return e ? { device: e.model.device, ...(e.backend ? { backend: e.backend } : {}) } : undefined;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** Triton's repository index entries for the pipeline models: open → READY; not opened yet → UNAVAILABLE "opened on first use". */
  index(opts: { ready?: boolean } = {}): IndexEntry[] {
    const out: IndexEntry[] = [];
    for (const name of this.names()) {
      const e = this.entries.get(name) as Entry;
      const versions = [...e.status].sort((a, b) => b[0] - a[0]);
      if (!versions.length) out.push({ name, state: 'UNAVAILABLE', reason: 'a task pipeline, opened on first use' });
      for (const [v, st] of versions) out.push({ name, ...(v > 0 ? { version: String(v) } : {}), state: st.state, ...(st.reason ? { reason: st.reason } : {}) });
    }
    return opts.ready ? out.filter((x) => x.state === 'READY') : out;
  }

  private setStatus(e: Entry, version: number, state: State, reason?: string): void {
    e.status.set(version, { state, ...(reason ? { reason } : {}) });
    this.opts.onEvent?.({ type: 'model', model: e.model.name, version: String(version), state, ...(reason ? { reason } : {}), at: Date.now() });
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new ModelNotFoundError(`unknown model '${name}'`, `models: ${[...this.entries.keys()].join(', ') || 'none'}`);
    return e;
  }

  /** Opens `m` in its device's lane under a fresh key. */
  private async open(m: PipelineModel): Promise<Opened> {
    const { executor, placement } = await this.executorFor(m.device);
    const lane = executor as Partial<LaneExecutor>;
    if (typeof lane.job !== 'function') throw new UnsupportedError('task pipelines run in worker lanes; this server runs sessions in-process');
    const l = executor as LaneExecutor;
    const key = `${m.name}@${m.version ?? 0}#${++seq}`;
    const job: PipelineJob = { op: 'open', key, plan: m.plan, target: l.target, ...(m.threads ? { threads: m.threads } : {}), ...(m.maxSequences ? { maxSequences: m.maxSequences } : {}) };
    const r = await l.job<{ task: TaskName }>('pipeline', job);
    return { key, version: m.version ?? 0, model: m, generation: l.generation, task: r.task, lane: l, backend: placement.backend, holds: 0, retired: false };
  }

  /** The pipeline open in the model's lane (opened now, or again after a lane restart). */
  private async ensure(e: Entry): Promise<Opened> {
    const c = e.current;
    if (c && c.lane.generation === c.generation) return c;
    e.opening ??= (async () => {
      const model = c?.model ?? e.model;
      if (!c) this.setStatus(e, model.version ?? 0, 'LOADING');
      try {
        const o = await this.open(model);
        // A restarted lane lost the old open with its process: nothing to close, requests switch now.
        if (c) c.retired = true;
        e.current = o;
        e.backend = o.backend;
        this.setStatus(e, o.version, 'READY');
        return o;
      } catch (err) {
        if (!c) this.setStatus(e, model.version ?? 0, 'UNAVAILABLE', `load failed: ${errorMessage(err)}`);
        throw err;
      }
    })().finally(() => {
      e.opening = undefined;
    });
    return e.opening;
  }

  /** The open requests go to, held until release() (a reload closes it only after). */
  private async acquire(e: Entry): Promise<{ o: Opened; release: () => void }> {
    if (this.closed) throw new ModelUnavailableError('the server is shutting down');
    let o = await this.ensure(e);
    // Retired while this call waited for it (a reload switched meanwhile, and may have closed it): the current one.
    while (o.retired) {
      if (this.entries.get(e.model.name) !== e || o === e.current) throw new ModelNotFoundError(`model '${e.model.name}' was removed from the repository`);
      o = await this.ensure(e);
    }
    o.holds++;
    let released = false;
    return {
      o,
      release: () => {
        if (released) return;
        released = true;
        o.holds--;
        if (o.retired && o.holds === 0) void this.closeOpen(o);
      },
    };
  }

  private async closeOpen(o: Opened): Promise<void> {
    if (o.lane.generation !== o.generation) return; // that lane process is gone, and the open with it
    await o.lane.job('pipeline', { op: 'close', key: o.key } satisfies PipelineJob).catch(() => undefined);
  }

  private async hold<T>(name: string, fn: (o: Opened) => Promise<T>): Promise<T> {
    const { o, release } = await this.acquire(this.entry(name));
    try {
      return await fn(o);
    } finally {
      release();
    }
  }

  /**
   * Opens `next` (a new or changed version of `name`) beside the one serving; when it is open, requests
   * switch to it and the old one closes after its requests. A failure leaves the old one serving and throws.
   */
  async reload(name: string, next: PipelineModel): Promise<void> {
    const e = this.entry(name);
    while (e.reloading) await e.reloading.catch(() => undefined);
    e.reloading = (async () => {
      const old = e.current ?? (e.opening ? await e.opening.catch(() => undefined) : undefined);
      const version = next.version ?? 0;
      const sameVersion = old !== undefined && old.version === version;
      if (!sameVersion) this.setStatus(e, version, 'LOADING');
      let o: Opened;
      try {
        o = await this.open(next);
      } catch (err) {
        const reason = `load failed: ${errorMessage(err)}`;
        if (old && sameVersion) this.setStatus(e, version, 'READY', `${reason} (the previous files keep serving)`);
        else this.setStatus(e, version, 'UNAVAILABLE', old ? `${reason} (version ${old.version} keeps serving)` : reason);
        throw err;
      }
      e.current = o; // the switch: requests acquired from here on run on the new open
      e.model = next;
      this.setStatus(e, version, 'READY');
      if (old) {
        old.retired = true;
        if (!sameVersion) this.setStatus(e, old.version, 'UNAVAILABLE', `replaced by version ${version}`);
        if (old.holds === 0) await this.closeOpen(old);
      }
    })().finally(() => {
      e.reloading = undefined;
    });
    return e.reloading;
  }

  /** Opens `name` now (a repository model at start, or on POST .../load); the index shows its state. */
  async load(name: string): Promise<void> {
    await this.ensure(this.entry(name));
  }

  /**
   * Repository models: new pipeline models are added and opened; a model whose highest version or files
   * changed (the same change seen by two consecutive polls) is reopened beside the old; removed ones close.
   */
  async poll(first = false): Promise<{ added: string[] }> {
    const added: string[] = [];
    if (!this.opts.repository || !this.opts.planVersion || this.closed) return { added };
    const scanned = await scanPipelineRepository(this.opts.repository).catch(() => undefined);
    if (!scanned) return { added };
    for (const m of scanned) {
      const v = m.versions[0] as PipelineVersion;
      const e = this.entries.get(m.name);
      if (!e) {
        const base = await this.opts.planVersion(m.name, v).catch(() => undefined);
        if (!base) continue;
        this.add({ ...base, name: m.name, version: v.version, fileKey: `${v.version}:${v.key}` }, true);
        added.push(m.name);
        continue;
      }
      if (!e.fromRepository || e.reloading) continue;
      const key = `${v.version}:${v.key}`;
      if (key === e.stableSeen) continue;
      if (key !== e.lastSeen && !first) {
        e.lastSeen = key; // seen once: wait for the next poll to agree (the file may still be written)
        continue;
      }
      e.lastSeen = e.stableSeen = key;
      const base = await this.opts.planVersion(m.name, v).catch((err: unknown) => {
        this.setStatus(e, v.version, 'UNAVAILABLE', `load failed: ${errorMessage(err)}`);
        return undefined;
      });
      if (base) await this.reload(m.name, { ...base, name: m.name, version: v.version, fileKey: key }).catch(() => undefined);
    }
    for (const [name, e] of this.entries) {
      if (!e.fromRepository || scanned.some((m) => m.name === name)) continue;
      this.entries.delete(name);
      const o = e.current;
      if (o) {
        o.retired = true;
        if (o.holds === 0) await this.closeOpen(o);
      }
    }
    await Promise.all(added.map((n) => this.load(n).catch(() => undefined)));
    return { added };
  }

  /** Stops polling work; opens close with their lanes. */
  close(): void {
    this.closed = true;
  }

  async task(name: string): Promise<TaskName> {
    return (await this.ensure(this.entry(name))).task;
  }

  /**
   * One generation; `onToken` sees every token as the lane emits it (`delta` is '' while a sub-word piece
   * does not yet extend the text). `queueMs` is the wait for a slot here and in the lane's scheduler.
   */
  async generate(name: string, req: GenerateRequest, onToken: (delta: string, tokens: number) => void, signal?: AbortSignal): Promise<GenerationOutput & { queueMs: number }> {
    const e = this.entry(name);
    return this.hold(name, async ({ key, task, lane }) => {
      if (task !== 'text-generation') throw new BadRequestError(`model '${name}' is a ${task} model, not a text-generation model`);
      const job: PipelineJob = { op: 'generate', key, ...req };
      const r = await e.generations.run(async () => {
        const t0 = performance.now();
        const value = await lane.job<GenerationOutput & { queueMs?: number }>('pipeline', job, (ev) => {
          const { delta, tokens } = ev as { delta: string; tokens?: number };
          onToken(delta, tokens ?? 0);
        }, signal);
        return { value, computeMs: performance.now() - t0 };
      }, { signal });
      return { ...r.value, queueMs: r.queueMs + (r.value.queueMs ?? 0) };
    });
  }

  /** An image task (classification top-k, detection boxes, CLIP zero-shot) on the bytes of one image. */
  async runTask(name: string, image: Uint8Array, options: { topK?: number; confidence?: number; iou?: number; candidates?: string[]; hypothesis?: string; annotate?: boolean }, signal?: AbortSignal, onTiming?: (t: { queueMs: number; computeMs: number; device: string }) => void): Promise<unknown> {
    const e = this.entry(name);
    return this.hold(name, async ({ key, lane }) => {
      const job: PipelineJob = { op: 'task', key, image, ...options };
      // computeMs: the lane job (decode, pre-processing, session run, post-processing), for metrics and traces
      const r = await e.queue.run(async () => {
        const t0 = performance.now();
        const value = await lane.job<unknown>('pipeline', job, undefined, signal);
        return { value, computeMs: performance.now() - t0 };
      }, { signal });
      onTiming?.({ queueMs: r.queueMs, computeMs: r.computeMs, device: e.model.device });
      return r.value;
    });
  }

  async embed(name: string, texts: string[], signal?: AbortSignal): Promise<EmbeddingOutput[]> {
    const e = this.entry(name);
    return this.hold(name, async ({ key, task, lane }) => {
      if (task !== 'sentence-embeddings') throw new BadRequestError(`model '${name}' is a ${task} model, not a sentence-embeddings model`);
      const job: PipelineJob = { op: 'embed', key, texts };
      const r = await e.queue.run(async () => ({ value: await lane.job<EmbeddingOutput[]>('pipeline', job, undefined, signal), computeMs: 0 }), { signal });
      return r.value;
    });
  }

  /** Speech recognition on the bytes of one WAV file. */
  async transcribe(name: string, audio: Uint8Array, options: { language?: string; translate?: boolean; maxTokens?: number }, signal?: AbortSignal): Promise<TranscriptOutput> {
    const e = this.entry(name);
    return this.hold(name, async ({ key, task, lane }) => {
      if (task !== 'automatic-speech-recognition') throw new BadRequestError(`model '${name}' is a ${task} model, not a speech recognition model`, 'POST /v1/audio/transcriptions takes Whisper-style models');
      const job: PipelineJob = { op: 'transcribe', key, audio, ...options };
      const r = await e.queue.run(async () => ({ value: await lane.job<TranscriptOutput>('pipeline', job, undefined, signal), computeMs: 0 }), { signal });
      return r.value;
    });
  }
}
