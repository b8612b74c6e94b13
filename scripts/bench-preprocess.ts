/**
 * Image preprocessing: how far the old sharp pipeline was from torchvision's transform, and what the
 * exact TypeScript resampling costs per image.
 *   node --import tsx scripts/bench-preprocess.ts [iterations]
 * Prints (1) mean and max |Δ| (levels of 255) of the old pipeline's pixels against the stored torchvision
 * reference for the 720×477 test photo, (2) ms per image (median of N) for each task's spec on that photo
 * and on a 4032×3024 JPEG, decode included, next to sharp's decode alone.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { parseNpy } from '../src/core/bench/inputs.js';
import { clipSpec, decodeRgb, preprocessImage, torchvisionSpec, yoloLetterboxSpec, type ImageSpec } from '../src/core/tasks/preprocess.js';

const FIX = new URL('../test/fixtures/preprocess/', import.meta.url).pathname;
const iterations = Number(process.argv[2] ?? 15);
const photo = readFileSync(`${FIX}landscape.jpg`);

// (1) The pipeline before the fix: two chained resizes, of which sharp applies the last (cover 224×224, lanczos3).
const old = await sharp(photo).rotate().removeAlpha().toColourspace('srgb').resize({ width: 256, height: 256, fit: 'outside' }).resize({ width: 224, height: 224, fit: 'cover', position: 'centre' }).raw().toBuffer();
const ref = parseNpy(new Uint8Array(gunzipSync(readFileSync(`${FIX}landscape.imagenet.npy.gz`))), 'ref').data as Uint8Array;
let sum = 0;
let max = 0;
for (let i = 0; i < ref.length; i++) {
  const d = Math.abs(old[i]! - ref[i]!);
  sum += d;
  max = Math.max(max, d);
}
console.log(`old pipeline vs torchvision (720x477 photo, resize 256 + crop 224): mean |d| ${(sum / ref.length).toFixed(2)} levels, max ${max}`);

// (2) Timing.
const big = await sharp({ create: { width: 4032, height: 3024, channels: 3, background: { r: 90, g: 120, b: 60 } } })
  .composite([{ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="4032" height="3024"><defs><linearGradient id="g"><stop offset="0" stop-color="#123"/><stop offset="1" stop-color="#fd8"/></linearGradient></defs><rect width="4032" height="3024" fill="url(#g)"/><circle cx="1500" cy="1200" r="700" fill="#a33"/></svg>`) }])
  .jpeg({ quality: 90 })
  .toBuffer();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function time(label: string, f: () => Promise<unknown>): Promise<void> {
  await f();
  const ts: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await f();
    ts.push(performance.now() - t0);
  }
  console.log(`${label.padEnd(44)} ${median(ts).toFixed(1).padStart(7)} ms`);
}
const specs: [string, ImageSpec][] = [
  ['imagenet (bilinear 256, crop 224)', torchvisionSpec({ width: 224, height: 224, layout: 'nchw' })],
  ['clip (bicubic 224, crop 224)', clipSpec({ width: 224, height: 224, layout: 'nchw' })],
  ['yolo letterbox 640 (cv2 linear)', yoloLetterboxSpec({ width: 640, height: 640, layout: 'nchw' })],
];
for (const [name, bytes] of [['720x477', photo], ['4032x3024', big]] as const) {
  await time(`${name} sharp decode only`, () => decodeRgb(bytes));
  for (const [label, spec] of specs) await time(`${name} ${label}`, () => preprocessImage(bytes, spec));
}
