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

export type TaskName = 'image-classification' | 'object-detection';
export const TASKS: readonly TaskName[] = ['image-classification', 'object-detection'];

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
  /** Image files or directories of images. */
  inputs: readonly string[];
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

export interface RunReport {
  model: { name: string; path: string };
  task: TaskName;
  taskSource: 'flag' | 'inferred';
  device: { id: string; name: string; backend: string };
  inputs: number;
  results: (ClassificationResult | DetectionResult)[];
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

function inferTask(outputs: readonly TensorSpec[]): TaskName | undefined {
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
  const files = await expandImageInputs(opts.inputs);
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
    const inferred = inferTask(session.outputs);
    const task = opts.task ?? inferred;
    if (!task) throw new UsageError(`cannot tell this model's task from its outputs (${session.outputs.map((o) => `${o.name} [${o.shape.join(', ')}]`).join(', ')})`, `pass --task (${TASKS.join(', ')})`);
    const input = imageInput(session, task);
    const side = opts.size ?? (task === 'object-detection' ? opts.preprocess?.letterbox ?? 640 : opts.preprocess?.crop ?? 224);
    const width = input.width || side;
    const height = input.height || side;
    const labels = opts.labels ? await loadLabels(opts.labels) : undefined;
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
    return {
      model: { name: opts.modelName, path: opts.model },
      task,
      taskSource: opts.task ? 'flag' : 'inferred',
      device: opts.device,
      inputs: files.length,
      results,
      timing: { sessionMs: Math.round(sessionMs), inferenceMs: Math.round(inferenceMs * 100) / 100, perImageMs: results.length ? Math.round((inferenceMs / results.length) * 100) / 100 : 0, batch: Math.min(batch, files.length) },
      interrupted: Boolean(opts.signal?.aborted),
    };
  } finally {
    await session.dispose();
  }
}
