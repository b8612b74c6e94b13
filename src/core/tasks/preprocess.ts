/**
 * Image preprocessing as an explicit spec: decode (sharp), EXIF orientation, resize, centre crop or
 * letterbox, rescale, normalise, channel order, layout. Every step reproduces a reference byte for byte:
 * - torchvision's evaluation transform on PIL images (Resize(256) → CenterCrop(224) → ToTensor →
 *   Normalize), which published ImageNet accuracies assume;
 * - transformers' (slow, PIL-based) image processors (CLIPImageProcessor, ViTImageProcessor, …), read from
 *   a model's preprocessor_config.json (see preprocessor-config.ts);
 * - ultralytics' LetterBox (cv2 INTER_LINEAR, grey 114, centred with round(d ∓ 0.1)).
 * Resampling is done here (resample.ts) on sharp's decoded pixels, because sharp's own kernels differ
 * from Pillow's and OpenCV's, and because sharp applies only the last `resize` of a pipeline.
 *
 * EXIF orientation: applied (the pixels are turned upright before anything else). torchvision and
 * transformers do not do this themselves, but a photo from a phone is stored sideways with an
 * orientation tag; a model sees the upright photo, as a person does. `exifOrientation: false` turns it off.
 */
import { UsageError } from '../errors.js';
import { resizeCv2Linear, resizePil, roundHalfEven, type PilFilter } from './resample.js';

export type Interpolation = PilFilter | 'cv2-linear';
export type Layout = 'nchw' | 'nhwc';
export type ChannelOrder = 'rgb' | 'bgr';
/** torchvision: int(round((size - crop) / 2)); transformers: (size - crop) // 2. */
export type CropRounding = 'torchvision' | 'transformers';

export interface ImageSpec {
  /** Shorter side to `shortest` keeping the aspect (long side truncated, as torchvision/transformers do), or a fixed size. */
  resize?: { shortest: number } | { width: number; height: number };
  /** Centre crop after the resize; pads with 0 where the image is smaller. */
  crop?: { width: number; height: number; rounding: CropRounding };
  /** Fit inside width×height keeping the aspect, pad the rest (exclusive with resize/crop). */
  letterbox?: { width: number; height: number; pad: number };
  interpolation: Interpolation;
  /** Multiplies the 0–255 values (1/255); 1 for models that take 0–255. */
  rescale: number;
  mean: readonly number[];
  std: readonly number[];
  layout: Layout;
  channelOrder: ChannelOrder;
  /** Default true. */
  exifOrientation?: boolean;
  /** Where the spec came from, for the report: 'catalog', 'preprocessor_config.json (CLIPImageProcessor)', 'flags', 'default'. */
  source?: string;
}

export interface LetterboxGeometry {
  /** Scale from the original image to the letterboxed content (ultralytics' gain). */
  scale: number;
  padX: number;
  padY: number;
  /** The original (upright) image's size. */
  width: number;
  height: number;
}

/** What was applied to one image: plain data, for `run --json`. */
export interface AppliedPreprocessing {
  source: string;
  decoded: { width: number; height: number; orientation: number; upright: { width: number; height: number } };
  steps: (
    | { op: 'orient'; exifOrientation: number }
    | { op: 'resize'; width: number; height: number; interpolation: Interpolation; antialias: boolean }
    | { op: 'crop'; left: number; top: number; width: number; height: number }
    | { op: 'letterbox'; width: number; height: number; left: number; top: number; pad: number }
    | { op: 'rescale'; factor: number }
    | { op: 'normalize'; mean: number[]; std: number[] }
  )[];
  channelOrder: ChannelOrder;
  layout: Layout;
  /** Per image, without the batch axis: [3, H, W] or [H, W, 3]. */
  shape: number[];
}

export interface PreprocessedImage {
  data: Float32Array;
  width: number;
  height: number;
  applied: AppliedPreprocessing;
  letterbox?: LetterboxGeometry;
}

export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];
export const CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** Shorter side to `shortest`, centre crop to the input, ÷255, mean/std, RGB: the classifier transform. */
function resizeCropSpec(o: { width: number; height: number; layout: Layout; shortest: number; rounding: CropRounding; interpolation: Interpolation; mean: readonly number[]; std: readonly number[]; source: string }): ImageSpec {
  const { width, height, layout, shortest, rounding, interpolation, mean, std, source } = o;
  return { resize: { shortest }, crop: { width, height, rounding }, interpolation, rescale: 1 / 255, mean, std, layout, channelOrder: 'rgb', source };
}

