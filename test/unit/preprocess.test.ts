/**
 * Image preprocessing against independent references (scripts/reference/preprocess_reference.py):
 * torchvision's evaluation transform and transformers' image processors computed with Pillow + numpy,
 * ultralytics' letterbox with OpenCV. Every value is compared, for a landscape JPEG photo, a portrait
 * PNG, a 7×5 image, a JPEG stored sideways (EXIF orientation 6) and an RGBA PNG; the run of a
 * MobileNetV2 (seeded weights) on the photo gives the reference tensor's top-5.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { test, after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { parseNpy } from '../../src/core/bench/inputs.js';
import { openSession } from '../../src/core/backends/registry.js';
import { CPU_TARGET } from '../../src/core/backends/ep-map.js';
import { NotFoundError, UsageError } from '../../src/core/errors.js';
import { buildMobilenetV2 } from '../../src/core/models/embedded.js';
import { topK } from '../../src/core/tasks/classification.js';
import { IMAGENET_MEAN, IMAGENET_STD, imageToTensor, letterboxTensor } from '../../src/core/tasks/image.js';
import { clipSpec, cropOffset, describeSpec, letterboxGeometry, preprocessImage, preprocessPixels, shortestEdgeSize, torchvisionSpec, toTensor, yoloLetterboxSpec, type ImageSpec } from '../../src/core/tasks/preprocess.js';
import { PIL_RESAMPLE, findPreprocessorConfig, readPreprocessorConfig, specFromPreprocessorConfig } from '../../src/core/tasks/preprocessor-config.js';
import { resizePil } from '../../src/core/tasks/resample.js';

const FIX = fileURLToPath(new URL('../fixtures/preprocess/', import.meta.url));
interface Reference {
  cases: Record<string, { file: string; size: [number, number]; yolo320: { scale: number; padX: number; padY: number }; yolo640?: { scale: number; padX: number; padY: number } }>;
  tensors: Record<string, { sha256: string; shape: number[]; dtype: string }>;
}
const REF = JSON.parse(readFileSync(join(FIX, 'reference.json'), 'utf8')) as Reference;
const tmp = mkdtempSync(join(os.tmpdir(), 'aivmm-pre-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function stored(name: string): Uint8Array | Float32Array {
  return parseNpy(new Uint8Array(gunzipSync(readFileSync(join(FIX, `${name}.npy.gz`)))), name).data as Uint8Array | Float32Array;
}

/** Element by element against the stored array when there is one, else against the reference's sha256. */
function assertSame(name: string, got: Uint8Array | Float32Array): void {
  const ref = REF.tensors[name];
  assert.ok(ref, `no reference for ${name}`);
  const n = ref.shape.reduce((a, b) => a * b, 1);
  assert.equal(got.length, n, `${name}: ${got.length} values, the reference has ${n} (${ref.shape.join('×')})`);
  let full: Uint8Array | Float32Array | undefined;
  try {
    full = stored(name);
  } catch {
    full = undefined;
  }
  if (full) {
    let max = 0;
    let sum = 0;
    let at = -1;
    for (let i = 0; i < n; i++) {
      const d = Math.abs(got[i]! - full[i]!);
      sum += d;
      if (d > max) [max, at] = [d, i];
    }
    assert.equal(max, 0, `${name}: max |Δ| ${max} at ${at}, mean ${(sum / n).toFixed(4)}`);
  }
  const bytes = new Uint8Array(got.buffer, got.byteOffset, got.byteLength);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), ref.sha256, `${name}: values differ from the reference`);
}

const file = (stem: string): string => join(FIX, REF.cases[stem]!.file);
const imagenet = torchvisionSpec({ width: 224, height: 224, layout: 'nchw' });
const clip = clipSpec({ width: 224, height: 224, layout: 'nchw' });

for (const stem of ['landscape', 'portrait', 'tiny', 'exif6', 'rgba']) {
  test(`${stem}: torchvision ImageNet, transformers CLIP and ultralytics letterbox pixels equal the references`, async () => {
    assertSame(`${stem}.imagenet`, (await preprocessPixels(file(stem), imagenet)).pixels);
    assertSame(`${stem}.clip`, (await preprocessPixels(file(stem), clip)).pixels);
    const lb = await preprocessPixels(file(stem), yoloLetterboxSpec({ width: 320, height: 320, layout: 'nchw' }));
    assertSame(`${stem}.yolo320`, lb.pixels);
    const g = REF.cases[stem]!.yolo320;
    assert.deepEqual({ scale: lb.letterbox!.scale, padX: lb.letterbox!.padX, padY: lb.letterbox!.padY }, g);
    assert.deepEqual([lb.letterbox!.width, lb.letterbox!.height], REF.cases[stem]!.size);
  });
}

