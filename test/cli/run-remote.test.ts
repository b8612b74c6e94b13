/**
 * `aivmm run … --server URL` against a real server on 127.0.0.1 (task pipelines in a real lane): image
 * classification, text generation (streamed) and speech give the results `run` gives in-process, in the
 * same aivmm/run@1 document, with the server's device and backend; the server's errors (unknown model,
 * a bad image) and no server at all are one line with their exit codes.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import sharp from 'sharp';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { SAMPLE_RATE } from '../../src/core/tasks/audio.js';
import { planTask } from '../../src/core/tasks/plan.js';
import { LaneExecutor, PIPELINE_JOB_MODULE } from '../../src/server/lane-executor.js';
import { PipelineService } from '../../src/server/pipelines.js';
import { runCli } from '../helpers/run-cli.js';
import { WHISPER_TOKENIZER, tinyWhisperDecoder, tinyWhisperEncoder } from '../helpers/tiny-whisper.js';
import { wav } from '../helpers/wav.js';
import { startTestServer, tmp, TINY } from '../server/helpers.js';
import { TOKENIZER, encoder } from '../helpers/wordpiece.js';

const ajv = new Ajv({ allErrors: true, strict: false });
const validateRun = ajv.compile(JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/schemas/run-1.schema.json', import.meta.url)), 'utf8')) as object);
const LLAMA = fileURLToPath(new URL('../fixtures/tiny-llama/model.onnx', import.meta.url));

// A tiny WordPiece encoder (an embedding table, mean-pooled by the pipeline): test/helpers/wordpiece.ts.
const embedModel = (): Uint8Array => encoder().bytes;

interface Doc {
  data: { task: string; device: { id: string; backend: string }; results: Record<string, unknown>[] };
}

test('run --server: classification, streamed generation and speech as in-process; errors as one line', { timeout: 240_000 }, async () => {
  const { dir, cleanup } = await tmp('aivmm-run-remote-');
  const lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, jobModules: [PIPELINE_JOB_MODULE] });
  const env = { AIVMM_CACHE_DIR: join(dir, 'cache'), AIVMM_SERVER: undefined };
  try {
    const tiny = join(dir, 'tiny.onnx');
    await writeFile(tiny, TINY);
    await mkdir(join(dir, 'whisper', 'onnx'), { recursive: true });
    const wfiles = [join(dir, 'whisper', 'onnx', 'encoder_model.onnx'), join(dir, 'whisper', 'onnx', 'decoder_model_merged.onnx')];
    await writeFile(wfiles[0]!, tinyWhisperEncoder());
    await writeFile(wfiles[1]!, tinyWhisperDecoder());
    await writeFile(join(dir, 'whisper', 'tokenizer.json'), JSON.stringify(WHISPER_TOKENIZER));
    const raw = Buffer.alloc(64 * 48 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) % 251;
    const img = join(dir, 'a.png');
    await writeFile(img, await sharp(raw, { raw: { width: 64, height: 48, channels: 3 } }).png().toBuffer());
    const tone = Float32Array.from({ length: SAMPLE_RATE }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / SAMPLE_RATE));
    const wavPath = join(dir, 'tone.wav');
    await writeFile(wavPath, wav([tone], SAMPLE_RATE));
    await writeFile(join(dir, 'notimage.png'), 'not an image at all');
    await mkdir(join(dir, 'mini', 'onnx'), { recursive: true });
    const mini = join(dir, 'mini', 'onnx', 'model.onnx');
    await writeFile(mini, embedModel());
    await writeFile(join(dir, 'mini', 'tokenizer.json'), JSON.stringify(TOKENIZER));
    await writeFile(join(dir, 'mini', 'tokenizer_config.json'), JSON.stringify({ model_max_length: 12, pad_token: '[PAD]' }));

    // tiny-convnet's head has 10 classes: 10 labels (a 1000-name set is refused as not fitting).
    const labels = join(dir, 'labels.txt');
    await writeFile(labels, ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'].join('\n'));
    const pipelines = new PipelineService(async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'test' } }));
    pipelines.add({ name: 'tiny', plan: await planTask({ model: tiny, modelName: 'tiny', task: 'image-classification', flags: { labels } }), device: 'CPU', maxQueue: 4 });
    pipelines.add({ name: 'tiny-llama', plan: await planTask({ model: LLAMA, modelName: 'tiny-llama' }), device: 'CPU', maxQueue: 4 });
    pipelines.add({ name: 'mini', plan: await planTask({ model: mini, modelName: 'mini', task: 'sentence-embeddings' }), device: 'CPU', maxQueue: 4 });
    pipelines.add({ name: 'whisper', plan: await planTask({ model: wfiles[0]!, files: wfiles, modelName: 'whisper', task: 'automatic-speech-recognition' }), device: 'CPU', maxQueue: 4 });
    // /v1/ps reports the lane the way `aivmm serve`'s device factory does (its placement, the lane's own stats).
    const t = await startTestServer({ executor: lane, pipelines, server: { lanes: async () => [{ device: 'CPU', backend: 'ort-cpu', ...((await lane.stats()) ?? {}) }] } });
    try {
      // Image classification: same top-k as in-process.
      const local = await runCli(['run', tiny, '--task', 'image-classification', '--labels', labels, '--input', img, '--top-k', '3', '--json'], { env });
      assert.equal(local.code, 0, local.stderr);
      const remote = await runCli(['run', 'tiny', '--server', t.url, '--input', img, '--top-k', '3', '--json'], { env });
      assert.equal(remote.code, 0, remote.stderr);
      const [l, r] = [JSON.parse(local.stdout) as Doc, JSON.parse(remote.stdout) as Doc];
      assert.ok(validateRun(r), ajv.errorsText(validateRun.errors));
      assert.equal(r.data.task, 'image-classification');
      assert.deepEqual([r.data.device.id, r.data.device.backend], ['CPU', 'ort-cpu']);
      assert.deepEqual(r.data.results[0]!['top'], l.data.results[0]!['top']);
      // AIVMM_SERVER does what --server does; plain output names the results.
      const plain = await runCli(['run', 'tiny', '--input', img, '--top-k', '3'], { env: { ...env, AIVMM_SERVER: t.url } });
      assert.equal(plain.code, 0, plain.stderr);
      const label = (l.data.results[0]!['top'] as { label: string }[])[0]!.label;
      assert.ok(plain.stdout.includes(label), plain.stdout);

      // Text generation: streamed to stdout, the text in-process generation gives (greedy).
      const gl = await runCli(['run', LLAMA, '--input', 'hello', '--max-tokens', '8', '--json'], { env });
      assert.equal(gl.code, 0, gl.stderr);
      const gr = await runCli(['run', 'tiny-llama', '--server', t.url, '--input', 'hello', '--max-tokens', '8', '--json'], { env });
      assert.equal(gr.code, 0, gr.stderr);
      const [gld, grd] = [JSON.parse(gl.stdout) as Doc, JSON.parse(gr.stdout) as Doc];
      assert.ok(validateRun(grd), ajv.errorsText(validateRun.errors));
      assert.equal(grd.data.results[0]!['text'], gld.data.results[0]!['text']);
      assert.equal(grd.data.results[0]!['tokens'], gld.data.results[0]!['tokens']);
      const streamed = await runCli(['run', 'tiny-llama', '--server', t.url, '--input', 'hello', '--max-tokens', '8'], { env });
      assert.equal(streamed.code, 0, streamed.stderr);
      assert.ok(streamed.stdout.startsWith(String(gld.data.results[0]!['text'])), streamed.stdout);

      // Embeddings: the vectors and the similarity matrix in-process run gives.
      const el = await runCli(['run', mini, '--task', 'sentence-embeddings', '--input', 'A cat sat.', '--input', 'the dogs ran', '--json'], { env });
      assert.equal(el.code, 0, el.stderr);
      const er = await runCli(['run', 'mini', '--server', t.url, '--input', 'A cat sat.', '--input', 'the dogs ran', '--json'], { env });
      assert.equal(er.code, 0, er.stderr);
      const [eld, erd] = [JSON.parse(el.stdout) as Doc & { data: { similarity: number[][] } }, JSON.parse(er.stdout) as Doc & { data: { similarity: number[][] } }];
      assert.ok(validateRun(erd), ajv.errorsText(validateRun.errors));
      for (let i = 0; i < 2; i++) (erd.data.results[i]!['embedding'] as number[]).forEach((x, k) => assert.ok(Math.abs(x - (eld.data.results[i]!['embedding'] as number[])[k]!) < 1e-5));
      assert.ok(Math.abs(erd.data.similarity[0]![1]! - eld.data.similarity[0]![1]!) < 1e-3, `${erd.data.similarity[0]![1]} vs ${eld.data.similarity[0]![1]}`);

      // Speech: the transcript of the same WAV file.
      const sl = await runCli(['run', join(dir, 'whisper'), '--task', 'speech-to-text', '--input', wavPath, '--max-tokens', '6', '--json'], { env });
      assert.equal(sl.code, 0, sl.stderr);
      const sr = await runCli(['run', 'whisper', '--server', t.url, '--input', wavPath, '--max-tokens', '6', '--json'], { env });
      assert.equal(sr.code, 0, sr.stderr);
      const srd = JSON.parse(sr.stdout) as Doc;
      assert.ok(validateRun(srd), ajv.errorsText(validateRun.errors));
      assert.equal(srd.data.results[0]!['text'], (JSON.parse(sl.stdout) as Doc).data.results[0]!['text']);
      assert.equal(srd.data.results[0]!['seconds'], 1);

      // The server's errors: one line each, with the documented exit codes.
      const unknown = await runCli(['run', 'nope', '--server', t.url, '--input', img], { env });
      assert.equal(unknown.code, EXIT_CODES.NOT_FOUND);
      assert.match(unknown.stderr, /does not serve 'nope'/);
      assert.doesNotMatch(unknown.stderr, /\n\s+at /);
      const badImage = await runCli(['run', 'tiny', '--server', t.url, '--input', join(dir, 'notimage.png')], { env });
      assert.equal(badImage.code, EXIT_CODES.USAGE, badImage.stderr);
      assert.match(badImage.stderr, /answered 400/);
      assert.doesNotMatch(badImage.stderr, /\n\s+at /);
    } finally {
      await t.close();
    }
    const down = await runCli(['run', 'tiny', '--server', t.url, '--input', img], { env });
    assert.equal(down.code, EXIT_CODES.NETWORK, down.stderr);
    assert.match(down.stderr, /no aivmm server answers at/);
    const notUrl = await runCli(['run', 'tiny', '--server', 'localhost:1', '--input', img], { env });
    assert.equal(notUrl.code, EXIT_CODES.USAGE);
  } finally {
    await lane.close();
    await cleanup();
  }
});
