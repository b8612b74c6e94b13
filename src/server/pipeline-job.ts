/**
 * The 'pipeline' job kind, imported by a server lane at start (LaneOptions.jobModules): task pipelines
 * (core/tasks/pipeline.ts) opened once inside the lane and run many times, so tokenizing, generation and
 * pooling happen in the lane like the sessions do, and only text and numbers cross to the HTTP process.
 * Generated text streams back as job events ({ delta, tokens }); concurrent 'generate' jobs for one model
 * interleave in its GenerationScheduler (up to max_sequences at once); a cancel (the client went away)
 * ends that sequence and frees its slot.
 */
import type { RuntimeTarget } from '../core/backends/ep-map.js';
import { UsageError } from '../core/errors.js';
import type { TaskPlan } from '../core/tasks/plan.js';
import type { AnyPipeline, GenerationPipeline } from '../core/tasks/pipeline.js';
import type { ChatMessage } from '../core/tasks/types.js';
import { registerJob } from '../runtime/jobs.js';
import { GenerationScheduler } from '../core/serve/generation-scheduler.js';

/** Sequences a text-generation model interleaves by default (config key max_sequences). */
export const DEFAULT_MAX_SEQUENCES = 4;

export type PipelineJob =
  | { op: 'open'; key: string; plan: TaskPlan; target: RuntimeTarget; threads?: number; maxSequences?: number }
  | { op: 'generate'; key: string; input: string | ChatMessage[]; maxTokens?: number; temperature?: number; topP?: number; seed?: number; chatTemplate?: boolean }
  | { op: 'embed'; key: string; texts: string[]; truncate?: boolean }
  | { op: 'task'; key: string; image: Uint8Array; topK?: number; confidence?: number; iou?: number; candidates?: string[]; hypothesis?: string; annotate?: boolean }
  | { op: 'transcribe'; key: string; audio: Uint8Array; language?: string; translate?: boolean; maxTokens?: number }
  | { op: 'close'; key: string };

const open = new Map<string, AnyPipeline>();
/** One generation scheduler per open text-generation pipeline: concurrent 'generate' jobs interleave in it. */
const schedulers = new Map<string, GenerationScheduler>();

/** A scheduler over the pipeline's step API, with batched steps when its decoder takes a batch above 1 (checked on first use). */
async function schedulerFor(p: GenerationPipeline, maxSequences: number): Promise<GenerationScheduler> {
  const { batchable, batchStepper } = await import('../core/serve/batched-step.js');
  const session = p.sessions[0]!;
  if (!batchable(session)) return new GenerationScheduler(p, maxSequences);
  const b = batchStepper(session);
  return new GenerationScheduler({ prefill: p.prefill.bind(p), step: p.step.bind(p), detokenize: p.detokenize.bind(p), stepBatch: b.stepBatch, batchEnabled: b.enabled }, maxSequences);
}

function get(key: string): AnyPipeline {
  const p = open.get(key);
  if (!p) throw new UsageError(`pipeline ${key} is not open in this lane`);
  return p;
}

registerJob('pipeline', async (payload, ctx) => {
  const job = payload as PipelineJob;
  switch (job.op) {
    case 'open': {
      if (!open.has(job.key)) {
        const { openPipeline } = await import('../core/tasks/pipeline.js');
        open.set(job.key, await openPipeline(job.plan, job.target, job.threads ? { threads: job.threads } : {}));
      }
      const p = get(job.key);
      if (p.task === 'text-generation' && !schedulers.has(job.key)) schedulers.set(job.key, await schedulerFor(p, job.maxSequences ?? DEFAULT_MAX_SEQUENCES));
      return { task: p.task };
    }
    case 'generate': {
      const p = get(job.key);
      if (p.task !== 'text-generation') throw new UsageError(`this model is a ${p.task} model, not a text-generation model`);
      const sampling = { temperature: job.temperature ?? 0, seed: job.seed ?? 1, ...(job.topP !== undefined ? { topP: job.topP } : {}) };
      // The prompt is rendered here; the scheduler interleaves it with the model's other sequences and
      // streams each token back as a { delta, tokens } event (delta '' while a sub-word piece settles).
      const messages = typeof job.input === 'string' ? [{ role: 'user' as const, content: job.input }] : job.input;
      const promptIds = p.renderChat(messages, job.chatTemplate === false ? { chatTemplate: false } : {});
      if (!schedulers.has(job.key)) {
        const made = await schedulerFor(p, DEFAULT_MAX_SEQUENCES);
        if (!schedulers.has(job.key)) schedulers.set(job.key, made);
      }
      const sched = schedulers.get(job.key)!;
      return sched.submit({ promptIds, ...(job.maxTokens !== undefined ? { maxTokens: job.maxTokens } : {}), sampling, onToken: (e) => ctx.emit(e), signal: ctx.signal });
    }
    case 'embed': {
      const p = get(job.key);
      if (p.task !== 'sentence-embeddings') throw new UsageError(`this model is a ${p.task} model, not a sentence-embeddings model`);
      return p.runBatch(job.texts, job.truncate ? { truncate: true } : {}, ctx.signal);
    }
    case 'task': {
      // Image tasks: the bytes of a JPEG/PNG/… through the task's own pre- and post-processing.
      const p = get(job.key);
      if (job.annotate && p.task !== 'object-detection') throw new UsageError(`annotate draws detection boxes; this model is a ${p.task} model`, 'leave out annotate=true (and Accept: image/png) for it');
      switch (p.task) {
        case 'image-classification':
          return { task: p.task, ...(await p.run(job.image, { ...(job.topK ? { topK: job.topK } : {}), name: 'upload' }, ctx.signal)) };
        case 'object-detection': {
          const r = await p.run(job.image, { ...(job.confidence !== undefined ? { confidence: job.confidence } : {}), ...(job.iou !== undefined ? { iou: job.iou } : {}), name: 'upload' }, ctx.signal);
          if (!job.annotate) return { task: p.task, ...r };
          // The boxes drawn over the original image here in the lane, so only the PNG crosses back.
          const [{ annotatedPng }, { detectionText }] = await Promise.all([import('../core/tasks/image.js'), import('../core/tasks/annotate.js')]);
          return { task: p.task, ...r, png: await annotatedPng(job.image, r.detections.map((d) => ({ box: d.box, classId: d.classId, text: detectionText(d) }))) };
        }
        case 'zero-shot-image-classification':
          return { task: p.task, ...(await p.run(job.image, { ...(job.candidates ? { candidates: job.candidates } : {}), ...(job.hypothesis ? { hypothesis: job.hypothesis } : {}), name: 'upload' }, ctx.signal)) };
        default:
          throw new UsageError(`this model is a ${p.task} model; /v1/tasks takes image models (classification, detection, zero-shot)`, 'use /v1/chat/completions or /v1/embeddings for text models');
      }
    }
    case 'transcribe': {
      // A WAV file's bytes through the speech pipeline (decode, resample, log-mel, encoder, decoding).
      const p = get(job.key);
      if (p.task !== 'automatic-speech-recognition') throw new UsageError(`this model is a ${p.task} model, not a speech recognition model`);
      return p.run(job.audio, { ...(job.language ? { language: job.language } : {}), translate: Boolean(job.translate), ...(job.maxTokens ? { maxTokens: job.maxTokens } : {}), name: 'the upload' }, ctx.signal);
    }
    case 'close': {
      const p = open.get(job.key);
      open.delete(job.key);
      schedulers.get(job.key)?.close();
      schedulers.delete(job.key);
      await p?.dispose();
      return {};
    }
  }
});