test('Pillow\'s other filters (nearest, lanczos, box, hamming) equal Image.resize, downscaling and upscaling', async () => {
  for (const interpolation of ['nearest', 'lanczos', 'box', 'hamming'] as const) {
    for (const stem of ['portrait', 'tiny']) assertSame(`${stem}.imagenet.${interpolation}`, (await preprocessPixels(file(stem), { ...imagenet, interpolation })).pixels);
  }
});

test('the float32 tensors equal torchvision\'s (ImageNet) and transformers\' (CLIP) arithmetic bit for bit', async () => {
  assertSame('landscape.imagenet.f32', (await preprocessImage(file('landscape'), imagenet)).data);
  assertSame('portrait.clip.f32', (await preprocessImage(file('portrait'), clip)).data);
});

test('imageToTensor as run calls it for classification (resizeRatio 256/224) is torchvision\'s transform', async () => {
  // The regression of issue #22: sharp applied only the second resize (cover 224×224), a wider field of view.
  const data = await imageToTensor(file('landscape'), { width: 224, height: 224, layout: 'nchw', mean: IMAGENET_MEAN, std: IMAGENET_STD, resizeRatio: 256 / 224 });
  assertSame('landscape.imagenet.f32', data);
  const clipData = await imageToTensor(file('portrait'), { width: 224, height: 224, layout: 'nchw', mean: clip.mean, std: clip.std, resizeRatio: 1, interpolation: 'bicubic', cropRounding: 'transformers' });
  assertSame('portrait.clip.f32', clipData);
});

test('letterboxTensor at 640 is ultralytics\' LetterBox: cv2 INTER_LINEAR, grey 114, ÷255', async () => {
  const { data, letterbox } = await letterboxTensor(file('landscape'), { width: 640, height: 640 }, 'nhwc');
  assert.deepEqual({ scale: letterbox.scale, padX: letterbox.padX, padY: letterbox.padY }, REF.cases['landscape']!.yolo640);
  const u8 = Uint8Array.from(data, (v) => Math.round(v * 255));
  assert.ok(data.every((v, i) => v === Math.fround(u8[i]! / 255)));
  assertSame('landscape.yolo640', u8);
});

test('ViTImageProcessor from its preprocessor_config.json: exact 224×224 bilinear, mean/std 0.5', async () => {
  const spec = specFromPreprocessorConfig(
    { image_processor_type: 'ViTImageProcessor', do_resize: true, size: { height: 224, width: 224 }, resample: 2, do_rescale: true, rescale_factor: 0.00392156862745098, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] },
    { layout: 'nchw', input: { width: 224, height: 224 } },
  );
  assert.deepEqual(spec.resize, { width: 224, height: 224 });
  assert.equal(spec.crop, undefined);
  assertSame('landscape.vit', (await preprocessPixels(file('landscape'), spec)).pixels);
});

test('CLIP\'s preprocessor_config.json gives the same spec as the CLIP default, also from old integer sizes', async () => {
  const path = join(tmp, 'preprocessor_config.json');
  // openai/clip-vit-base-patch32 as published (integer sizes, feature_extractor_type).
  writeFileSync(path, JSON.stringify({ crop_size: 224, do_center_crop: true, do_normalize: true, do_resize: true, feature_extractor_type: 'CLIPFeatureExtractor', image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711], resample: 3, size: 224 }));
  mkdirSync(join(tmp, 'onnx'));
  assert.equal(await findPreprocessorConfig(join(tmp, 'onnx', 'vision_model.onnx')), path);
  assert.equal(await findPreprocessorConfig(join(tmp, 'onnx', 'x', 'y', 'model.onnx')), undefined);
  const spec = await readPreprocessorConfig(path, { layout: 'nchw', input: { width: 224, height: 224 } });
  assert.deepEqual(spec.resize, { shortest: 224 });
  assert.deepEqual(spec.crop, { width: 224, height: 224, rounding: 'transformers' });
  assert.equal(spec.interpolation, 'bicubic');
  assert.match(spec.source!, /CLIPFeatureExtractor/);
  assertSame('portrait.clip.f32', (await preprocessImage(file('portrait'), spec)).data);
  // The newer form, and defaults filled in by class when keys are missing.
  const newer = specFromPreprocessorConfig({ image_processor_type: 'CLIPImageProcessor', size: { shortest_edge: 224 }, crop_size: { height: 224, width: 224 } }, { layout: 'nchw' });
  assert.deepEqual({ ...newer, source: '' }, { ...spec, source: '' });
});

