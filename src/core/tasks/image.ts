/**
 * Image entry points the tasks call: a classification/CLIP tensor (resize the shorter side, centre-crop,
 * normalise), a YOLO letterbox, an annotated copy (drawn by annotate.ts). The work is done by preprocess.ts (an explicit spec,
 * byte-exact with torchvision/transformers/ultralytics); these keep the older call shapes.
 */
import type { Interpolation, CropRounding, ImageSource, LetterboxGeometry } from './preprocess.js';
import { drawDetections, type LabelledBox } from './annotate.js';
import { IMAGENET_MEAN, IMAGENET_STD, loadSharp, preprocessImage, unreadable, yoloLetterboxSpec } from './preprocess.js';

export { IMAGENET_MEAN, IMAGENET_STD };
export type { ImageSource };

export interface ImagePreprocess {
  width: number;
  height: number;
  layout: 'nchw' | 'nhwc';
  mean: readonly number[];
  std: readonly number[];
  /** Shorter side before the centre crop, as a multiple of the crop (256/224 for ImageNet). */
  resizeRatio: number;
  /** Default bilinear (torchvision's Resize on PIL images, antialiased); CLIP's processor uses bicubic. */
  interpolation?: Interpolation;
  /** Default torchvision's int(round(d / 2)); transformers' processors use d // 2. */
  cropRounding?: CropRounding;
}

export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp'];

/**
 * Decodes and preprocesses one image (a path or encoded bytes) into a [1, 3, H, W] (or [1, H, W, 3])
 * float32 tensor's values: EXIF orientation, shorter side to round(min(H, W) · resizeRatio) keeping the
 * aspect, centre crop H×W, ÷255, (x − mean) / std. preprocessImage() does the same from a spec and also
 * says what it applied.
 */
export async function imageToTensor(input: ImageSource, p: ImagePreprocess): Promise<Float32Array> {
  const shortest = Math.round(Math.min(p.width, p.height) * p.resizeRatio);
  const r = await preprocessImage(input, {
    resize: { shortest },
    crop: { width: p.width, height: p.height, rounding: p.cropRounding ?? 'torchvision' },
    interpolation: p.interpolation ?? 'bilinear',
    rescale: 1 / 255,
    mean: p.mean,
    std: p.std,
    layout: p.layout,
    channelOrder: 'rgb',
  });
  return r.data;
}

/** The layout and size an image input expects, from its shape ([N,3,H,W] or [N,H,W,3]). */
export function imageLayout(shape: readonly (number | string)[]): { layout: 'nchw' | 'nhwc'; width: number; height: number } | undefined {
  if (shape.length !== 4) return undefined;
  const [, a, b, c] = shape;
  if (a === 3 && typeof b === 'number' && typeof c === 'number') return { layout: 'nchw', height: b, width: c };
  if (c === 3 && typeof a === 'number' && typeof b === 'number') return { layout: 'nhwc', height: a, width: b };
  return undefined;
}

/**
 * Letterbox (ultralytics' LetterBox for YOLOv8): scale by r = min(H/h, W/w), resize to round(w·r)×round(h·r)
 * with cv2's INTER_LINEAR, centre it (padding round(d/2 ∓ 0.1)), grey `pad` around, ÷255.
 */
export async function letterboxTensor(input: ImageSource, size: { width: number; height: number }, layout: 'nchw' | 'nhwc', pad = 114): Promise<{ data: Float32Array; letterbox: LetterboxGeometry }> {
  const r = await preprocessImage(input, yoloLetterboxSpec({ ...size, layout, pad }));
  return { data: r.data, letterbox: r.letterbox! };
}

/** Decodes (upright), draws the labelled boxes (annotate.ts) and encodes a PNG of the original size. */
export async function annotatedPng(input: ImageSource, boxes: readonly LabelledBox[]): Promise<Uint8Array> {
  const sharp = await loadSharp();
  const src = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let raw: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    raw = await sharp(src).rotate().toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw unreadable(input, err);
  }
  const img = { data: new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.length), width: raw.info.width, height: raw.info.height };
  drawDetections(img, boxes);
  const png = await sharp(raw.data, { raw: { width: img.width, height: img.height, channels: 4 } }).png().toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.length);
}

/** Draws labelled boxes on the image and writes a PNG (to a temporary name, then renamed). */
export async function annotateImage(input: ImageSource, boxes: readonly LabelledBox[], out: string): Promise<void> {
  const png = await annotatedPng(input, boxes);
  const { rename, unlink, writeFile } = await import('node:fs/promises');
  const tmp = `${out}.tmp-${process.pid}.png`;
  try {
    await writeFile(tmp, png);
    await rename(tmp, out);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