/** torchvision's ImageNet evaluation transform: Resize(256 of 224) bilinear (antialiased on PIL), CenterCrop(224). */
export function torchvisionSpec(o: { width: number; height: number; layout: Layout; resize?: number; mean?: readonly number[]; std?: readonly number[]; interpolation?: Interpolation; source?: string }): ImageSpec {
  return resizeCropSpec({
    ...o,
    shortest: o.resize ?? Math.round((Math.min(o.width, o.height) * 256) / 224),
    rounding: 'torchvision',
    interpolation: o.interpolation ?? 'bilinear',
    mean: o.mean ?? IMAGENET_MEAN,
    std: o.std ?? IMAGENET_STD,
    source: o.source ?? 'default (torchvision ImageNet evaluation transform)',
  });
}

/** CLIPImageProcessor's defaults: shortest edge to the input side, bicubic, centre crop, CLIP mean/std. */
export function clipSpec(o: { width: number; height: number; layout: Layout; mean?: readonly number[]; std?: readonly number[]; source?: string }): ImageSpec {
  return resizeCropSpec({ ...o, shortest: Math.min(o.width, o.height), rounding: 'transformers', interpolation: 'bicubic', mean: o.mean ?? CLIP_MEAN, std: o.std ?? CLIP_STD, source: o.source ?? 'default (CLIPImageProcessor)' });
}

/** ultralytics' LetterBox for YOLOv8: fit, cv2 INTER_LINEAR, grey 114, ÷255, no mean/std. */
export function yoloLetterboxSpec(o: { width: number; height: number; layout: Layout; pad?: number; source?: string }): ImageSpec {
  return {
    letterbox: { width: o.width, height: o.height, pad: o.pad ?? 114 },
    interpolation: 'cv2-linear',
    rescale: 1 / 255,
    mean: [0, 0, 0],
    std: [1, 1, 1],
    layout: o.layout,
    channelOrder: 'rgb',
    source: o.source ?? 'default (ultralytics LetterBox)',
  };
}

type Sharp = typeof import('sharp');
let sharpModule: Promise<Sharp> | undefined;
export function loadSharp(): Promise<Sharp> {
  sharpModule ??= import('sharp').then((m) => (m as unknown as { default: Sharp }).default ?? m);
  return sharpModule;
}

export type ImageSource = string | Uint8Array;

function describeSource(input: ImageSource): string {
  return typeof input === 'string' ? input : `(${input.byteLength} bytes)`;
}

export function unreadable(input: ImageSource, err: unknown): UsageError {
  const first = (err as Error).message.split('\n')[0] ?? '';
  return new UsageError(`cannot read image ${describeSource(input)}: ${first}`, 'give a JPEG, PNG, WebP, GIF, TIFF or AVIF file');
}

export interface DecodedImage {
  /** Interleaved RGB, upright when oriented. */
  pixels: Uint8Array;
  width: number;
  height: number;
  /** The EXIF orientation tag (1 when none) and the stored size before orientation. */
  orientation: number;
  stored: { width: number; height: number };
}

/** Decodes to 8-bit sRGB RGB (alpha dropped, as PIL's convert('RGB') does), upright unless told not to. */
export async function decodeRgb(input: ImageSource, exifOrientation = true): Promise<DecodedImage> {
  const sharp = await loadSharp();
  const src = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  try {
    const meta = await sharp(src).metadata();
    let img = sharp(src);
    if (exifOrientation) img = img.rotate();
    const { data, info } = await img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) throw new Error(`decoded to ${info.channels} channels, ${data.length} bytes`);
    return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, orientation: meta.orientation ?? 1, stored: { width: meta.width ?? info.width, height: meta.height ?? info.height } };
  } catch (err) {
    throw unreadable(input, err);
  }
}

/** torchvision's / transformers' output size for a shortest-edge resize: the long side truncated. */
export function shortestEdgeSize(width: number, height: number, shortest: number): { width: number; height: number } {
  if (width <= height) return { width: shortest, height: Math.trunc((shortest * height) / width) };
  return { width: Math.trunc((shortest * width) / height), height: shortest };
}

/** Left/top of a centre crop of `crop` out of `size` (negative: the crop is larger and padded). */
export function cropOffset(size: number, crop: number, rounding: CropRounding): number {
  const d = size - crop;
  if (rounding === 'transformers') return Math.floor(d / 2);
  // torchvision pads (crop - size) // 2 on the left first, then crops int(round(...)) of the rest.
  if (d < 0) return -Math.floor(-d / 2);
  return roundHalfEven(d / 2);
}

