/**
 * Tasks as pipelines: a plan decides the task and its companion files before anything loads; a pipeline
 * opened once runs many inputs given as bytes (or decoded tensors) with the results runTask gives on the
 * files; text generation's step API (prefill / step per sequence) interleaves two sequences and still
 * gives the tokens generate() gives for each.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { CPU_TARGET } from '../../src/core/backends/ep-map.js';
import { UsageError } from '../../src/core/errors.js';
import { findAlias } from '../../src/core/hub/catalog.js';
import { embeddedModel } from '../../src/core/models/embedded.js';
import { generate } from '../../src/core/tasks/generate.js';
import { imageToTensor } from '../../src/core/tasks/image.js';
import { SAMPLE_RATE } from '../../src/core/tasks/audio.js';
import { openPipeline, planTask, runTask, type ClassificationResult, type TranscriptResult } from '../../src/core/tasks/index.js';
import { WHISPER_TOKENIZER, tinyWhisperDecoder, tinyWhisperEncoder } from '../helpers/tiny-whisper.js';
import { wav } from '../helpers/wav.js';

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-pipeline-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const LLAMA = fileURLToPath(new URL('../fixtures/tiny-llama/', import.meta.url));
const REF = JSON.parse(readFileSync(`${LLAMA}reference.json`, 'utf8')) as { prompt: string; prompt_ids: number[]; generated: number[] };
const device = { id: 'CPU', name: 'cpu', backend: 'ort-cpu' };

async function image(path: string, width: number, height: number, seed: number): Promise<void> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * (seed + 5) + seed * 17) % 256;
  await sharp(raw, { raw: { width, height, channels: 3 } }).png().toFile(path);
}

test('plan: flag over catalog over embedded; companions and labels decided before loading', async () => {
  const clip = await planTask({ model: '/m/onnx/vision_model.onnx', files: ['/m/onnx/text_model.onnx', '/m/onnx/vision_model.onnx'], modelName: 'clip-vit-b32', catalogEntry: findAlias('clip-vit-b32')!, flags: { labels: 'a cat, a dog' } });
  assert.equal(clip.task, 'zero-shot-image-classification');
  assert.equal(clip.taskSource, 'catalog');
  assert.equal(clip.model, '/m/onnx/vision_model.onnx');
  assert.equal(clip.companions.textModel, '/m/onnx/text_model.onnx');
  assert.deepEqual(clip.candidates, ['a cat', 'a dog']);
  assert.equal(clip.labels, undefined);
  const whisper = await planTask({ model: '/w/encoder_model.onnx', files: ['/w/decoder_model.onnx', '/w/decoder_model_merged.onnx', '/w/encoder_model.onnx'], modelName: 'whisper-tiny', catalogEntry: findAlias('whisper-tiny')! });
  assert.equal(whisper.model, '/w/encoder_model.onnx');
  assert.equal(whisper.companions.decoderModel, '/w/decoder_model_merged.onnx');
  const embedded = await planTask({ model: '/e/tiny-convnet.onnx', modelName: 'tiny-convnet', embedded: { task: 'image-classification' } });
  assert.deepEqual([embedded.task, embedded.taskSource, embedded.labels], ['image-classification', 'catalog', 'imagenet-1k']);
  const flagged = await planTask({ model: '/x.onnx', modelName: 'mobilenetv2', task: 'object-detection', catalogEntry: findAlias('mobilenetv2')!, flags: { mean: [0, 0, 0] } });
  assert.deepEqual([flagged.task, flagged.taskSource], ['object-detection', 'flag']);
  assert.deepEqual(flagged.preprocess?.mean, [0, 0, 0]);
  assert.deepEqual(flagged.preprocess?.std, [0.229, 0.224, 0.225]);
  const unknown = await planTask({ model: '/x.onnx', modelName: 'x.onnx' });
  assert.deepEqual([unknown.task, unknown.taskSource], [undefined, 'inferred']);
  await assert.rejects(planTask({ model: '/x.onnx', modelName: 'sd-turbo', catalogEntry: findAlias('sd-turbo')! }), (e: unknown) => e instanceof UsageError && /text-to-image/.test(e.message));
});

test('a classification pipeline opened once runs many images given as bytes or tensors, as runTask does on the files', async () => {
  const model = join(dir, 'tiny-convnet.onnx');
  writeFileSync(model, embeddedModel('tiny-convnet').build());
  const images = join(dir, 'images');
  mkdirSync(images);
  const files: string[] = [];
  for (let i = 0; i < 4; i++) {
    files.push(join(images, `im${i}.png`));
    await image(files[i]!, 40 + i * 9, 36, i);
  }
  const plan = await planTask({ model, modelName: 'tiny-convnet', embedded: { task: 'image-classification' } });
  const report = await runTask({ plan, inputs: [images], target: CPU_TARGET, device, options: { 'image-classification': { topK: 3 } }, batch: 3 });
  assert.equal(report.results.length, 4);
  const p = await openPipeline(plan, CPU_TARGET);
  try {
    assert.equal(p.task, 'image-classification');
    if (p.task !== 'image-classification') return;
    const one: ClassificationResult['top'][] = [];
    for (const f of files) one.push((await p.run(new Uint8Array(readFileSync(f)), { topK: 3 })).top);
    const want = report.results.map((r) => (r as ClassificationResult).top);
    const close = (a: ClassificationResult['top'], b: ClassificationResult['top']): void => {
      assert.deepEqual(a.map((x) => [x.index, x.label]), b.map((x) => [x.index, x.label]));
      a.forEach((x, k) => assert.ok(Math.abs(x.probability - b[k]!.probability) < 1e-5));
    };
    one.forEach((t, k) => close(t, want[k]!));
    const batched = await p.runBatch(files.map((f) => new Uint8Array(readFileSync(f))), { topK: 3 });
    batched.forEach((r, k) => close(r.top, want[k]!));
    // a tensor already preprocessed the way the pipeline would
    const data = await imageToTensor(files[2]!, { width: 32, height: 32, layout: 'nchw', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], resizeRatio: 256 / 224 });
    close((await p.run({ data }, { topK: 3 })).top, want[2]!);
    await assert.rejects(p.run({ data: new Float32Array(5) }), UsageError);
    await assert.rejects(p.run(new Uint8Array([1, 2, 3]), { name: 'junk.png' }), (e: unknown) => e instanceof UsageError && /^cannot read image junk\.png: /.test(e.message));
    assert.equal(p.sessions.length, 1);
    assert.ok(p.timing.inferenceMs > 0);
  } finally {
    await p.dispose();
  }
});

test('generation step API: two interleaved sequences give the tokens generate() gives for each', async () => {
  const plan = await planTask({ model: `${LLAMA}model.onnx`, modelName: 'tiny-llama', task: 'text-generation' });
  const p = await openPipeline(plan, CPU_TARGET);
  try {
    assert.equal(p.task, 'text-generation');
    if (p.task !== 'text-generation') return;
    const session = p.sessions[0]!;
    const a = REF.prompt_ids;
    const b = p.renderChat([{ role: 'user', content: 'hello world' }]);
    const sampled = { temperature: 0.9, topK: 20, seed: 7 };
    const n = REF.generated.length;
    const wantA = await generate(session, a, { maxTokens: n, sampling: { temperature: 0, seed: 1 }, stop: p.stop });
    const wantB = await generate(session, b, { maxTokens: n, sampling: sampled, stop: p.stop });
    const sa = await p.prefill(a, { maxTokens: n });
    const sb = await p.prefill(b, { maxTokens: n, sampling: sampled });
    const got: [number[], number[]] = [[], []];
    while (!sa.done || !sb.done) {
      for (const [k, s] of [sa, sb].entries()) {
        if (s.done) continue;
        const { token } = await p.step(s);
        if (token !== undefined) got[k]!.push(token);
      }
    }
    assert.ok(wantA.ids.length > 0 && wantB.ids.length > 0);
    assert.deepEqual(got[0], wantA.ids);
    assert.deepEqual(got[1], wantB.ids);
    assert.deepEqual(sa.generated, wantA.ids);
    assert.equal(sa.finish, wantA.finish);
    assert.equal(sb.finish, wantB.finish);
    const ref = REF.generated.includes(1) ? REF.generated.slice(0, REF.generated.indexOf(1)) : REF.generated;
    assert.deepEqual(got[0], ref);
    assert.equal(p.detokenize(got[1]), p.tokenizer.decode(wantB.ids));
    assert.deepEqual(await p.step(sa), { token: undefined, done: true });
  } finally {
    await p.dispose();
  }
});

test('a speech pipeline opened once transcribes WAV bytes and raw 16 kHz samples, as runTask does on the files', async () => {
  const w = join(dir, 'whisper');
  mkdirSync(join(w, 'onnx'), { recursive: true });
  writeFileSync(join(w, 'onnx', 'encoder_model.onnx'), tinyWhisperEncoder());
  writeFileSync(join(w, 'onnx', 'decoder_model_merged.onnx'), tinyWhisperDecoder());
  writeFileSync(join(w, 'tokenizer.json'), JSON.stringify(WHISPER_TOKENIZER));
  const tones = [440, 660].map((hz) => Float32Array.from({ length: SAMPLE_RATE }, (_, i) => 0.5 * Math.sin((2 * Math.PI * hz * i) / SAMPLE_RATE)));
  const files = tones.map((t, k) => {
    const f = join(w, `t${k}.wav`);
    writeFileSync(f, wav([t], SAMPLE_RATE, 'float32'));
    return f;
  });
  const plan = await planTask({ model: join(w, 'onnx', 'encoder_model.onnx'), files: [join(w, 'onnx', 'decoder_model_merged.onnx'), join(w, 'onnx', 'encoder_model.onnx')], modelName: 'w', task: 'automatic-speech-recognition' });
  const report = await runTask({ plan, inputs: files, target: CPU_TARGET, device, batch: 1, options: { 'automatic-speech-recognition': { maxTokens: 8 } } });
  const p = await openPipeline(plan, CPU_TARGET);
  try {
    if (p.task !== 'automatic-speech-recognition') throw new Error(p.task);
    assert.equal(p.sessions.length, 2);
    for (const [k, f] of files.entries()) {
      const want = report.results[k] as TranscriptResult;
      const fromBytes = await p.run(new Uint8Array(readFileSync(f)), { maxTokens: 8 });
      const fromSamples = await p.run(tones[k]!, { maxTokens: 8 });
      assert.deepEqual({ input: f, ...fromBytes }, want);
      assert.deepEqual(fromSamples, fromBytes);
    }
    await assert.rejects(p.run(new TextEncoder().encode('ID3 not a wav'), { name: 'song.mp3' }), /song\.mp3.*not a WAV file|not a WAV file/);
  } finally {
    await p.dispose();
  }
});
