/**
 * Models served through their task pipeline (OpenAI routes): each is opened lazily, once, inside its
 * device's lane (job kind 'pipeline'), and reopened after a lane restart. Requests go through a bounded
 * queue per model (one generation at a time per model; past max_queue waiting: 503 + Retry-After).
 */
import { BadRequestError, ModelNotFoundError, UnsupportedError } from '../core/serve/errors.js';
import { AdmissionQueue } from '../core/serve/queue.js';
import type { DeviceExecutor } from '../core/serve/registry.js';
import type { TaskPlan } from '../core/tasks/plan.js';
import type { EmbeddingOutput, GenerationOutput, TranscriptOutput } from '../core/tasks/pipeline.js';
import type { ChatMessage, TaskName } from '../core/tasks/types.js';
import type { LaneExecutor } from './lane-executor.js';
import type { PipelineJob } from './pipeline-job.js';

export interface PipelineModel {
  name: string;
  plan: TaskPlan;
  device: string;
  maxQueue: number;
  threads?: number;
}

interface Entry {
  model: PipelineModel;
  queue: AdmissionQueue;
  opened?: { generation: number | undefined; task: TaskName; lane: LaneExecutor } | undefined;
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
    this.entries.set(m.name, { model: m, queue: new AdmissionQueue({ instances: ['0'], maxQueue: m.maxQueue }), created: Math.floor(Date.now() / 1000) });
  }

  list(): { name: string; created: number; device: string; task?: TaskName }[] {
    return [...this.entries.values()].map((e) => ({ name: e.model.name, created: e.created, device: e.model.device, ...(e.opened ? { task: e.opened.task } : e.model.plan.task ? { task: e.model.plan.task } : {}) }));
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
      const { executor } = await this.executorFor(e.model.device);
      const lane = executor as Partial<LaneExecutor>;
      if (typeof lane.job !== 'function') throw new UnsupportedError('task pipelines run in worker lanes; this server runs sessions in-process');
      const l = executor as LaneExecutor;
      const job: PipelineJob = { op: 'open', key: e.model.name, plan: e.model.plan, target: l.target, ...(e.model.threads ? { threads: e.model.threads } : {}) };
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

  async generate(name: string, req: GenerateRequest, onDelta: (d: string) => void, signal?: AbortSignal): Promise<GenerationOutput> {
    const e = this.entry(name);
    const { task, lane } = await this.ensure(e);
    if (task !== 'text-generation') throw new BadRequestError(`model '${name}' is a ${task} model, not a text-generation model`);
    const job: PipelineJob = { op: 'generate', key: name, ...req };
    const r = await e.queue.run(async () => ({ value: await lane.job<GenerationOutput>('pipeline', job, (ev) => onDelta((ev as { delta: string }).delta), signal), computeMs: 0 }), { signal });
    return r.value;
  }

  /** An image task (classification top-k, detection boxes, CLIP zero-shot) on the bytes of one image. */
  async runTask(name: string, image: Uint8Array, options: { topK?: number; confidence?: number; iou?: number; candidates?: string[]; hypothesis?: string; annotate?: boolean }, signal?: AbortSignal): Promise<unknown> {
    const e = this.entry(name);
    const { lane } = await this.ensure(e);
    const job: PipelineJob = { op: 'task', key: name, image, ...options };
    const r = await e.queue.run(async () => ({ value: await lane.job<unknown>('pipeline', job, undefined, signal), computeMs: 0 }), { signal });
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
