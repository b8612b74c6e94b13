/**
 * `run`: a model with its task's pre- and post-processing. Tasks so far: image-classification (resize
 * the shorter side, centre-crop, normalise; softmax, top-k with labels) and object-detection (letterbox;
 * YOLOv8 or DETR-style decoding, class-aware NMS, boxes in the original image's pixels, an annotated PNG).
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { RuntimeTarget } from '../backends/ep-map.js';
import { ortBackend } from '../backends/ort.js';
import type { HostTensor, Session, TensorSpec } from '../backends/types.js';
import { InferenceError, NotFoundError, UsageError } from '../errors.js';
import { topK, type ClassScore } from './classification.js';
import { decodeDetr, decodeYolo, type Detection } from './detection.js';
import { IMAGE_EXTENSIONS, IMAGENET_MEAN, IMAGENET_STD, annotateImage, imageLayout, imageToTensor, letterboxTensor } from './image.js';
import { loadLabels } from './labels.js';
import type { Sampling } from './generate.js';

export type TaskName = 'image-classification' | 'object-detection' | 'sentence-embeddings' | 'text-generation' | 'zero-shot-image-classification' | 'automatic-speech-recognition';
export const TASKS: readonly TaskName[] = ['image-classification', 'object-detection', 'sentence-embeddings', 'text-generation', 'zero-shot-image-classification', 'automatic-speech-recognition'];

/** Preprocessing as the catalog describes it (catalog/models.json `preprocess`). */
export interface Preprocess {
  resize?: number;
  crop?: number;
  letterbox?: number;
  mean?: readonly number[];
  std?: readonly number[];
}

