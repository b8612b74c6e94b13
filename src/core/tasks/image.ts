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

/** Letterbox (YOLO): fit inside size×size keeping the aspect ratio, pad with grey 114, scale to [0, 1]. */
export async function letterboxTensor(path: string, size: { width: number; height: number }, layout: 'nchw' | 'nhwc', pad = 114): Promise<{ data: Float32Array; letterbox: { scale: number; padX: number; padY: number; width: number; height: number } }> {
  const sharp = await loadSharp();
  let width: number;
  let height: number;
  const img = sharp(path).rotate().removeAlpha().toColourspace('srgb');
  try {
    const meta = await sharp(path).metadata();
    [width, height] = meta.autoOrient ? [meta.autoOrient.width, meta.autoOrient.height] : [meta.width ?? 0, meta.height ?? 0];
    if (!width || !height) throw new Error('no dimensions');
  } catch (err) {
    throw new UsageError(`cannot read image ${path}: ${(err as Error).message.split('\n')[0] ?? ''}`, 'give a JPEG, PNG, WebP, GIF, TIFF or AVIF file');
  }
  const scale = Math.min(size.width / width, size.height / height);
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const padX = Math.floor((size.width - w) / 2);
  const padY = Math.floor((size.height - h) / 2);
  const pixels = await img
    .resize({ width: w, height: h, fit: 'fill' })
    .extend({ left: padX, right: size.width - w - padX, top: padY, bottom: size.height - h - padY, background: { r: pad, g: pad, b: pad } })
    .raw()
    .toBuffer();
  const plane = size.width * size.height;
  const data = new Float32Array(plane * 3);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) data[layout === 'nchw' ? c * plane + i : i * 3 + c] = pixels[i * 3 + c]! / 255;
  return { data, letterbox: { scale: w / width, padX, padY, width, height } };
}

const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45', '#fabed4', '#469990', '#dcbeff', '#9a6324'];

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

/** Draws labelled boxes on the image and writes a PNG (to a temporary name, then renamed). */
export async function annotateImage(path: string, boxes: readonly { box: readonly number[]; text: string; classId: number }[], out: string): Promise<void> {
  const sharp = await loadSharp();
  const base = sharp(path).rotate();
  const meta = await base.clone().metadata();
  const [width, height] = meta.autoOrient ? [meta.autoOrient.width, meta.autoOrient.height] : [meta.width ?? 1, meta.height ?? 1];
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 200));
  const font = Math.max(12, Math.round(Math.min(width, height) / 40));
  const shapes = boxes.map(({ box, text, classId }) => {
    const [x1, y1, x2, y2] = box as [number, number, number, number];
    const color = PALETTE[classId % PALETTE.length]!;
    const ty = y1 > font + 4 ? y1 - 4 : y1 + font + 2;
    return `<rect x="${x1}" y="${y1}" width="${Math.max(1, x2 - x1)}" height="${Math.max(1, y2 - y1)}" fill="none" stroke="${color}" stroke-width="${stroke}"/>` +
      `<text x="${x1 + 2}" y="${ty}" font-family="sans-serif" font-size="${font}" fill="${color}" stroke="black" stroke-width="0.5">${escapeXml(text)}</text>`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes.join('')}</svg>`;
  const { rename, unlink } = await import('node:fs/promises');
  const tmp = `${out}.tmp-${process.pid}.png`;
  try {
    await base.composite([{ input: Buffer.from(svg), top: 0, left: 0 }]).png().toFile(tmp);
    await rename(tmp, out);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
