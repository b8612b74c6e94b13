/**
 * Models served through their task pipeline (OpenAI routes): each is opened lazily, once, inside its
 * device's lane (job kind 'pipeline'), and reopened after a lane restart. Requests go through a bounded
 * queue per model (past max_queue waiting: 503 + Retry-After): one image/embedding/speech request at a
 * time, and up to max_sequences generations at once, interleaved by the lane's generation scheduler.
 */
import { BadRequestError, ModelNotFoundError, UnsupportedError } from '../core/serve/errors.js';
import { AdmissionQueue } from '../core/serve/queue.js';
import type { DeviceExecutor } from '../core/serve/registry.js';
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
}

interface Entry {
  model: PipelineModel;
  queue: AdmissionQueue;
  /** Generations: max_sequences slots, so that many run interleaved in the lane. */
  generations: AdmissionQueue;
  opened?: { generation: number | undefined; task: TaskName; lane: LaneExecutor } | undefined;
  /** Where the lane runs (the executor's placement), once opened. */
  backend?: string | undefined;
  opening?: Promise<{ task: TaskName; lane: LaneExecutor }> | undefined;
  created: number;
}

export interface GenerateRequest {
  input: string | ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  chatTemplate?: boolean;
}

export class PipelineService {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly executorFor: (device: string) => Promise<DeviceExecutor>) {}

  add(m: PipelineModel): void {
    const slots = Array.from({ length: Math.max(1, m.maxSequences ?? DEFAULT_MAX_SEQUENCES) }, (_, i) => String(i));
    this.entries.set(m.name, { model: m, queue: new AdmissionQueue({ instances: ['0'], maxQueue: m.maxQueue }), generations: new AdmissionQueue({ instances: slots, maxQueue: m.maxQueue }), created: Math.floor(Date.now() / 1000) });
  }

  list(): { name: string; created: number; device: string; task?: TaskName }[] {
    return [...this.entries.values()].map((e) => ({ name: e.model.name, created: e.created, device: e.model.device, ...(e.opened ? { task: e.opened.task } : e.model.plan.task ? { task: e.model.plan.task } : {}) }));
  }

  /** The device and backend a model's pipeline runs on (the backend is known once it was opened). */
  where(name: string): { device: string; backend?: string } | undefined {
    const e = this.entries.get(name);
    return e ? { device: e.model.device, ...(e.backend ? { backend: e.backend } : {}) } : undefined;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new ModelNotFoundError(`unknown model '${name}'`, `models: ${[...this.entries.keys()].join(', ') || 'none'}`);
    return e;
  }

  /** The pipeline open in the model's lane (opened now, or again after a lane restart). */
  private async ensure(e: Entry): Promise<{ task: TaskName; lane: LaneExecutor }> {
    if (e.opened && e.opened.lane.generation === e.opened.generation) return e.opened;
    e.opening ??= (async () => {
      const { executor, placement } = await this.executorFor(e.model.device);
      e.backend = placement.backend;
      const lane = executor as Partial<LaneExecutor>;
      if (typeof lane.job !== 'function') throw new UnsupportedError('task pipelines run in worker lanes; this server runs sessions in-process');
      const l = executor as LaneExecutor;
      const job: PipelineJob = { op: 'open', key: e.model.name, plan: e.model.plan, target: l.target, ...(e.model.threads ? { threads: e.model.threads } : {}), ...(e.model.maxSequences ? { maxSequences: e.model.maxSequences } : {}) };
      const r = await l.job<{ task: TaskName }>('pipeline', job);
      e.opened = { generation: l.generation, task: r.task, lane: l };
      return e.opened;
    })().finally(() => {
      e.opening = undefined;
    });
    return e.opening;
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
    const { task, lane } = await this.ensure(e);
    if (task !== 'text-generation') throw new BadRequestError(`model '${name}' is a ${task} model, not a text-generation model`);
    const job: PipelineJob = { op: 'generate', key: name, ...req };
    const r = await e.generations.run(async () => {
      const t0 = performance.now();
      const value = await lane.job<GenerationOutput & { queueMs?: number }>('pipeline', job, (ev) => {
        const { delta, tokens } = ev as { delta: string; tokens?: number };
        onToken(delta, tokens ?? 0);
      }, signal);
      return { value, computeMs: performance.now() - t0 };
    }, { signal });
    return { ...r.value, queueMs: r.queueMs + (r.value.queueMs ?? 0) };
  }

  /** An image task (classification top-k, detection boxes, CLIP zero-shot) on the bytes of one image. */
  async runTask(name: string, image: Uint8Array, options: { topK?: number; confidence?: number; iou?: number; candidates?: string[]; hypothesis?: string }, signal?: AbortSignal, onTiming?: (t: { queueMs: number; computeMs: number; device: string }) => void): Promise<unknown> {
    const e = this.entry(name);
    const { lane } = await this.ensure(e);
    const job: PipelineJob = { op: 'task', key: name, image, ...options };
    // computeMs: the lane job (decode, pre-processing, session run, post-processing), for metrics and traces
    const r = await e.queue.run(async () => {
      const t0 = performance.now();
      const value = await lane.job<unknown>('pipeline', job, undefined, signal);
      return { value, computeMs: performance.now() - t0 };
    }, { signal });
    onTiming?.({ queueMs: r.queueMs, computeMs: r.computeMs, device: e.model.device });
    return r.value;
  }

  async embed(name: string, texts: string[], signal?: AbortSignal): Promise<EmbeddingOutput[]> {
    const e = this.entry(name);
    const { task, lane } = await this.ensure(e);
    if (task !== 'sentence-embeddings') throw new BadRequestError(`model '${name}' is a ${task} model, not a sentence-embeddings model`);
    const job: PipelineJob = { op: 'embed', key: name, texts };
    const r = await e.queue.run(async () => ({ value: await lane.job<EmbeddingOutput[]>('pipeline', job, undefined, signal), computeMs: 0 }), { signal });
    return r.value;
  }

  /** Speech recognition on the bytes of one WAV file. */
  async transcribe(name: string, audio: Uint8Array, options: { language?: string; translate?: boolean; maxTokens?: number }, signal?: AbortSignal): Promise<TranscriptOutput> {
    const e = this.entry(name);
    const { task, lane } = await this.ensure(e);
    if (task !== 'automatic-speech-recognition') throw new BadRequestError(`model '${name}' is a ${task} model, not a speech recognition model`, 'POST /v1/audio/transcriptions takes Whisper-style models');
    const job: PipelineJob = { op: 'transcribe', key: name, audio, ...options };
    const r = await e.queue.run(async () => ({ value: await lane.job<TranscriptOutput>('pipeline', job, undefined, signal), computeMs: 0 }), { signal });
    return r.value;
  }
}