test('preprocessor_config.json: ConvNext crop_pct, PIL resample codes, rescale/normalise switches, bad values', async () => {
  const convnext = specFromPreprocessorConfig({ image_processor_type: 'ConvNextImageProcessor', size: { shortest_edge: 224 }, crop_pct: 0.875, resample: 3 }, { layout: 'nchw' });
  assert.deepEqual(convnext.resize, { shortest: 256 });
  assert.deepEqual(convnext.crop, { width: 224, height: 224, rounding: 'transformers' });
  assert.deepEqual(convnext.mean, IMAGENET_MEAN);
  const big = specFromPreprocessorConfig({ image_processor_type: 'ConvNextImageProcessor', size: { shortest_edge: 384 } }, { layout: 'nchw' });
  assert.deepEqual([big.resize, big.crop], [{ width: 384, height: 384 }, undefined]);
  assert.deepEqual(Object.values(PIL_RESAMPLE), ['nearest', 'lanczos', 'bilinear', 'bicubic', 'box', 'hamming']);
  const raw = specFromPreprocessorConfig({ do_resize: false, do_rescale: false, do_normalize: false }, { layout: 'nhwc' });
  assert.deepEqual([raw.resize, raw.rescale, raw.mean, raw.std, raw.layout], [undefined, 1, [0, 0, 0], [1, 1, 1], 'nhwc']);
  const size = specFromPreprocessorConfig({ do_center_crop: false }, { layout: 'nchw', input: { width: 96, height: 64 } });
  assert.deepEqual(size.resize, { width: 96, height: 64 });
  assert.throws(() => specFromPreprocessorConfig({ resample: 9 }, { layout: 'nchw', input: { width: 8, height: 8 } }), (e: unknown) => e instanceof UsageError && /resample 9/.test(e.message));
  assert.throws(() => specFromPreprocessorConfig({ size: { height: 256, width: 256 } }, { layout: 'nchw', input: { width: 224, height: 224 } }), /gives 256×256 images; the model takes 224×224/);
  assert.throws(() => specFromPreprocessorConfig({ size: { shortest_edge: 800, longest_edge: 1333 } }, { layout: 'nchw' }), /longest edge/);
  assert.throws(() => specFromPreprocessorConfig({ image_mean: [1, 2] }, { layout: 'nchw', input: { width: 8, height: 8 } }), /image_mean/);
  assert.throws(() => specFromPreprocessorConfig([], { layout: 'nchw' }), /not a JSON object/);
  writeFileSync(join(tmp, 'broken.json'), '{ "size": ');
  await assert.rejects(readPreprocessorConfig(join(tmp, 'broken.json'), { layout: 'nchw' }), (e: unknown) => e instanceof UsageError && /not valid JSON/.test(e.message));
  await assert.rejects(readPreprocessorConfig(join(tmp, 'absent.json'), { layout: 'nchw' }), NotFoundError);
});

test('encoded bytes give the same tensor as the path; NHWC and BGR are permutations of NCHW RGB', async () => {
  const bytes = new Uint8Array(readFileSync(file('exif6')));
  const fromPath = await preprocessImage(file('exif6'), imagenet);
  const fromBytes = await preprocessImage(bytes.subarray(0), imagenet);
  assert.deepEqual(fromBytes.data, fromPath.data);
  const nhwcBgr = await preprocessImage(bytes, { ...imagenet, layout: 'nhwc', channelOrder: 'bgr' });
  const plane = 224 * 224;
  for (const i of [0, 1, 777, plane - 1]) for (let c = 0; c < 3; c++) assert.equal(nhwcBgr.data[i * 3 + c], fromPath.data[(2 - c) * plane + i]);
  await assert.rejects(preprocessImage(new Uint8Array([1, 2, 3, 4]), imagenet), (e: unknown) => e instanceof UsageError && /cannot read image \(4 bytes\)/.test(e.message));
  await assert.rejects(imageToTensor(join(FIX, 'reference.json'), { width: 8, height: 8, layout: 'nchw', mean: [0, 0, 0], std: [1, 1, 1], resizeRatio: 1 }), UsageError);
});

