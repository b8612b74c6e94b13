/**
 * `run`: a plan's pipeline over files. `runTask` reads the inputs (images, texts, WAV files) into bytes
 * or strings, runs them through one `openPipeline(plan)` and gathers the report `aivmm run` prints.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { RuntimeTarget } from '../backends/ep-map.js';
import { NotFoundError, UsageError } from '../errors.js';
import { detectionText } from './annotate.js';
import { IMAGE_EXTENSIONS, annotateImage } from './image.js';
import { openPipeline, type AnyPipeline, type TaskOptions } from './pipeline.js';
import type { TaskPlan } from './plan.js';
import type { ChatMessage, DetectionResult, GenerationResult, RunReport, TaskName, TaskResult } from './types.js';

export * from './types.js';
export { openPipeline, inferTask } from './pipeline.js';
export type * from './pipeline.js';
export { planTask, taskFor, candidateLabels, type TaskPlan, type PlanArgs } from './plan.js';

/** Each task's options, by task: the task may only be known once the model is open (inferred). */
export type TaskOptionsByTask = { [T in TaskName]?: Omit<Extract<TaskOptions, { task: T }>, 'task'> };

export interface RunOptions {
  plan: TaskPlan;
  /** Image files or directories of images; for text tasks, texts or .txt files (one text a line); WAV files or directories. */
  inputs: readonly string[];
  target: RuntimeTarget;
  device: { id: string; name: string; backend: string };
  threads?: number;
  /** What each run of the task gets (top-k, thresholds, sampling, …). */
  options?: TaskOptionsByTask;
  /** Images (or texts) per inference when the model has a dynamic batch. */
  batch: number;
  /** Detection: where annotated images go (a .png file for one input, a directory for several). */
  output?: string;
  /** text-generation: the text streamed for input `input` (the delta since the last call). */
  onText?: (delta: string, input: number) => void;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Image files named by the inputs (directories expanded, sorted); other files are refused. */
export async function expandImageInputs(inputs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    const st = await stat(input).catch(() => undefined);
    if (!st) throw new NotFoundError(`input ${input} not found`);
    if (st.isDirectory()) {
      const files = (await readdir(input)).filter((f) => IMAGE_EXTENSIONS.includes(extname(f).toLowerCase())).sort();
      if (files.length === 0) throw new UsageError(`no images in ${input}`, `expected ${IMAGE_EXTENSIONS.join(' ')} files`);
      out.push(...files.map((f) => join(input, f)));
    } else {
      if (!IMAGE_EXTENSIONS.includes(extname(input).toLowerCase())) throw new UsageError(`${input} is not an image this task reads`, `give ${IMAGE_EXTENSIONS.join(' ')} files or a directory of them`);
      out.push(input);
    }
  }
  return out;
}

/** .wav files named by the inputs (directories expanded, sorted). */
/** WAV files named by the inputs (directories expanded, sorted). */
export async function expandWavInputs(inputs: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const st = await stat(input).catch(() => undefined);
    if (!st) throw new NotFoundError(`input ${input} not found`);
    if (st.isDirectory()) files.push(...(await readdir(input)).filter((f) => /\.wav$/i.test(f)).sort().map((f) => join(input, f)));
    else files.push(input);
  }
  if (files.length === 0) throw new UsageError('no .wav files to transcribe');
  return files;
}

const bytesOf = async (f: string): Promise<Uint8Array> => new Uint8Array(await readFile(f));

