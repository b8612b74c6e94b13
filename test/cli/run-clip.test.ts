/** Zero-shot image classification (CLIP-style): two generated towers, a word-level tokenizer, scores checked by hand. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import sharp from 'sharp';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { ortBackend } from '../../src/core/backends/ort.js';
import { clipSpec, preprocessImage } from '../../src/core/tasks/preprocess.js';
import { runCli } from '../helpers/run-cli.js';
import { writeTinyClip } from '../helpers/tiny-clip.js';
import { CPU_TARGET } from '../../src/core/backends/ep-map.js';

const ajv = new Ajv({ allErrors: true, strict: false });
const validateRun = ajv.compile(JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/schemas/run-1.schema.json', import.meta.url)), 'utf8')) as object);
const cpu = CPU_TARGET;

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-clip-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeTinyClip(dir);
const env = { AIVMM_CACHE_DIR: join(dir, 'cache') };

test('zero-shot: softmax over 100 × cosine of the image and each label sentence, best first', async () => {
  const raw = Buffer.alloc(40 * 30 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 13) % 256;
  await sharp(raw, { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(join(dir, 'img.png'));
  const r = await runCli(['run', dir, '--task', 'zero-shot-image-classification', '--input', join(dir, 'img.png'), '--labels', 'hello,world,you', '--hypothesis', '{}', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { data: { results: { scores: { label: string; probability: number; similarity: number }[] }[] } };
  assert.ok(validateRun(doc), ajv.errorsText(validateRun.errors));
  // By hand: the towers run directly, the maths done here.
  const v = await ortBackend.load(join(dir, 'vision_model.onnx'), cpu);
  const t = await ortBackend.load(join(dir, 'text_model.onnx'), cpu);
  // CLIPImageProcessor's transform (bicubic shortest edge, centre crop, CLIP mean/std), checked against transformers in preprocess.test.ts
  const { data } = await preprocessImage(join(dir, 'img.png'), clipSpec({ width: 32, height: 32, layout: 'nchw' }));
  const img = (await v.run({ pixel_values: { type: 'float32', dims: [1, 3, 32, 32], data } }))['image_embeds']!.data as Float32Array;
  const unit = (a: Float32Array): number[] => Array.from(a, (x) => x / Math.hypot(...a));
  const sims = await Promise.all(
    [3, 4, 7].map(async (id) => {
      const te = (await t.run({ input_ids: { type: 'int64', dims: [1, 1], data: BigInt64Array.of(BigInt(id)) } }))['text_embeds']!.data as Float32Array;
      const a = unit(img);
      return unit(te).reduce((s, x, k) => s + x * a[k]!, 0);
    }),
  );
  const exps = sims.map((s) => Math.exp(100 * s - 100 * Math.max(...sims)));
  const probs = exps.map((e) => e / exps.reduce((x, y) => x + y, 0));
  const byLabel = new Map(doc.data.results[0]!.scores.map((s) => [s.label, s]));
  ['hello', 'world', 'you'].forEach((label, k) => {
    assert.ok(Math.abs(byLabel.get(label)!.similarity - sims[k]!) < 1e-5, label);
    assert.ok(Math.abs(byLabel.get(label)!.probability - probs[k]!) < 1e-4, label);
  });
  const scores = doc.data.results[0]!.scores;
  assert.ok(scores[0]!.probability >= scores[1]!.probability && scores[1]!.probability >= scores[2]!.probability);
});

test('zero-shot needs two labels and a text tower', async () => {
  const one = await runCli(['run', dir, '--task', 'zero-shot-image-classification', '--input', join(dir, 'img.png'), '--labels', 'hello'], { env });
  assert.equal(one.code, EXIT_CODES.USAGE);
  assert.match(one.stderr, /at least two candidate labels/);
  const lone = await runCli(['run', join(dir, 'vision_model.onnx'), '--task', 'zero-shot-image-classification', '--input', join(dir, 'img.png'), '--labels', 'a,b'], { env });
  assert.equal(lone.code, EXIT_CODES.USAGE);
  assert.match(lone.stderr, /needs the text tower too/);
});
