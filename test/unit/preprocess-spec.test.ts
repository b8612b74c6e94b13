/**
 * The spec a run picks for each image task (preprocessor_config.json > catalog > the task's reference
 * default, then --mean/--std), and the JSON it reports, validated against the schema fragments.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { UsageError } from '../../src/core/errors.js';
import { imageSpecFor } from '../../src/core/tasks/image-spec.js';
import { CLIP_MEAN, IMAGENET_MEAN, clipSpec, describeSpec, preprocessImage, torchvisionSpec, yoloLetterboxSpec, type ImageSpec } from '../../src/core/tasks/preprocess.js';
import { APPLIED_SCHEMA, SPEC_DESCRIPTION_SCHEMA } from '../../src/core/tasks/preprocess-schema.js';

const catalog = JSON.parse(readFileSync(fileURLToPath(new URL('../../catalog/models.json', import.meta.url)), 'utf8')) as { models: { alias: string; preprocess?: Record<string, unknown> }[] };
const pre = (alias: string): Record<string, unknown> => catalog.models.find((m) => m.alias === alias)!.preprocess!;
const noCrop = (s: ImageSpec): ImageSpec => {
  const { crop: _, ...rest } = s;
  return rest;
};
const FIX = fileURLToPath(new URL('../fixtures/preprocess/', import.meta.url));
const noSource = <T extends { source?: string }>(s: T): Omit<T, 'source'> => {
  const { source: _, ...rest } = s;
  return rest;
};

test('catalog entries: mobilenetv2/resnet50 get torchvision\'s transform, CLIP bicubic + crop, YOLO the letterbox', () => {
  const mobilenet = imageSpecFor({ task: 'image-classification', layout: 'nchw', width: 224, height: 224, catalog: pre('mobilenetv2') });
  assert.deepEqual(noSource(mobilenet), noSource(torchvisionSpec({ width: 224, height: 224, layout: 'nchw' })));
  assert.match(mobilenet.source!, /^catalog/);
  const clip = imageSpecFor({ task: 'zero-shot-image-classification', layout: 'nchw', width: 224, height: 224, catalog: pre('clip-vit-b32') });
  assert.deepEqual(noSource(clip), noSource(clipSpec({ width: 224, height: 224, layout: 'nchw' })));
  const yolo = imageSpecFor({ task: 'object-detection', layout: 'nchw', width: 640, height: 640, catalog: pre('yolov8n') });
  assert.deepEqual(noSource(yolo), noSource(yoloLetterboxSpec({ width: 640, height: 640, layout: 'nchw' })));
  // A model with dynamic size run at --size 160: the resize keeps the catalog's 256/224 ratio.
  assert.deepEqual(imageSpecFor({ task: 'image-classification', layout: 'nhwc', width: 160, height: 160, catalog: pre('resnet50') }).resize, { shortest: 183 });
});

test('no catalog entry: the task\'s reference default; flags override mean/std; a config wins over the catalog', () => {
  const plain = imageSpecFor({ task: 'image-classification', layout: 'nchw', width: 224, height: 224 });
  assert.deepEqual(plain, torchvisionSpec({ width: 224, height: 224, layout: 'nchw' }));
  const flagged = imageSpecFor({ task: 'image-classification', layout: 'nchw', width: 224, height: 224, flags: { mean: [0.5, 0.5, 0.5] } });
  assert.deepEqual([flagged.mean, flagged.std], [[0.5, 0.5, 0.5], torchvisionSpec({ width: 224, height: 224, layout: 'nchw' }).std]);
  assert.match(flagged.source!, /--mean/);
  const cfg = imageSpecFor({ task: 'zero-shot-image-classification', layout: 'nchw', width: 224, height: 224, catalog: { resize: 224, crop: 224, interpolation: 'bilinear' }, preprocessorConfig: { image_processor_type: 'CLIPImageProcessor', size: { shortest_edge: 224 }, crop_size: 224 }, preprocessorConfigFile: 'x/preprocessor_config.json' });
  assert.equal(cfg.interpolation, 'bicubic');
  assert.deepEqual(cfg.mean, CLIP_MEAN);
  assert.equal(cfg.source, 'x/preprocessor_config.json (CLIPImageProcessor)');
  assert.throws(() => imageSpecFor({ task: 'image-classification', layout: 'nchw', width: 224, height: 224, preprocessorConfig: { crop_size: 256, size: { shortest_edge: 256 } } }), (e: unknown) => e instanceof UsageError && /256×256/.test(e.message));
  assert.deepEqual(imageSpecFor({ task: 'image-classification', layout: 'nchw', width: 8, height: 8, catalog: { color: 'BGR' } }).channelOrder, 'bgr');
  assert.deepEqual(IMAGENET_MEAN, plain.mean);
});

test('what run --json would carry validates against the schema fragments, for every image task', async () => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const spec = ajv.compile(SPEC_DESCRIPTION_SCHEMA);
  const applied = ajv.compile(APPLIED_SCHEMA);
  for (const s of [torchvisionSpec({ width: 224, height: 224, layout: 'nchw' }), clipSpec({ width: 224, height: 224, layout: 'nhwc' }), yoloLetterboxSpec({ width: 320, height: 320, layout: 'nchw' }), { ...noCrop(torchvisionSpec({ width: 224, height: 224, layout: 'nchw' })), resize: { width: 224, height: 224 } }]) {
    const d = JSON.parse(JSON.stringify(describeSpec(s))) as unknown;
    assert.ok(spec(d), ajv.errorsText(spec.errors));
    for (const f of ['exif6.jpg', 'tiny.png']) {
      const r = await preprocessImage(join(FIX, f), s);
      assert.ok(applied(JSON.parse(JSON.stringify(r.applied))), `${f}: ${ajv.errorsText(applied.errors)}`);
    }
  }
  assert.equal(spec({ ...describeSpec(torchvisionSpec({ width: 2, height: 2, layout: 'nchw' })), interpolation: 'spline' }), false);
});
