/**
 * JSON Schema (draft-07) fragments for what `run --json` says about image preprocessing:
 * `data.preprocessing` = describeSpec(spec) (what every image gets) and, per image result,
 * `preprocessing` = PreprocessedImage.applied (its size, orientation and the steps with their numbers).
 * To be placed in docs/schemas/run-1.schema.json (test/unit/preprocess-spec.test.ts validates real output).
 */
const interpolation = { enum: ['nearest', 'box', 'bilinear', 'hamming', 'bicubic', 'lanczos', 'cv2-linear'] };
const triple = { type: 'array', items: { type: 'number' }, minItems: 3, maxItems: 3 };
const size = { type: 'object', required: ['width', 'height'], additionalProperties: false, properties: { width: { type: 'integer', minimum: 1 }, height: { type: 'integer', minimum: 1 } } };
const int0 = { type: 'integer' };

export const SPEC_DESCRIPTION_SCHEMA = {
  type: 'object',
  required: ['source', 'interpolation', 'antialias', 'rescale', 'mean', 'std', 'channelOrder', 'layout', 'exifOrientation'],
  additionalProperties: false,
  properties: {
    source: { type: 'string' },
    resize: {
      anyOf: [
        { type: 'object', required: ['shortestEdge'], additionalProperties: false, properties: { shortestEdge: { type: 'integer', minimum: 1 } } },
        size,
      ],
    },
    centerCrop: { type: 'object', required: ['width', 'height', 'rounding'], additionalProperties: false, properties: { width: { type: 'integer', minimum: 1 }, height: { type: 'integer', minimum: 1 }, rounding: { enum: ['torchvision', 'transformers'] } } },
    letterbox: { type: 'object', required: ['width', 'height', 'pad'], additionalProperties: false, properties: { width: { type: 'integer', minimum: 1 }, height: { type: 'integer', minimum: 1 }, pad: { type: 'integer', minimum: 0, maximum: 255 } } },
    interpolation,
    antialias: { type: 'boolean' },
    rescale: { type: 'number' },
    mean: triple,
    std: triple,
    channelOrder: { enum: ['rgb', 'bgr'] },
    layout: { enum: ['nchw', 'nhwc'] },
    exifOrientation: { type: 'boolean' },
  },
} as const;

export const APPLIED_SCHEMA = {
  type: 'object',
  required: ['source', 'decoded', 'steps', 'channelOrder', 'layout', 'shape'],
  additionalProperties: false,
  properties: {
    source: { type: 'string' },
    decoded: { type: 'object', required: ['width', 'height', 'orientation', 'upright'], additionalProperties: false, properties: { width: { type: 'integer' }, height: { type: 'integer' }, orientation: { type: 'integer', minimum: 1, maximum: 8 }, upright: size } },
    steps: {
      type: 'array',
      items: {
        anyOf: [
          { type: 'object', required: ['op', 'exifOrientation'], additionalProperties: false, properties: { op: { const: 'orient' }, exifOrientation: { type: 'integer', minimum: 1, maximum: 8 } } },
          { type: 'object', required: ['op', 'width', 'height', 'interpolation', 'antialias'], additionalProperties: false, properties: { op: { const: 'resize' }, width: { type: 'integer', minimum: 1 }, height: { type: 'integer', minimum: 1 }, interpolation, antialias: { type: 'boolean' } } },
          { type: 'object', required: ['op', 'left', 'top', 'width', 'height'], additionalProperties: false, properties: { op: { const: 'crop' }, left: int0, top: int0, width: { type: 'integer', minimum: 1 }, height: { type: 'integer', minimum: 1 } } },
          { type: 'object', required: ['op', 'width', 'height', 'left', 'top', 'pad'], additionalProperties: false, properties: { op: { const: 'letterbox' }, width: { type: 'integer', minimum: 1 }, height: { type: 'integer', minimum: 1 }, left: int0, top: int0, pad: { type: 'integer', minimum: 0, maximum: 255 } } },
          { type: 'object', required: ['op', 'factor'], additionalProperties: false, properties: { op: { const: 'rescale' }, factor: { type: 'number' } } },
          { type: 'object', required: ['op', 'mean', 'std'], additionalProperties: false, properties: { op: { const: 'normalize' }, mean: triple, std: triple } },
        ],
      },
    },
    channelOrder: { enum: ['rgb', 'bgr'] },
    layout: { enum: ['nchw', 'nhwc'] },
    shape: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 3, maxItems: 3 },
  },
} as const;