/** ultralytics LetterBox geometry: new size round(w·r), round(h·r), padding round(d/2 ∓ 0.1). */
export function letterboxGeometry(width: number, height: number, box: { width: number; height: number }): { scale: number; w: number; h: number; left: number; top: number } {
  const scale = Math.min(box.height / height, box.width / width);
  const w = Math.max(1, roundHalfEven(width * scale));
  const h = Math.max(1, roundHalfEven(height * scale));
  const dw = (box.width - w) / 2;
  const dh = (box.height - h) / 2;
  return { scale, w, h, left: roundHalfEven(dw - 0.1), top: roundHalfEven(dh - 0.1) };
}

function resize(src: Uint8Array, sw: number, sh: number, dw: number, dh: number, interpolation: Interpolation, win?: { x0: number; y0: number; x1: number; y1: number }): Uint8Array {
  if (interpolation === 'cv2-linear') {
    const full = resizeCv2Linear(src, sw, sh, dw, dh);
    if (!win || (win.x0 === 0 && win.y0 === 0 && win.x1 === dw && win.y1 === dh)) return full;
    const ow = win.x1 - win.x0;
    const out = new Uint8Array(ow * (win.y1 - win.y0) * 3);
    for (let y = win.y0; y < win.y1; y++) out.set(full.subarray((y * dw + win.x0) * 3, (y * dw + win.x1) * 3), (y - win.y0) * ow * 3);
    return out;
  }
  return resizePil(src, sw, sh, dw, dh, interpolation, win);
}

/**
 * The spec's 8-bit RGB result before rescale/normalise (what the references store), plus its geometry.
 * Exposed for tests and for callers that want the pixels.
 */
export async function preprocessPixels(input: ImageSource, spec: ImageSpec): Promise<{ pixels: Uint8Array; width: number; height: number; decoded: DecodedImage; steps: AppliedPreprocessing['steps']; letterbox?: LetterboxGeometry }> {
  const decoded = await decodeRgb(input, spec.exifOrientation ?? true);
  const { width: W, height: H, pixels: src } = decoded;
  const steps: AppliedPreprocessing['steps'] = [];
  if ((spec.exifOrientation ?? true) && decoded.orientation !== 1) steps.push({ op: 'orient', exifOrientation: decoded.orientation });
  const antialias = spec.interpolation !== 'nearest' && spec.interpolation !== 'cv2-linear';
  if (spec.letterbox) {
    const lb = spec.letterbox;
    const g = letterboxGeometry(W, H, lb);
    const scaled = g.w === W && g.h === H ? src : resize(src, W, H, g.w, g.h, spec.interpolation);
    if (g.w !== W || g.h !== H) steps.push({ op: 'resize', width: g.w, height: g.h, interpolation: spec.interpolation, antialias: antialias && (g.w < W || g.h < H) });
    const out = new Uint8Array(lb.width * lb.height * 3).fill(lb.pad);
    const w = Math.min(g.w, lb.width - g.left);
    const h = Math.min(g.h, lb.height - g.top);
    for (let y = 0; y < h; y++) out.set(scaled.subarray(y * g.w * 3, (y * g.w + w) * 3), ((y + g.top) * lb.width + g.left) * 3);
    steps.push({ op: 'letterbox', width: lb.width, height: lb.height, left: g.left, top: g.top, pad: lb.pad });
    return { pixels: out, width: lb.width, height: lb.height, decoded, steps, letterbox: { scale: g.scale, padX: g.left, padY: g.top, width: W, height: H } };
  }
  let rw = W;
  let rh = H;
  if (spec.resize) {
    const size = 'shortest' in spec.resize ? shortestEdgeSize(W, H, spec.resize.shortest) : { width: spec.resize.width, height: spec.resize.height };
    rw = size.width;
    rh = size.height;
  }
  const resized = rw !== W || rh !== H;
  if (resized) steps.push({ op: 'resize', width: rw, height: rh, interpolation: spec.interpolation, antialias: antialias && (rw < W || rh < H) });
  if (!spec.crop) return { pixels: resized ? resize(src, W, H, rw, rh, spec.interpolation) : src, width: rw, height: rh, decoded, steps };
  const { width: cw, height: chh } = spec.crop;
  const left = cropOffset(rw, cw, spec.crop.rounding);
  const top = cropOffset(rh, chh, spec.crop.rounding);
  // Only the part of the resized image the crop keeps is computed (same values as the full resize).
  const win = { x0: Math.max(0, left), y0: Math.max(0, top), x1: Math.min(rw, left + cw), y1: Math.min(rh, top + chh) };
  const part = resized ? resize(src, W, H, rw, rh, spec.interpolation, win) : windowOf(src, W, win);
  const out = new Uint8Array(cw * chh * 3);
  const pw = win.x1 - win.x0;
  for (let y = win.y0; y < win.y1; y++) out.set(part.subarray((y - win.y0) * pw * 3, (y - win.y0 + 1) * pw * 3), ((y - top) * cw + (win.x0 - left)) * 3);
  steps.push({ op: 'crop', left, top, width: cw, height: chh });
  return { pixels: out, width: cw, height: chh, decoded, steps };
}