export interface RunOptions {
  model: string;
  modelName: string;
  /** Undefined: from the model's outputs ([N, classes] → classification, [1, 4+C, N] → detection). */
  task?: TaskName;
  /** Image files or directories of images; for text tasks, texts or .txt files (one text a line). */
  inputs: readonly string[];
  /** Text tasks: tokenizer.json (or its directory); default: found beside the model. */
  tokenizer?: string;
  /** Text tasks: cut texts longer than the model's context instead of refusing them. */
  truncate?: boolean;
  /** text-generation. */
  generation?: GenerationSettings;
  /** zero-shot-image-classification: the text tower (the model is the vision tower) and the candidate labels. */
  textModel?: string;
  candidates?: readonly string[];
  /** zero-shot: how a label becomes a sentence; {} marks the label. */
  hypothesis?: string;
  /** automatic-speech-recognition: the decoder (the model is the encoder), language, translation. */
  decoderModel?: string;
  speech?: { language?: string; translate: boolean; maxTokens: number };
  target: RuntimeTarget;
  device: { id: string; name: string; backend: string };
  preprocess?: Preprocess;
  /** Input side for models with dynamic height/width. */
  size?: number;
  /** A shipped label set (imagenet-1k, coco-80) or a text file. */
  labels?: string;
  topK: number;
  confidence: number;
  iou: number;
  /** Detection: where annotated images go (a .png file for one input, a directory for several). */
  output?: string;
  /** Images per inference when the model has a dynamic batch. */
  batch: number;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface ClassificationResult {
  input: string;
  top: ClassScore[];
}

export interface DetectionResult {
  input: string;
  width: number;
  height: number;
  detections: Detection[];
  annotated?: string;
}

export interface GenerationSettings {
  maxTokens: number;
  sampling: Sampling;
  /** A system message put before each prompt when the chat template takes one. */
  system?: string;
  /** false: the prompt as given, no chat template. */
  chatTemplate: boolean;
  /** Streamed text as it is generated (the delta since the last call). */
  onText?: (delta: string, input: number) => void;
}

export interface GenerationResult {
  input: string;
  text: string;
  tokens: number;
  promptTokens: number;
  finish: 'stop' | 'length' | 'interrupted';
  tokensPerSec: number;
  prefillMs: number;
  decodeMsPerToken: number;
}

export interface ZeroShotResult {
  input: string;
  scores: { label: string; probability: number; similarity: number }[];
}

export interface TranscriptResult {
  input: string;
  text: string;
  language: string;
  tokens: number;
  seconds: number;
}

export interface EmbeddingResult {
  input: string;
  tokens: number;
  embedding: number[];
}

export interface RunReport {
  model: { name: string; path: string };
  task: TaskName;
  taskSource: 'flag' | 'inferred';
  device: { id: string; name: string; backend: string };
  inputs: number;
  results: (ClassificationResult | DetectionResult | EmbeddingResult | GenerationResult | ZeroShotResult | TranscriptResult)[];
  /** sentence-embeddings with several texts: cosine similarity of every pair. */
  similarity?: number[][];
  timing: { sessionMs: number; inferenceMs: number; perImageMs: number; batch: number };
  interrupted: boolean;
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

function inferTask(inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): TaskName | undefined {
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

function imageInput(session: Session, task: TaskName): { spec: TensorSpec; layout: 'nchw' | 'nhwc'; width: number; height: number; dynamicBatch: boolean; dynamicSize: boolean } {
  const floats = session.inputs.filter((i) => i.type === 'float32' && i.shape.length === 4);
  const spec = floats[0];
  const shapeText = (s: TensorSpec): string => `${s.name} ${s.type} [${s.shape.join(', ')}]`;
  if (!spec || session.inputs.length !== 1) {
    throw new UsageError(`this model's inputs do not fit ${task}: ${session.inputs.map(shapeText).join(', ')}`, 'an image task needs one float32 input [N, 3, H, W] or [N, H, W, 3]; pass --task for another task');
  }
  const [, a, b, c] = spec.shape;
  const layout = a === 3 ? 'nchw' : c === 3 ? 'nhwc' : undefined;
  if (!layout) throw new UsageError(`input ${shapeText(spec)} has no 3-channel axis`, 'an image task needs [N, 3, H, W] or [N, H, W, 3]');
  const [h, w] = layout === 'nchw' ? [b, c] : [a, b];
  const fixed = imageLayout(spec.shape);
  return {
    spec,
    layout,
    height: typeof h === 'number' && h > 0 ? h : 0,
    width: typeof w === 'number' && w > 0 ? w : 0,
    dynamicBatch: typeof spec.shape[0] !== 'number' || spec.shape[0] <= 0,
    dynamicSize: !fixed,
  };
}

export async function runTask(opts: RunOptions): Promise<RunReport> {
  const t0 = performance.now();
  let session: Session;
  try {
    session = await ortBackend.load(opts.model, opts.target, opts.threads ? { threads: opts.threads } : {});
  } catch (err) {
    if (err instanceof InferenceError) throw new UsageError(`${opts.model} does not load as an ONNX model: ${err.message.replace(/^could not create a session: /, '')}`, 'give an .onnx file');
    throw err;
  }
  const sessionMs = performance.now() - t0;
  try {
    const inferred = inferTask(session.inputs, session.outputs);
    const task = opts.task ?? inferred;
    if (!task) throw new UsageError(`cannot tell this model's task from its outputs (${session.outputs.map((o) => `${o.name} [${o.shape.join(', ')}]`).join(', ')})`, `pass --task (${TASKS.join(', ')})`);
    if (task === 'sentence-embeddings') return await runEmbeddings(session, opts, Math.round(sessionMs));
    if (task === 'text-generation') return await runGeneration(session, opts, Math.round(sessionMs));
    if (task === 'zero-shot-image-classification') return await runZeroShot(session, opts, Math.round(sessionMs));
    if (task === 'automatic-speech-recognition') return await runSpeech(session, opts, Math.round(sessionMs));
    const files = await expandImageInputs(opts.inputs);
    const input = imageInput(session, task);
    const side = opts.size ?? (task === 'object-detection' ? opts.preprocess?.letterbox ?? 640 : opts.preprocess?.crop ?? 224);
    const width = input.width || side;
    const height = input.height || side;
    const labels = opts.labels ? await loadLabels(opts.labels, opts.model) : undefined;
    const results: RunReport['results'] = [];
    let inferenceMs = 0;
    const batch = task === 'image-classification' && input.dynamicBatch ? Math.max(1, opts.batch) : 1;
    const dims = (n: number): number[] => (input.layout === 'nchw' ? [n, 3, height, width] : [n, height, width, 3]);
    if (opts.output && task !== 'object-detection') throw new UsageError('-o writes annotated images: object-detection only');
    const outDir = opts.output !== undefined && (files.length > 1 || (await stat(opts.output).then((s) => s.isDirectory(), () => false)));
    if (outDir && opts.output) await mkdir(opts.output, { recursive: true });
    for (let i = 0; i < files.length && !opts.signal?.aborted; i += batch) {
      const group = files.slice(i, i + batch);
      if (task === 'image-classification') {
        const plane = 3 * width * height;
        const data = new Float32Array(plane * group.length);
        for (const [k, f] of group.entries()) {
          data.set(
            await imageToTensor(f, { width, height, layout: input.layout, mean: opts.preprocess?.mean ?? IMAGENET_MEAN, std: opts.preprocess?.std ?? IMAGENET_STD, resizeRatio: opts.preprocess?.resize && opts.preprocess.crop ? opts.preprocess.resize / opts.preprocess.crop : 256 / 224 }),
            k * plane,
          );
        }
        const r0 = performance.now();
        const out = await session.run({ [input.spec.name]: { type: 'float32', dims: dims(group.length), data } });
        inferenceMs += performance.now() - r0;
        const logits = out[session.outputs[0]!.name]!;
        const classes = logits.dims[logits.dims.length - 1] ?? 1;
        const values = logits.data as Float32Array;
        group.forEach((f, k) => results.push({ input: f, top: topK(values.subarray(k * classes, (k + 1) * classes), opts.topK, labels) }));
      } else {
        const f = group[0]!;
        const { data, letterbox } = await letterboxTensor(f, { width, height }, input.layout);
        const r0 = performance.now();
        const out = await session.run({ [input.spec.name]: { type: 'float32', dims: dims(1), data } });
        inferenceMs += performance.now() - r0;
        const decodeOpts = { confidence: opts.confidence, iou: opts.iou, ...(labels ? { labels } : {}) };
        const tensors = session.outputs.map((o) => out[o.name]!);
        const boxesAt = tensors.findIndex((t) => t.dims.length === 3 && t.dims[2] === 4);
        let detections: Detection[];
        if (tensors.length === 2 && boxesAt >= 0) {
          const logits = tensors[1 - boxesAt]! as HostTensor;
          detections = decodeDetr(logits.data as Float32Array, logits.dims, tensors[boxesAt]!.data as Float32Array, { width, height }, letterbox, decodeOpts);
        } else {
          detections = decodeYolo(tensors[0]!.data as Float32Array, tensors[0]!.dims, letterbox, decodeOpts);
        }
        const result: DetectionResult = { input: f, width: letterbox.width, height: letterbox.height, detections };
        if (opts.output) {
          const target = outDir ? join(opts.output, `${basename(f, extname(f))}.png`) : opts.output;
          await annotateImage(f, detections.map((d) => ({ box: d.box, classId: d.classId, text: `${d.label ?? `class ${d.classId}`} ${(d.score * 100).toFixed(0)}%` })), target);
          result.annotated = target;
        }
        results.push(result);
      }
      opts.onProgress?.(Math.min(files.length, i + group.length), files.length);
    }
    return report(opts, task, files.length, results, sessionMs, inferenceMs, Math.min(batch, files.length));
  } finally {
    await session.dispose();
  }
}

/** sentence-embeddings: tokenize, batch with padding, run, mean-pool under the mask, L2-normalise. */
async function runEmbeddings(session: Session, opts: RunOptions, sessionMs: number): Promise<RunReport> {
  const { readTexts, findTokenizer, loadTokenizer } = await import('./text.js');
  const { meanPoolNormalize, normalize, cosine } = await import('./embeddings.js');
  const texts = await readTexts(opts.inputs);
  const names = session.inputs.map((i) => i.name);
  if (!names.includes('input_ids')) throw new UsageError(`this model's inputs do not fit sentence-embeddings: ${names.join(', ')}`, 'a text encoder takes input_ids (and attention_mask)');
  const tokenizer = await loadTokenizer(await findTokenizer(opts.model, opts.tokenizer));
  const seqDim = session.inputs.find((i) => i.name === 'input_ids')?.shape[1];
  const context = typeof seqDim === 'number' && seqDim > 0 ? seqDim : tokenizer.maxLength ?? 512;
  const encoded = texts.map((text, i) => {
    const e = tokenizer.encode(text);
    if (e.ids.length > context) {
      if (!opts.truncate) throw new UsageError(`text ${i + 1} is ${e.ids.length} tokens; the model's context is ${context}`, 'shorten it, or pass --truncate to cut it');
      return { ids: e.ids.slice(0, context), attentionMask: e.attentionMask.slice(0, context), tokenTypeIds: e.tokenTypeIds.slice(0, context) };
    }
    return e;
  });
  const batch = Math.max(1, opts.batch);
  const results: EmbeddingResult[] = [];
  let inferenceMs = 0;
  for (let s = 0; s < texts.length && !opts.signal?.aborted; s += batch) {
    const group = encoded.slice(s, s + batch);
    const t = typeof seqDim === 'number' && seqDim > 0 ? seqDim : Math.max(...group.map((g) => g.ids.length));
    const n = group.length;
    const fill = (get: (g: (typeof group)[number]) => number[], pad: number): BigInt64Array => {
      const a = new BigInt64Array(n * t).fill(BigInt(pad));
      group.forEach((g, r) => get(g).forEach((v, c) => (a[r * t + c] = BigInt(v))));
      return a;
    };
    const mask = fill((g) => g.attentionMask, 0);
    const feeds: Record<string, HostTensor> = { input_ids: { type: 'int64', dims: [n, t], data: fill((g) => g.ids, tokenizer.padId) } };
    if (names.includes('attention_mask')) feeds['attention_mask'] = { type: 'int64', dims: [n, t], data: mask };
    if (names.includes('token_type_ids')) feeds['token_type_ids'] = { type: 'int64', dims: [n, t], data: fill((g) => g.tokenTypeIds, 0) };
    const r0 = performance.now();
    const out = await session.run(feeds);
    inferenceMs += performance.now() - r0;
    // A pooled output ([N, H], e.g. sentence_embedding) is used as it is; token vectors [N, T, H] are pooled.
    const pooled = session.outputs.map((o) => out[o.name]!).find((x) => x.dims.length === 2 && x.type === 'float32');
    const tokensOut = session.outputs.map((o) => out[o.name]!).find((x) => x.dims.length === 3 && x.type === 'float32');
    let vectors: Float32Array[];
    if (pooled) {
      const h = pooled.dims[1]!;
      vectors = Array.from({ length: n }, (_, r) => normalize((pooled.data as Float32Array).slice(r * h, (r + 1) * h)));
    } else if (tokensOut) vectors = meanPoolNormalize(tokensOut.data as Float32Array, tokensOut.dims, mask);
    else throw new UsageError(`no float output of shape [N, T, H] or [N, H] to pool (${session.outputs.map((o) => o.name).join(', ')})`);
    group.forEach((g, r) => results.push({ input: texts[s + r]!, tokens: g.ids.length, embedding: Array.from(vectors[r]!) }));
    opts.onProgress?.(Math.min(texts.length, s + n), texts.length);
  }
  const similarity = results.length > 1 ? results.map((a) => results.map((b) => Number(cosine(Float32Array.from(a.embedding), Float32Array.from(b.embedding)).toFixed(6)))) : undefined;
  return report(opts, 'sentence-embeddings', texts.length, results, sessionMs, inferenceMs, Math.min(batch, texts.length), similarity ? { similarity } : {});
}

/** The ids that end generation: eos_token_id from generation_config.json / config.json beside the model, and the tokenizer's eos_token. */
async function stopIds(modelPath: string, tokenizer: import('./text.js').TextTokenizer): Promise<Set<number>> {
  const { readFile } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const ids = new Set<number>();
  let dir = dirname(modelPath);
  for (let i = 0; i < 3; i++) {
    for (const f of ['generation_config.json', 'config.json']) {
      try {
        const c = JSON.parse(await readFile(join(dir, f), 'utf8')) as { eos_token_id?: number | number[] };
        for (const id of [c.eos_token_id ?? []].flat()) ids.add(id);
      } catch {
        // absent
      }
    }
    dir = dirname(dir);
  }
  const eos = tokenText(tokenizer.config['eos_token']);
  const id = eos ? tokenizer.tokenId(eos) : undefined;
  if (id !== undefined) ids.add(id);
  return ids;
}

/** tokenizer_config values are strings or {content: "…"} objects. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A decoder ready to answer: tokenizer, chat template, stop tokens, context. */
export interface Chat {
  /** Renders the conversation with the chat template (or takes the last message as is) and generates the reply. */
  reply(messages: readonly ChatMessage[], onText?: (delta: string) => void, signal?: AbortSignal): Promise<GenerationResult>;
}

async function openChat(session: Session, opts: RunOptions): Promise<Chat> {
  const { findTokenizer, loadTokenizer } = await import('./text.js');
  const { generate, cacheLayout } = await import('./generate.js');
  cacheLayout(session); // a clear error before anything else when the model is not a decoder
  const g = opts.generation ?? { maxTokens: 128, sampling: { temperature: 0, seed: 1 }, chatTemplate: true };
  const tokenizer = await loadTokenizer(await findTokenizer(opts.model, opts.tokenizer));
  const stop = await stopIds(opts.model, tokenizer);
  const template = typeof tokenizer.config['chat_template'] === 'string' && g.chatTemplate ? (tokenizer.config['chat_template'] as string) : undefined;
  const context = tokenizer.maxLength ?? 2048;
  const { Template } = await import('@huggingface/jinja');
  return {
    async reply(messages, onText, signal) {
      const last = messages[messages.length - 1]?.content ?? '';
      let prompt = last;
      if (template) {
        try {
          prompt = new Template(template).render({
            messages: [...(g.system ? [{ role: 'system', content: g.system }] : []), ...messages],
            add_generation_prompt: true,
            bos_token: tokenText(tokenizer.config['bos_token']) ?? '',
            eos_token: tokenText(tokenizer.config['eos_token']) ?? '',
          });
        } catch (err) {
          throw new UsageError(`the chat template does not render: ${(err as Error).message.split('\n')[0] ?? ''}`, 'pass --no-chat-template to send the prompt as it is');
        }
      }
      const ids = tokenizer.encode(prompt, !template).ids;
      if (ids.length >= context) throw new UsageError(`the prompt is ${ids.length} tokens; the model's context is ${context}`, 'shorten it (or start a new conversation)');
      let shown = '';
      const out: number[] = [];
      const r = await generate(session, ids, {
        maxTokens: Math.min(g.maxTokens, context - ids.length),
        sampling: g.sampling,
        stop,
        ...(signal ? { signal } : {}),
        onToken: (id) => {
          out.push(id);
          const now = tokenizer.decode(out);
          // Sub-word pieces can change earlier characters; only a grown prefix is streamed.
          if (now.startsWith(shown) && now.length > shown.length) {
            onText?.(now.slice(shown.length));
            shown = now;
          }
        },
      });
      const text = tokenizer.decode(r.ids);
      if (text.length > shown.length && text.startsWith(shown)) onText?.(text.slice(shown.length));
      return { input: last, text, tokens: r.ids.length, promptTokens: r.promptTokens, finish: r.finish, tokensPerSec: Math.round(r.tokensPerSec * 10) / 10, prefillMs: Math.round(r.prefillMs * 100) / 100, decodeMsPerToken: Math.round(r.decodeMs * 100) / 100 };
    },
  };
}

/**
 * An interactive conversation: `next()` yields the user's turns; each reply is generated against the
 * whole conversation so far (the template renders the history) and streamed through `onText`.
 */
export async function chatLoop(opts: RunOptions, next: () => Promise<string | undefined>, onText: (delta: string) => void, onReply: (r: GenerationResult) => void): Promise<number> {
  const session = await ortBackend.load(opts.model, opts.target, opts.threads ? { threads: opts.threads } : {});
  try {
    const chat = await openChat(session, opts);
    const messages: ChatMessage[] = [];
    let turns = 0;
    for (let line = await next(); line !== undefined && !opts.signal?.aborted; line = await next()) {
      if (!line.trim()) continue;
      messages.push({ role: 'user', content: line });
      const r = await chat.reply(messages, onText, opts.signal);
      messages.push({ role: 'assistant', content: r.text });
      onReply(r);
      turns++;
    }
    return turns;
  } finally {
    await session.dispose();
  }
}

/** text-generation: chat template (Jinja, from tokenizer_config) → tokens → KV-cache decoding, streamed. */
async function runGeneration(session: Session, opts: RunOptions, sessionMs: number): Promise<RunReport> {
  const { readTexts } = await import('./text.js');
  const chat = await openChat(session, opts);
  const texts = await readTexts(opts.inputs);
  const results: GenerationResult[] = [];
  let inferenceMs = 0;
  for (const [i, text] of texts.entries()) {
    if (opts.signal?.aborted) break;
    const r0 = performance.now();
    const r = await chat.reply([{ role: 'user', content: text }], (d) => opts.generation?.onText?.(d, i), opts.signal);
    inferenceMs += performance.now() - r0;
    results.push(r);
    opts.onProgress?.(i + 1, texts.length);
  }
  return report(opts, 'text-generation', texts.length, results, sessionMs, inferenceMs, 1);
}

/** The report every task returns: what ran where, the results, and timing. */
function report(opts: RunOptions, task: TaskName, inputs: number, results: RunReport['results'], sessionMs: number, inferenceMs: number, batch: number, extra: Pick<RunReport, 'similarity'> = {}): RunReport {
  return {
    model: { name: opts.modelName, path: opts.model },
    task,
    taskSource: opts.task ? 'flag' : 'inferred',
    device: opts.device,
    inputs,
    results,
    ...extra,
    timing: { sessionMs: Math.round(sessionMs), inferenceMs: Math.round(inferenceMs * 100) / 100, perImageMs: results.length ? Math.round((inferenceMs / results.length) * 100) / 100 : 0, batch },
    interrupted: Boolean(opts.signal?.aborted),
  };
}

/** CLIP's defaults (openai/clip-vit-base-patch32 preprocessor_config.json). */
const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** The first float output of rank 2 ([N, D]: image_embeds / text_embeds), L2-normalised rows. */
function embeddingRows(out: Record<string, HostTensor>, prefer: string): Float32Array[] {
  const t = out[prefer] ?? Object.values(out).find((x) => x.type === 'float32' && x.dims.length === 2);
  if (!t) throw new UsageError(`no [N, D] embedding output (${Object.keys(out).join(', ')})`, `export the tower with its ${prefer} output`);
  const d = t.dims[1]!;
  const rows: Float32Array[] = [];
  for (let r = 0; r < t.dims[0]!; r++) {
    const v = (t.data as Float32Array).slice(r * d, (r + 1) * d);
    let n = 0;
    for (const x of v) n += x * x;
    const norm = Math.sqrt(n) || 1;
    rows.push(v.map((x) => x / norm));
  }
  return rows;
}

/** zero-shot-image-classification (CLIP): both towers' embeddings, cosine × 100, softmax over the labels. */
async function runZeroShot(vision: Session, opts: RunOptions, sessionMs: number): Promise<RunReport> {
  const labels = opts.candidates ?? [];
  if (labels.length < 2) throw new UsageError('zero-shot classification needs at least two candidate labels', 'e.g. --labels "a cat,a dog,a car" (or a text file, one a line)');
  if (!opts.textModel) throw new UsageError('zero-shot classification needs the text tower too', 'give a directory or repo with vision_model*.onnx and text_model*.onnx, or --text-model');
  const { findTokenizer, loadTokenizer } = await import('./text.js');
  const { softmax } = await import('./classification.js');
  const tokenizer = await loadTokenizer(await findTokenizer(opts.textModel, opts.tokenizer));
  const text = await ortBackend.load(opts.textModel, opts.target, opts.threads ? { threads: opts.threads } : {});
  try {
    const files = await expandImageInputs(opts.inputs);
    const hypothesis = opts.hypothesis ?? 'a photo of {}.';
    const sentences = labels.map((l) => hypothesis.replace('{}', l));
    const idsSpec = text.inputs.find((i) => i.name === 'input_ids');
    if (!idsSpec) throw new UsageError(`the text tower takes no input_ids (${text.inputs.map((i) => i.name).join(', ')})`);
    const fixed = typeof idsSpec.shape[1] === 'number' && idsSpec.shape[1] > 0 ? idsSpec.shape[1] : undefined;
    const enc = sentences.map((t) => tokenizer.encode(t).ids);
    const len = fixed ?? Math.max(...enc.map((e) => e.length));
    if (enc.some((e) => e.length > len)) throw new UsageError(`a label is longer than the text tower's ${len} tokens`);
    const ids = new BigInt64Array(enc.length * len).fill(BigInt(tokenizer.padId));
    const mask = new BigInt64Array(enc.length * len);
    enc.forEach((e, r) => e.forEach((v, c) => ((ids[r * len + c] = BigInt(v)), (mask[r * len + c] = 1n))));
    const feeds: Record<string, HostTensor> = { input_ids: { type: 'int64', dims: [enc.length, len], data: ids } };
    if (text.inputs.some((i) => i.name === 'attention_mask')) feeds['attention_mask'] = { type: 'int64', dims: [enc.length, len], data: mask };
    const r0 = performance.now();
    const textEmb = embeddingRows(await text.run(feeds), 'text_embeds');
    let inferenceMs = performance.now() - r0;
    const input = imageInput(vision, 'zero-shot-image-classification');
    const side = opts.size ?? 224;
    const width = input.width || side;
    const height = input.height || side;
    const results: ZeroShotResult[] = [];
    for (const f of files) {
      if (opts.signal?.aborted) break;
      const data = await imageToTensor(f, { width, height, layout: input.layout, mean: opts.preprocess?.mean ?? CLIP_MEAN, std: opts.preprocess?.std ?? CLIP_STD, resizeRatio: 1 });
      const v0 = performance.now();
      const out = await vision.run({ [input.spec.name]: { type: 'float32', dims: input.layout === 'nchw' ? [1, 3, height, width] : [1, height, width, 3], data } });
      inferenceMs += performance.now() - v0;
      const img = embeddingRows(out, 'image_embeds')[0]!;
      if (img.length !== textEmb[0]!.length) throw new UsageError(`the towers disagree: image embeddings have ${img.length} dims, text ${textEmb[0]!.length}`);
      const sims = textEmb.map((t) => t.reduce((acc, x, k) => acc + x * img[k]!, 0));
      const probs = softmax(Float32Array.from(sims, (x) => 100 * x)); // CLIP's learned logit scale, exp(4.6052) = 100
      results.push({ input: f, scores: labels.map((label, k) => ({ label, probability: probs[k]!, similarity: sims[k]! })).sort((a, b) => b.probability - a.probability) });
      opts.onProgress?.(results.length, files.length);
    }
    return report(opts, 'zero-shot-image-classification', files.length, results, sessionMs, inferenceMs, 1);
  } finally {
    await text.dispose();
  }
}

/** automatic-speech-recognition (Whisper): WAV → 16 kHz mono → log-mel → encoder → cached greedy decoding. */
async function runSpeech(encoder: Session, opts: RunOptions, sessionMs: number): Promise<RunReport> {
  if (!opts.decoderModel) throw new UsageError('speech recognition needs the decoder too', 'give a directory or repo with encoder_model*.onnx and decoder_model_merged*.onnx');
  const { readFile } = await import('node:fs/promises');
  const { decodeWav, resample, SAMPLE_RATE } = await import('./audio.js');
  const { transcribe } = await import('./whisper.js');
  const { findTokenizer, loadTokenizer } = await import('./text.js');
  const tokenizer = await loadTokenizer(await findTokenizer(opts.decoderModel, opts.tokenizer));
  const decoder = await ortBackend.load(opts.decoderModel, opts.target, opts.threads ? { threads: opts.threads } : {});
  try {
    const files: string[] = [];
    for (const input of opts.inputs) {
      const st = await stat(input).catch(() => undefined);
      if (!st) throw new NotFoundError(`input ${input} not found`);
      if (st.isDirectory()) files.push(...(await readdir(input)).filter((f) => /\.wav$/i.test(f)).sort().map((f) => join(input, f)));
      else files.push(input);
    }
    if (files.length === 0) throw new UsageError('no .wav files to transcribe');
    const s = opts.speech ?? { translate: false, maxTokens: 224 };
    const results: TranscriptResult[] = [];
    let inferenceMs = 0;
    for (const f of files) {
      if (opts.signal?.aborted) break;
      const audio = decodeWav(new Uint8Array(await readFile(f)), f);
      const samples = resample(audio.samples, audio.sampleRate, SAMPLE_RATE);
      const r0 = performance.now();
      const t = await transcribe(encoder, decoder, tokenizer, samples, { ...(s.language ? { language: s.language } : {}), translate: s.translate, maxTokens: s.maxTokens, ...(opts.signal ? { signal: opts.signal } : {}) });
      inferenceMs += performance.now() - r0;
      results.push({ input: f, text: t.text, language: t.language, tokens: t.tokens, seconds: Math.round((samples.length / SAMPLE_RATE) * 100) / 100 });
      opts.onProgress?.(results.length, files.length);
    }
    return report(opts, 'automatic-speech-recognition', files.length, results, sessionMs, inferenceMs, 1);
  } finally {
    await decoder.dispose();
  }
}
