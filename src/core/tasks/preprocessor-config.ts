/**
 * A Hub model's preprocessor_config.json (transformers' image processors) read into an ImageSpec, with
 * the defaults each processor class applies when a key is absent. Semantics follow the slow (PIL-based)
 * processors: BaseImageProcessor.resize → PIL resize with `resample`, center_crop with (size - crop) // 2,
 * rescale, normalize. ConvNextImageProcessor's crop_pct rule is reproduced.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NotFoundError, UsageError } from '../errors.js';
import { CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD, type ImageSpec, type Interpolation, type Layout } from './preprocess.js';

/** PIL's resampling codes (Image.Resampling): what `resample` holds. */
export const PIL_RESAMPLE: Readonly<Record<number, Interpolation>> = Object.freeze({ 0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'box', 5: 'hamming' });

interface ClassDefaults {
  resample: number;
  mean: readonly number[];
  std: readonly number[];
  /** An integer `size` means the shortest edge (get_size_dict(default_to_square=False)), else a square. */
  intSizeIsShortestEdge: boolean;
}

const HALF = [0.5, 0.5, 0.5] as const;
/** Per processor class, from its __init__ defaults (transformers 4.4x). Unknown classes: BaseImageProcessor-like. */
const CLASS_DEFAULTS: Record<string, ClassDefaults> = {
  CLIPImageProcessor: { resample: 3, mean: CLIP_MEAN, std: CLIP_STD, intSizeIsShortestEdge: true },
  CLIPFeatureExtractor: { resample: 3, mean: CLIP_MEAN, std: CLIP_STD, intSizeIsShortestEdge: true },
  ChineseCLIPImageProcessor: { resample: 3, mean: CLIP_MEAN, std: CLIP_STD, intSizeIsShortestEdge: true },
  ViTImageProcessor: { resample: 2, mean: HALF, std: HALF, intSizeIsShortestEdge: false },
  ViTFeatureExtractor: { resample: 2, mean: HALF, std: HALF, intSizeIsShortestEdge: false },
  SiglipImageProcessor: { resample: 3, mean: HALF, std: HALF, intSizeIsShortestEdge: false },
  DeiTImageProcessor: { resample: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD, intSizeIsShortestEdge: false },
  BeitImageProcessor: { resample: 3, mean: HALF, std: HALF, intSizeIsShortestEdge: false },
  ConvNextImageProcessor: { resample: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD, intSizeIsShortestEdge: true },
  ConvNextFeatureExtractor: { resample: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD, intSizeIsShortestEdge: true },
  MobileNetV1ImageProcessor: { resample: 2, mean: HALF, std: HALF, intSizeIsShortestEdge: true },
  MobileNetV2ImageProcessor: { resample: 2, mean: HALF, std: HALF, intSizeIsShortestEdge: true },
  BitImageProcessor: { resample: 3, mean: CLIP_MEAN, std: CLIP_STD, intSizeIsShortestEdge: true },
  EfficientNetImageProcessor: { resample: 0, mean: IMAGENET_MEAN, std: IMAGENET_STD, intSizeIsShortestEdge: false },
};
const BASE: ClassDefaults = { resample: 2, mean: HALF, std: HALF, intSizeIsShortestEdge: false };

function bad(file: string, why: string): never {
  throw new UsageError(`${file}: ${why}`, 'an image processor config has size, crop_size, resample, image_mean and image_std as transformers writes them');
}

function positiveInt(file: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) bad(file, `${key} is ${JSON.stringify(v)}, not a positive integer`);
  return v;
}

function triple(file: string, key: string, v: unknown, fallback: readonly number[]): readonly number[] {
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number' && Number.isFinite(v)) return [v, v, v];
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) return v as number[];
  return bad(file, `${key} is ${JSON.stringify(v)}, not 3 numbers`);
}

function hw(file: string, key: string, v: unknown, intIsShortest: boolean): { shortest: number } | { width: number; height: number } {
  if (typeof v === 'number') return intIsShortest ? { shortest: positiveInt(file, key, v) } : { width: positiveInt(file, key, v), height: v };
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if ('longest_edge' in o || 'max_height' in o) bad(file, `${key} ${JSON.stringify(v)}: resizing to a longest edge (DETR-style) is not supported`);
    if ('shortest_edge' in o) return { shortest: positiveInt(file, `${key}.shortest_edge`, o['shortest_edge']) };
    if ('height' in o || 'width' in o) return { width: positiveInt(file, `${key}.width`, o['width']), height: positiveInt(file, `${key}.height`, o['height']) };
  }
  return bad(file, `${key} is ${JSON.stringify(v)}`);
}