function windowOf(src: Uint8Array, sw: number, win: { x0: number; y0: number; x1: number; y1: number }): Uint8Array {
  const ow = win.x1 - win.x0;
  const out = new Uint8Array(ow * (win.y1 - win.y0) * 3);
  for (let y = win.y0; y < win.y1; y++) out.set(src.subarray((y * sw + win.x0) * 3, (y * sw + win.x1) * 3), (y - win.y0) * ow * 3);
  return out;
}

/**
 * Rescale and normalise in float32 as torchvision (ToTensor: x / 255; Normalize: (x - m) / s) and
 * numpy float32 (transformers: x · factor in float64 → float32, then (x - m) / s) do: every step
 * rounded to float32, which for factor 1/255 gives the same values in both.
 */
export function toTensor(pixels: Uint8Array, width: number, height: number, spec: Pick<ImageSpec, 'rescale' | 'mean' | 'std' | 'layout' | 'channelOrder'>): Float32Array {
  const plane = width * height;
  const out = new Float32Array(plane * 3);
  const f = Math.fround;
  const lut: number[][] = [0, 1, 2].map((c) => {
    const m = f(spec.mean[c] ?? 0);
    const s = f(spec.std[c] ?? 1);
    return Array.from({ length: 256 }, (_, v) => f(f(f(v * spec.rescale) - m) / s));
  });
  const order = spec.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const src = order[c]!;
      const v = lut[src]![pixels[i * 3 + src]!]!;
      out[spec.layout === 'nchw' ? c * plane + i : i * 3 + c] = v;
    }
  }
  return out;
}

/** Decodes and preprocesses one image by the spec: the tensor's values and what was applied. */
export async function preprocessImage(input: ImageSource, spec: ImageSpec): Promise<PreprocessedImage> {
  const r = await preprocessPixels(input, spec);
  const data = toTensor(r.pixels, r.width, r.height, spec);
  const steps = [...r.steps];
  if (spec.rescale !== 1) steps.push({ op: 'rescale', factor: spec.rescale });
  if (spec.mean.some((m) => m !== 0) || spec.std.some((s) => s !== 1)) steps.push({ op: 'normalize', mean: [...spec.mean], std: [...spec.std] });
  const applied: AppliedPreprocessing = {
    source: spec.source ?? 'spec',
    decoded: { width: r.decoded.stored.width, height: r.decoded.stored.height, orientation: r.decoded.orientation, upright: { width: r.decoded.width, height: r.decoded.height } },
    steps,
    channelOrder: spec.channelOrder,
    layout: spec.layout,
    shape: spec.layout === 'nchw' ? [3, r.height, r.width] : [r.height, r.width, 3],
  };
  return { data, width: r.width, height: r.height, applied, ...(r.letterbox ? { letterbox: r.letterbox } : {}) };
}

/** A spec as plain data: `data.preprocessing` in `run --json` (schema: SPEC_DESCRIPTION_SCHEMA). */
export interface SpecDescription {
  source: string;
  resize?: { shortestEdge: number } | { width: number; height: number };
  centerCrop?: { width: number; height: number; rounding: CropRounding };
  letterbox?: { width: number; height: number; pad: number };
  interpolation: Interpolation;
  antialias: boolean;
  rescale: number;
  mean: number[];
  std: number[];
  channelOrder: ChannelOrder;
  layout: Layout;
  exifOrientation: boolean;
}

/** The spec as plain data (run-level part of `--json`: what every image gets). */
export function describeSpec(spec: ImageSpec): SpecDescription {
  return {
    source: spec.source ?? 'spec',
    ...(spec.resize ? { resize: 'shortest' in spec.resize ? { shortestEdge: spec.resize.shortest } : { width: spec.resize.width, height: spec.resize.height } } : {}),
    ...(spec.crop ? { centerCrop: { ...spec.crop } } : {}),
    ...(spec.letterbox ? { letterbox: { ...spec.letterbox } } : {}),
    interpolation: spec.interpolation,
    antialias: spec.interpolation !== 'nearest' && spec.interpolation !== 'cv2-linear',
    rescale: spec.rescale,
    mean: [...spec.mean],
    std: [...spec.std],
    channelOrder: spec.channelOrder,
    layout: spec.layout,
    exifOrientation: spec.exifOrientation ?? true,
  };
}