export async function runTask(opts: RunOptions): Promise<RunReport> {
  const { plan, signal } = opts;
  // zero-shot refuses a lone label before it opens anything
  if (plan.task === 'zero-shot-image-classification') (await import('./zero-shot.js')).checkCandidates(plan.candidates);
  const pipeline = await openPipeline(plan, opts.target, opts.threads ? { threads: opts.threads } : {});
  try {
    const { results, batch, inputs, extra } = await runInputs(pipeline, opts);
    const preprocessing = 'preprocessing' in pipeline ? { preprocessing: pipeline.preprocessing } : {};
    const notices = 'notices' in pipeline && pipeline.notices.length > 0 ? { notices: [...pipeline.notices] } : {};
    return report(opts, pipeline.task, inputs, results, pipeline.sessionMs, pipeline.timing.inferenceMs, batch, { ...extra, ...preprocessing, ...notices });
  } finally {
    await pipeline.dispose();
  }

  async function runInputs(p: AnyPipeline, o: RunOptions): Promise<{ results: TaskResult[]; batch: number; inputs: number; extra?: Pick<RunReport, 'similarity'> }> {
    const results: TaskResult[] = [];
    switch (p.task) {
      case 'image-classification': {
        const files = await expandImageInputs(o.inputs);
        if (o.output) throw new UsageError('-o writes annotated images: object-detection only');
        const batch = p.dynamicBatch ? Math.max(1, o.batch) : 1;
        for (let i = 0; i < files.length && !signal?.aborted; i += batch) {
          const group = files.slice(i, i + batch);
          const out = await p.runBatch(await Promise.all(group.map(bytesOf)), { ...o.options?.['image-classification'], names: group });
          out.forEach((r, k) => results.push({ input: group[k]!, ...r }));
          o.onProgress?.(Math.min(files.length, i + group.length), files.length);
        }
        return { results, batch: Math.min(batch, files.length), inputs: files.length };
      }
      case 'object-detection': {
        const files = await expandImageInputs(o.inputs);
        const outDir = o.output !== undefined && (files.length > 1 || (await stat(o.output).then((s) => s.isDirectory(), () => false)));
        if (outDir && o.output) await (await import('node:fs/promises')).mkdir(o.output, { recursive: true });
        for (const [i, f] of files.entries()) {
          if (signal?.aborted) break;
          const r: DetectionResult = { input: f, ...(await p.run(await bytesOf(f), { ...o.options?.['object-detection'], name: f })) };
          if (o.output) {
            const target = outDir ? join(o.output, `${basename(f, extname(f))}.png`) : o.output;
            await annotateImage(f, r.detections.map((d) => ({ box: d.box, classId: d.classId, text: detectionText(d) })), target);
            r.annotated = target;
          }
          results.push(r);
          o.onProgress?.(i + 1, files.length);
        }
        return { results, batch: Math.min(1, files.length), inputs: files.length };
      }
      case 'zero-shot-image-classification': {
        const files = await expandImageInputs(o.inputs);
        for (const f of files) {
          if (signal?.aborted) break;
          results.push({ input: f, ...(await p.run(await bytesOf(f), { ...o.options?.['zero-shot-image-classification'], name: f })) });
          o.onProgress?.(results.length, files.length);
        }
        return { results, batch: 1, inputs: files.length };
      }
      case 'sentence-embeddings': {
        const { readTexts } = await import('./text.js');
        const { cosine } = await import('./embeddings.js');
        const texts = await readTexts(o.inputs);
        const batch = Math.max(1, o.batch);
        const out = await p.runBatch(texts, { ...o.options?.['sentence-embeddings'], batch, ...(o.onProgress ? { onProgress: o.onProgress } : {}) }, signal);
        const rows = out.map((r, k) => ({ input: texts[k]!, ...r }));
        const similarity = rows.length > 1 ? rows.map((a) => rows.map((b) => Number(cosine(Float32Array.from(a.embedding), Float32Array.from(b.embedding)).toFixed(6)))) : undefined;
        return { results: rows, batch: Math.min(batch, texts.length), inputs: texts.length, ...(similarity ? { extra: { similarity } } : {}) };
      }
      case 'text-generation': {
        const { readTexts } = await import('./text.js');
        const texts = await readTexts(o.inputs);
        const onText = o.onText;
        for (const [i, text] of texts.entries()) {
          if (signal?.aborted) break;
          const r = await p.run(text, { ...o.options?.['text-generation'], ...(onText ? { onText: (d: string) => onText(d, i) } : {}) }, signal);
          results.push({ input: text, ...r });
          o.onProgress?.(i + 1, texts.length);
        }
        return { results, batch: 1, inputs: texts.length };
      }
      case 'automatic-speech-recognition': {
        const files = await expandWavInputs(o.inputs);
        for (const f of files) {
          if (signal?.aborted) break;
          results.push({ input: f, ...(await p.run(await bytesOf(f), { ...o.options?.['automatic-speech-recognition'], name: f }, signal)) });
          o.onProgress?.(results.length, files.length);
        }
        return { results, batch: 1, inputs: files.length };
      }
    }
  }
}

/** The report every task returns: what ran where, the results, and timing. */
function report(opts: RunOptions, task: TaskName, inputs: number, results: TaskResult[], sessionMs: number, inferenceMs: number, batch: number, extra: Pick<RunReport, 'similarity' | 'preprocessing' | 'notices'> = {}): RunReport {
  return {
    model: { name: opts.plan.modelName, path: opts.plan.model },
    task,
    taskSource: opts.plan.taskSource,
    device: opts.device,
    inputs,
    results,
    ...extra,
    timing: { sessionMs: Math.round(sessionMs), inferenceMs: Math.round(inferenceMs * 100) / 100, perImageMs: results.length ? Math.round((inferenceMs / results.length) * 100) / 100 : 0, batch },
    interrupted: Boolean(opts.signal?.aborted),
  };
}

/**
 * An interactive conversation: `next()` yields the user's turns; each reply is generated against the
 * whole conversation so far (the template renders the history) and streamed through `onText`.
 */
export async function chatLoop(opts: Omit<RunOptions, 'inputs'>, next: () => Promise<string | undefined>, onText: (delta: string) => void, onReply: (r: GenerationResult) => void): Promise<number> {
  const pipeline = await openPipeline({ ...opts.plan, task: 'text-generation' }, opts.target, opts.threads ? { threads: opts.threads } : {});
  try {
    if (pipeline.task !== 'text-generation') throw new UsageError(`--interactive is a chat: ${opts.plan.modelName} is a ${pipeline.task} model`);
    const messages: ChatMessage[] = [];
    let turns = 0;
    for (let line = await next(); line !== undefined && !opts.signal?.aborted; line = await next()) {
      if (!line.trim()) continue;
      messages.push({ role: 'user', content: line });
      const r = await pipeline.run(messages, { ...opts.options?.['text-generation'], onText }, opts.signal);
      messages.push({ role: 'assistant', content: r.text });
      onReply({ input: line, ...r });
      turns++;
    }
    return turns;
  } finally {
    await pipeline.dispose();
  }
}
