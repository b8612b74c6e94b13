/**
 * Which ImageSpec a run uses for an image task, in one place: the model's preprocessor_config.json when
 * it ships one, else the catalog entry's `preprocess`, else the task's reference default (torchvision's
 * ImageNet evaluation transform, CLIPImageProcessor, ultralytics' LetterBox); then --mean/--std.
 */
import { UsageError } from '../errors.js';
import { checkAllocation } from '../memory-budget.js';
import { clipSpec, torchvisionSpec, yoloLetterboxSpec, type ImageSpec, type Interpolation, type Layout } from './preprocess.js';
import { specFromPreprocessorConfig, specOutputSize } from './preprocessor-config.js';

/** catalog/models.json `preprocess` for image models. */
export interface CatalogImagePreprocess {
  resize?: number;
  crop?: number;
  letterbox?: number;
  pad?: number;
  scale?: number;
  mean?: readonly number[];
  std?: readonly number[];
  color?: string;
  interpolation?: Interpolation;
}

export interface ImageSpecRequest {
  task: 'image-classification' | 'zero-shot-image-classification' | 'object-detection';
  /** The model input's layout and the tensor's size (fixed by the model, or from --size). */
  layout: Layout;
  width: number;
  height: number;
  catalog?: CatalogImagePreprocess;
  /** Parsed preprocessor_config.json, and its path for messages. */
  preprocessorConfig?: unknown;
  preprocessorConfigFile?: string;
  flags?: { mean?: readonly number[]; std?: readonly number[] };
}

export function imageSpecFor(req: ImageSpecRequest): ImageSpec {
  const { layout, width, height } = req;
  // One float32 image tensor (the decoded image and its resized copy are of the same order).
  checkAllocation(`a ${width}×${height} image input`, 3 * 4 * width * height, 'give a smaller --size (or a model with a smaller input)');
  let spec: ImageSpec;
  if (req.preprocessorConfig !== undefined && req.task !== 'object-detection') {
    spec = specFromPreprocessorConfig(req.preprocessorConfig, { layout, input: { width, height }, ...(req.preprocessorConfigFile ? { file: req.preprocessorConfigFile } : {}) });
  } else if (req.task === 'object-detection') {
    spec = yoloLetterboxSpec({ width, height, layout, ...(req.catalog?.pad !== undefined ? { pad: req.catalog.pad } : {}), ...(req.catalog ? { source: 'catalog (ultralytics LetterBox)' } : {}) });
  } else {
    const c = req.catalog;
    const base = req.task === 'zero-shot-image-classification' ? clipSpec({ width, height, layout }) : torchvisionSpec({ width, height, layout });
    spec = base;
    if (c) {
      const side = Math.min(width, height);
      spec = {
        ...base,
        ...(c.resize !== undefined ? { resize: { shortest: c.crop ? Math.round((side * c.resize) / c.crop) : c.resize } } : {}),
        ...(c.interpolation ? { interpolation: c.interpolation } : {}),
        ...(c.scale !== undefined ? { rescale: c.scale } : {}),
        ...(c.mean ? { mean: c.mean } : {}),
        ...(c.std ? { std: c.std } : {}),
        source: `catalog (${base.source?.replace(/^default \((.*)\)$/, '$1') ?? ''})`,
      };
    }
  }
  if (req.catalog?.color?.toUpperCase() === 'BGR') spec = { ...spec, channelOrder: 'bgr' };
  if (req.flags?.mean || req.flags?.std) spec = { ...spec, ...(req.flags.mean ? { mean: req.flags.mean } : {}), ...(req.flags.std ? { std: req.flags.std } : {}), source: `${spec.source ?? ''} + --mean/--std` };
  const out = specOutputSize(spec);
  if (out && (out.width !== width || out.height !== height)) throw new UsageError(`preprocessing gives ${out.width}×${out.height} images; the model takes ${width}×${height}`);
  return spec;
}
