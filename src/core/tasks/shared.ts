/** What the task pipelines share: opening a session, the image input's layout, image bytes, timing. */
import { openSession } from '../backends/registry.js';
import type { RuntimeTarget } from '../backends/ep-map.js';
import type { Session, TensorSpec } from '../backends/types.js';
import { InferenceError, UsageError } from '../errors.js';
import { imageLayout, imageToTensor, letterboxTensor, type ImagePreprocess } from './image.js';
import type { TaskName } from './types.js';

/** Opens one model through the backend registry; `main`: a load failure reads as "not an ONNX model". */
export async function openModel(target: RuntimeTarget, model: string, threads: number | undefined, main = false): Promise<Session> {
  try {
    return (await openSession(target, model, threads ? { threads } : {})).session;
  } catch (err) {
    if (main && err instanceof InferenceError) throw new UsageError(`${model} does not load as an ONNX model: ${err.message.replace(/^could not create a session: /, '')}`, 'give an .onnx file');
    throw err;
  }
}

/** Inference time spent so far (session runs only, not preprocessing). */
export interface PipelineTiming {
  inferenceMs: number;
}

/** An image: its encoded bytes (JPEG, PNG, …), or a tensor already preprocessed to the model's input. */
export type ImageInput = Uint8Array | DecodedImage;

export interface DecodedImage {
  /** [3, H, W] or [H, W, 3] (the model's layout) float32 values, preprocessed. */
  data: Float32Array;
  /** Detection: how the original image was letterboxed into the tensor (default: not at all). */
  letterbox?: { scale: number; padX: number; padY: number; width: number; height: number };
}

export function isDecoded(x: ImageInput): x is DecodedImage {
  return !(x instanceof Uint8Array);
}

/** image.ts's readers take a path (h3 makes them take bytes too); sharp reads a Buffer where a path goes. */
function asSource(bytes: Uint8Array): string {
  // h3: pass `bytes` itself once imageToTensor / letterboxTensor accept Uint8Array.
  return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as unknown as string;
}

/** The reader's "cannot read image <source>: why" with the input's name instead of the source. */
function named(err: unknown, source: string, name: string): unknown {
  const prefix = `cannot read image ${source}: `;
  if (err instanceof UsageError && err.message.startsWith(prefix)) {
    const why = err.message.slice(prefix.length);
    return new UsageError(`cannot read image ${name}: ${why}`, err.hint);
  }
  return err;
}

export async function imageBytesToTensor(bytes: Uint8Array, p: ImagePreprocess, name = 'image'): Promise<Float32Array> {
  const source = asSource(bytes);
  try {
    return await imageToTensor(source, p);
  } catch (err) {
    throw named(err, String(source), name);
  }
}

export async function imageBytesLetterbox(bytes: Uint8Array, size: { width: number; height: number }, layout: 'nchw' | 'nhwc', name = 'image'): ReturnType<typeof letterboxTensor> {
  const source = asSource(bytes);
  try {
    return await letterboxTensor(source, size, layout);
  } catch (err) {
    throw named(err, String(source), name);
  }
}

export interface ImageInputSpec {
  spec: TensorSpec;
  layout: 'nchw' | 'nhwc';
  width: number;
  height: number;
  dynamicBatch: boolean;
  dynamicSize: boolean;
}

/** The one float32 image input of a vision model, or a clear error. */
export function imageInput(session: Session, task: TaskName): ImageInputSpec {
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

/** [n, 3, H, W] or [n, H, W, 3]. */
export function imageDims(layout: 'nchw' | 'nhwc', n: number, width: number, height: number): number[] {
  return layout === 'nchw' ? [n, 3, height, width] : [n, height, width, 3];
}

/** Checks a decoded image's size against the model's input. */
export function checkDecoded(x: DecodedImage, width: number, height: number): Float32Array {
  if (x.data.length !== 3 * width * height) throw new UsageError(`a decoded image has ${x.data.length} values; the model takes 3×${height}×${width} = ${3 * width * height}`);
  return x.data;
}