test('what was applied is reported as plain data, EXIF orientation included', async () => {
  const r = await preprocessImage(file('exif6'), imagenet);
  assert.deepEqual(r.applied.decoded, { width: 240, height: 150, orientation: 6, upright: { width: 150, height: 240 } });
  assert.deepEqual(r.applied.steps, [
    { op: 'orient', exifOrientation: 6 },
    { op: 'resize', width: 256, height: 409, interpolation: 'bilinear', antialias: false },
    { op: 'crop', left: 16, top: 92, width: 224, height: 224 },
    { op: 'rescale', factor: 1 / 255 },
    { op: 'normalize', mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] },
  ]);
  assert.deepEqual(r.applied.shape, [3, 224, 224]);
  assert.deepEqual(JSON.parse(JSON.stringify(r.applied)), r.applied);
  const off = await preprocessPixels(file('exif6'), { ...imagenet, exifOrientation: false });
  assert.equal(off.decoded.width, 240);
  assert.deepEqual(describeSpec(imagenet), {
    source: imagenet.source, resize: { shortestEdge: 256 }, centerCrop: { width: 224, height: 224, rounding: 'torchvision' }, interpolation: 'bilinear', antialias: true,
    rescale: 1 / 255, mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD], channelOrder: 'rgb', layout: 'nchw', exifOrientation: true,
  });
});

test('geometry: torchvision\'s truncated long side and round-half-even crop, transformers\' floor crop, ultralytics\' padding', () => {
  assert.deepEqual(shortestEdgeSize(720, 477, 256), { width: 386, height: 256 }); // 386.41 truncated
  assert.deepEqual(shortestEdgeSize(477, 720, 256), { width: 256, height: 386 });
  assert.deepEqual([1, 3, 5].map((d) => cropOffset(224 + d, 224, 'torchvision')), [0, 2, 2]); // round(0.5)=0, round(1.5)=2, round(2.5)=2
  assert.deepEqual([1, 3, 5].map((d) => cropOffset(224 + d, 224, 'transformers')), [0, 1, 2]);
  assert.equal(cropOffset(199, 224, 'torchvision'), -12);
  assert.equal(cropOffset(199, 224, 'transformers'), -13);
  assert.deepEqual(letterboxGeometry(720, 477, { width: 640, height: 640 }), { scale: 640 / 720, w: 640, h: 424, left: 0, top: 108 });
  assert.deepEqual(letterboxGeometry(641, 100, { width: 640, height: 640 }).top, 270); // dh 270 (h = 100·640/641 → 100)
});

test('a crop larger than the resized image pads with 0 before normalising (both conventions)', async () => {
  const spec: ImageSpec = { resize: { shortest: 200 }, crop: { width: 224, height: 224, rounding: 'torchvision' }, interpolation: 'bilinear', rescale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], layout: 'nchw', channelOrder: 'rgb' };
  const r = await preprocessPixels(file('portrait'), spec);
  const { crop: _, ...uncropped } = spec;
  const full = resizePil((await preprocessPixels(file('portrait'), uncropped)).pixels, 200, 301, 200, 301, 'bilinear');
  // 200×301 → crop 224: 12 columns of 0 on the left, rows from (301 - 224) / 2 = 38.5 → 38.
  assert.deepEqual([...r.pixels.subarray(0, 36)], new Array(36).fill(0));
  assert.deepEqual([...r.pixels.subarray(12 * 3, 13 * 3)], [...full.subarray(38 * 200 * 3, 38 * 200 * 3 + 3)]);
  assert.equal(r.pixels[(224 * 0 + 212) * 3], 0);
});

test('MobileNetV2 (seeded weights) on the photo: aivmm\'s tensor gives the torchvision reference\'s top-5', async () => {
  const { session } = await openSession(CPU_TARGET, buildMobilenetV2());
  try {
    const logits = async (data: Float32Array): Promise<Float32Array> => (await session.run({ input: { type: 'float32', dims: [1, 3, 224, 224], data } }))['output']!.data as Float32Array;
    const ours = await logits(await imageToTensor(file('landscape'), { width: 224, height: 224, layout: 'nchw', mean: IMAGENET_MEAN, std: IMAGENET_STD, resizeRatio: 256 / 224 }));
    const reference = await logits(stored('landscape.imagenet.f32') as Float32Array);
    const top = (l: Float32Array): number[] => topK(l, 5).map((c) => c.index);
    assert.deepEqual(top(ours), top(reference));
    assert.deepEqual(ours, reference);
    // The model does depend on the exact pixels: the old pipeline's field of view (sharp cover 224×224, lanczos3) moves the logits.
    const { data: raw } = await sharp(file('landscape')).rotate().removeAlpha().resize({ width: 224, height: 224, fit: 'cover' }).raw().toBuffer({ resolveWithObject: true });
    const old = await logits(toTensor(new Uint8Array(raw), 224, 224, imagenet));
    const maxDelta = Math.max(...old.map((v, i) => Math.abs(v - reference[i]!)));
    assert.ok(maxDelta > 1e-3, `old pipeline's logits within ${maxDelta} of the reference`);
  } finally {
    await session.dispose();
  }
});
