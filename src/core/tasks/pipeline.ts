/**
 * Tasks as pipelines (transformers.js `pipelines/` is the model): `openPipeline(plan, target)` opens the
 * sessions, tokenizer and labels once; `run(input)` then runs one input (bytes, a string or a tensor, not
 * a file path) as often as the caller likes; `dispose()` closes the sessions. One file per task.
 */
import type { RuntimeTarget } from '../backends/ep-map.js';
import type { Session, TensorSpec } from '../backends/types.js';
import { UsageError } from '../errors.js';
import type { TaskPlan } from './plan.js';
import { openModel, type PipelineTiming } from './shared.js';
import { TASKS, type TaskName } from './types.js';
import type { ClassificationPipeline } from './image-classification.js';
import type { DetectionPipeline } from './object-detection.js';
import type { ZeroShotPipeline } from './zero-shot.js';
import type { EmbeddingsPipeline } from './sentence-embeddings.js';
import type { GenerationPipeline } from './text-generation.js';
import type { SpeechPipeline } from './speech-recognition.js';

export type { ImageInput, DecodedImage, PipelineTiming } from './shared.js';
export type { ClassificationPipeline, ClassificationOptions, ClassificationOutput } from './image-classification.js';
export type { DetectionPipeline, DetectionOptions, DetectionOutput } from './object-detection.js';
export type { ZeroShotPipeline, ZeroShotOptions, ZeroShotOutput } from './zero-shot.js';
export type { EmbeddingsPipeline, EmbeddingsOptions, EmbeddingOutput } from './sentence-embeddings.js';
export type { GenerationPipeline, GenerationOptions, GenerationOutput, Sequence } from './text-generation.js';
export type { SpeechPipeline, SpeechOptions, SpeechInput, TranscriptOutput } from './speech-recognition.js';

export interface Pipeline<I, O, Opt> {
  readonly task: TaskName;
  /** Every session the pipeline holds (the main model first). */
  readonly sessions: readonly Session[];
  /** How long opening the main session took. */
  readonly sessionMs: number;
  /** Inference time over every run so far. */
  readonly timing: PipelineTiming;
  run(input: I, options?: Opt, signal?: AbortSignal): Promise<O>;
  dispose(): Promise<void>;
}

export type AnyPipeline = ClassificationPipeline | DetectionPipeline | ZeroShotPipeline | EmbeddingsPipeline | GenerationPipeline | SpeechPipeline;

/** Options per task, keyed by task (what `runTask` passes each run). */
export type TaskOptions =
  | ({ task: 'image-classification' } & import('./image-classification.js').ClassificationOptions)
  | ({ task: 'object-detection' } & import('./object-detection.js').DetectionOptions)
  | ({ task: 'zero-shot-image-classification' } & import('./zero-shot.js').ZeroShotOptions)
  | ({ task: 'sentence-embeddings' } & import('./sentence-embeddings.js').EmbeddingsOptions)
  | ({ task: 'text-generation' } & import('./text-generation.js').GenerationOptions)
  | ({ task: 'automatic-speech-recognition' } & import('./speech-recognition.js').SpeechOptions);

export interface OpenOptions {
  threads?: number;
}

/** The task a model's inputs and outputs suggest ([N, classes] → classification, [1, 4+C, N] → detection, …). */
export function inferTask(inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): TaskName | undefined {
  if (inputs.some((i) => i.name === 'input_ids')) {
    if (inputs.some((i) => /past/.test(i.name)) || outputs.some((o) => o.name === 'logits')) return 'text-generation';
    return 'sentence-embeddings';
  }
  const shapes = outputs.map((o) => o.shape);
  if (shapes.length === 2 && shapes.some((s) => s.length === 3 && s[2] === 4)) return 'object-detection'; // DETR-style
  const s = shapes[0];
  if (!s) return undefined;
  if (s.length === 2) return 'image-classification';
  if (s.length === 3 && typeof s[1] === 'number' && typeof s[2] === 'number' && Math.max(s[1], s[2]) >= 5) return 'object-detection';
  return undefined;
}

/** Opens the plan's model (and its companions) on `target`; the task is the plan's, else inferred from the model. */
export async function openPipeline(plan: TaskPlan, target: RuntimeTarget, opts: OpenOptions = {}): Promise<AnyPipeline> {
  const t0 = performance.now();
  const session = await openModel(target, plan.model, opts.threads, true);
  const sessionMs = performance.now() - t0;
  try {
    const task = plan.task ?? inferTask(session.inputs, session.outputs);
    if (!task) throw new UsageError(`cannot tell this model's task from its outputs (${session.outputs.map((o) => `${o.name} [${o.shape.join(', ')}]`).join(', ')})`, `pass --task (${TASKS.join(', ')})`);
    const base = { session, sessionMs, plan, target, threads: opts.threads };
    switch (task) {
      case 'image-classification':
        return await (await import('./image-classification.js')).openClassification(base);
      case 'object-detection':
        return await (await import('./object-detection.js')).openDetection(base);
      case 'zero-shot-image-classification':
        return await (await import('./zero-shot.js')).openZeroShot(base);
      case 'sentence-embeddings':
        return await (await import('./sentence-embeddings.js')).openEmbeddings(base);
      case 'text-generation':
        return await (await import('./text-generation.js')).openGeneration(base);
      case 'automatic-speech-recognition':
        return await (await import('./speech-recognition.js')).openSpeech(base);
    }
  } catch (err) {
    await session.dispose();
    throw err;
  }
}

/** What every task's opener gets: the main session, already open. */
export interface OpenBase {
  session: Session;
  sessionMs: number;
  plan: TaskPlan;
  target: RuntimeTarget;
  threads: number | undefined;
}