/**
 * The ImageSpec a preprocessor_config.json describes. `layout` comes from the model's input; `input` (its
 * fixed height and width, when it has them) fills a missing size and is checked against the result.
 */
export function specFromPreprocessorConfig(config: unknown, o: { layout: Layout; input?: { width: number; height: number }; file?: string }): ImageSpec {
  const file = o.file ?? 'preprocessor_config.json';
  if (typeof config !== 'object' || config === null || Array.isArray(config)) bad(file, 'not a JSON object');
  const c = config as Record<string, unknown>;
  const cls = String(c['image_processor_type'] ?? c['feature_extractor_type'] ?? 'BaseImageProcessor');
  const d = CLASS_DEFAULTS[cls] ?? BASE;
  const resampleCode = c['resample'] ?? d.resample;
  const interpolation = typeof resampleCode === 'number' ? PIL_RESAMPLE[resampleCode] : undefined;
  if (!interpolation) bad(file, `resample ${JSON.stringify(resampleCode)} is not a PIL resampling code (0–5)`);
  const spec: ImageSpec = {
    interpolation,
    rescale: c['do_rescale'] === false ? 1 : typeof c['rescale_factor'] === 'number' ? c['rescale_factor'] : 1 / 255,
    mean: c['do_normalize'] === false ? [0, 0, 0] : triple(file, 'image_mean', c['image_mean'], d.mean),
    std: c['do_normalize'] === false ? [1, 1, 1] : triple(file, 'image_std', c['image_std'], d.std),
    layout: o.layout,
    channelOrder: 'rgb',
    source: `${file} (${cls})`,
  };
  if (c['do_resize'] !== false) {
    const size = c['size'] !== undefined ? hw(file, 'size', c['size'], d.intSizeIsShortestEdge) : o.input ? { ...o.input } : bad(file, 'no size, and the model input has no fixed size');
    if (cls.startsWith('ConvNext') && 'shortest' in size) {
      // ConvNextImageProcessor: below 384, resize the shortest edge to size / crop_pct, then crop size × size.
      const cropPct = typeof c['crop_pct'] === 'number' ? c['crop_pct'] : 224 / 256;
      if (size.shortest < 384) {
        spec.resize = { shortest: Math.trunc(size.shortest / cropPct) };
        spec.crop = { width: size.shortest, height: size.shortest, rounding: 'transformers' };
      } else spec.resize = { width: size.shortest, height: size.shortest };
    } else spec.resize = size;
  }
  const crop = c['crop_size'];
  if (!spec.crop && (c['do_center_crop'] ?? crop !== undefined) === true) {
    if (crop === undefined) bad(file, 'do_center_crop without crop_size');
    const cs = hw(file, 'crop_size', crop, false);
    if ('shortest' in cs) bad(file, 'crop_size needs height and width');
    spec.crop = { ...cs, rounding: 'transformers' };
  }
  const out = specOutputSize(spec);
  if (o.input && out && (out.width !== o.input.width || out.height !== o.input.height)) {
    bad(file, `gives ${out.width}×${out.height} images; the model takes ${o.input.width}×${o.input.height}`);
  }
  return spec;
}

/** The tensor's width×height a spec gives for every image, or undefined when it follows the image (shortest edge, no crop). */
export function specOutputSize(spec: ImageSpec): { width: number; height: number } | undefined {
  if (spec.letterbox) return { width: spec.letterbox.width, height: spec.letterbox.height };
  if (spec.crop) return { width: spec.crop.width, height: spec.crop.height };
  if (spec.resize && !('shortest' in spec.resize)) return { width: spec.resize.width, height: spec.resize.height };
  return undefined;
}

/** Reads and interprets a preprocessor_config.json file. */
export async function readPreprocessorConfig(path: string, o: { layout: Layout; input?: { width: number; height: number } }): Promise<ImageSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`${path} not found`);
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  return specFromPreprocessorConfig(json, { ...o, file: path });
}

/**
 * preprocessor_config.json beside a model file or one directory up (a Hub snapshot keeps the model in
 * onnx/ and the config at the root); undefined when there is none.
 */
export async function findPreprocessorConfig(modelPath: string): Promise<string | undefined> {
  const here = dirname(modelPath);
  for (const dir of [here, dirname(here)]) {
    const p = join(dir, 'preprocessor_config.json');
    if (await stat(p).then((s) => s.isFile(), () => false)) return p;
  }
  return undefined;
}
