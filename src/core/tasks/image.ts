/**
 * Image preprocessing for vision models: decode (sharp), resize the shorter side, centre-crop,
 * scale to [0, 1], normalise per channel, lay out as NCHW or NHWC float32.
 */
import { UsageError } from '../errors.js';

/** ImageNet statistics (torchvision's), the default for classification models. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

export interface ImagePreprocess {
  width: number;
  height: number;
  layout: 'nchw' | 'nhwc';
  mean: readonly number[];
  std: readonly number[];
  /** Shorter side before the centre crop, as a multiple of the crop (256/224 for ImageNet). */
  resizeRatio: number;
}

export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp'];

type Sharp = typeof import('sharp');
let sharpModule: Promise<Sharp> | undefined;
function loadSharp(): Promise<Sharp> {
  sharpModule ??= import('sharp').then((m) => (m as unknown as { default: Sharp }).default ?? m);
  return sharpModule;
}

/** Decodes and preprocesses one image into a [1, 3, H, W] (or [1, H, W, 3]) float32 tensor's values. */
export async function imageToTensor(path: string, p: ImagePreprocess): Promise<Float32Array> {
  const sharp = await loadSharp();
  const shorter = Math.round(Math.min(p.width, p.height) * p.resizeRatio);
  let pixels: Buffer;
  try {
    pixels = await sharp(path)
      .rotate() // honour EXIF orientation
      .removeAlpha()
      .toColourspace('srgb')
      .resize({ width: shorter, height: shorter, fit: 'outside' })
      .resize({ width: p.width, height: p.height, fit: 'cover', position: 'centre' })
      .raw()
      .toBuffer();
  } catch (err) {
    throw new UsageError(`cannot read image ${path}: ${(err as Error).message.split('\n')[0] ?? ''}`, 'give a JPEG, PNG, WebP, GIF, TIFF or AVIF file');
  }
  const plane = p.width * p.height;
  const out = new Float32Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = (pixels[i * 3 + c]! / 255 - (p.mean[c] ?? 0)) / (p.std[c] ?? 1);
      out[p.layout === 'nchw' ? c * plane + i : i * 3 + c] = v;
    }
  }
  return out;
}

/** The layout and size an image input expects, from its shape ([N,3,H,W] or [N,H,W,3]). */
export function imageLayout(shape: readonly (number | string)[]): { layout: 'nchw' | 'nhwc'; width: number; height: number } | undefined {
  if (shape.length !== 4) return undefined;
  const [, a, b, c] = shape;
  if (a === 3 && typeof b === 'number' && typeof c === 'number') return { layout: 'nchw', height: b, width: c };
  if (c === 3 && typeof a === 'number' && typeof b === 'number') return { layout: 'nhwc', height: a, width: b };
  return undefined;
}
