/**
 * `aivmm serve` (a real process) with pipeline models: directories given on the command line (a Whisper
 * pair, the tiny Llama fixture, a CLIP pair, a WordPiece embedding model) answer on their routes and are listed; a model repository's
 * text model is reloaded while a client streams chats (a new version, a replaced file, a broken version
 * that leaves the old one serving) with no failed request.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
import { SAMPLE_RATE } from '../../src/core/tasks/audio.js';
import { BIN } from '../helpers/run-cli.js';
import { DECODER_TOKENIZER, DECODER_VOCAB } from '../helpers/tiny-decoder.js';
import { WHISPER_TOKENIZER, tinyWhisperDecoder, tinyWhisperEncoder } from '../helpers/tiny-whisper.js';
import { wav } from '../helpers/wav.js';
import { TOKENIZER as WORDPIECE, encoder } from '../helpers/wordpiece.js';
import { postJson, spawnServe, tmp } from './helpers.js';
import sharp from 'sharp';

const LLAMA = fileURLToPath(new URL('../fixtures/tiny-llama/', import.meta.url));
const LLAMA_FILES = ['model.onnx', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'];

function clipVision(): Uint8Array {
  const b = new GraphBuilder(21);
  const x = b.input({ name: 'pixel_values', dataType: 'float32', shape: ['N', 3, 32, 32] });
  const flat = b.op('Flatten', [b.op('GlobalAveragePool', [x])], [{ name: 'axis', type: 'int', value: 1 }]);
  b.gemm(flat, 3, 4, 'image_embeds');
  b.output({ name: 'image_embeds', dataType: 'float32', shape: ['N', 4] });
  return encodeModel({ graph: b.graph('vision') });
}

function clipText(): Uint8Array {
  const b = new GraphBuilder(22);
  const ids = b.input({ name: 'input_ids', dataType: 'int64', shape: ['N', 'S'] });
  const g = b.op('Gather', [b.constant('tok', [DECODER_VOCAB.length, 4], b.normal(DECODER_VOCAB.length * 4, 1)), ids]);
  b.op('ReduceMean', [g], [{ name: 'axes', type: 'ints', value: [1] }, { name: 'keepdims', type: 'int', value: 0 }], 'text_embeds');
  b.output({ name: 'text_embeds', dataType: 'float32', shape: ['N', 4] });
  return encodeModel({ graph: b.graph('text') });
}

type IndexEntry = { name: string; version?: string; state: string; reason?: string };

test('aivmm serve <whisper-dir> <llama-dir> <clip-dir> <embedding-dir>: named after the directories, each on its route, listed in /v1/models and the index', { timeout: 180_000 }, async () => {
  const { dir, cleanup } = await tmp('aivmm-serve-dirs-');
  const whisper = join(dir, 'tiny-whisper');
  await mkdir(join(whisper, 'onnx'), { recursive: true });
  await writeFile(join(whisper, 'onnx', 'encoder_model.onnx'), tinyWhisperEncoder());
  await writeFile(join(whisper, 'onnx', 'decoder_model_merged.onnx'), tinyWhisperDecoder());
  await writeFile(join(whisper, 'tokenizer.json'), JSON.stringify(WHISPER_TOKENIZER));
  const clip = join(dir, 'tiny-clip');
  await mkdir(clip);
  await writeFile(join(clip, 'vision_model.onnx'), clipVision());
  await writeFile(join(clip, 'text_model.onnx'), clipText());
  await writeFile(join(clip, 'tokenizer.json'), JSON.stringify(DECODER_TOKENIZER));
  const embed = join(dir, 'tiny-embed');
  await mkdir(join(embed, 'onnx'), { recursive: true });
  await writeFile(join(embed, 'onnx', 'model.onnx'), encoder().bytes);
  await writeFile(join(embed, 'tokenizer.json'), JSON.stringify(WORDPIECE));
  await writeFile(join(embed, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 12, pad_token: '[PAD]' }));
  const serve = spawnServe(BIN, [whisper, LLAMA, clip, embed, '--port', '0', '--json'], { ...process.env, AIVMM_CACHE_DIR: join(dir, 'cache') });
  try {
    const doc = JSON.parse(await serve.ready) as { data: { url: string; models: IndexEntry[] }; warnings: string[] };
    assert.deepEqual(doc.warnings, []);
    assert.deepEqual(doc.data.models.map((m) => [m.name, m.state]), [['tiny-clip', 'READY'], ['tiny-embed', 'READY'], ['tiny-llama', 'READY'], ['tiny-whisper', 'READY']]);
    const url = doc.data.url;
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string; task?: string }[] };
    assert.deepEqual(models.data.map((m) => [m.id, m.task]).sort(), [['tiny-clip', 'zero-shot-image-classification'], ['tiny-embed', 'sentence-embeddings'], ['tiny-llama', 'text-generation'], ['tiny-whisper', 'automatic-speech-recognition']]);
    const index = (await (await fetch(`${url}/v2/repository/index`)).json()) as IndexEntry[];
    assert.deepEqual(index.map((m) => [m.name, m.state]), [['tiny-clip', 'READY'], ['tiny-embed', 'READY'], ['tiny-llama', 'READY'], ['tiny-whisper', 'READY']]);

    const form = new FormData();
    form.append('model', 'tiny-whisper');
    form.append('max_tokens', '6');
    const tone = Float32Array.from({ length: SAMPLE_RATE }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / SAMPLE_RATE));
    form.append('file', new Blob([wav([tone], SAMPLE_RATE)], { type: 'audio/wav' }), 'a.wav');
    const tr = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form });
    assert.equal(tr.status, 200, await tr.clone().text());
    assert.equal(typeof ((await tr.json()) as { text: string }).text, 'string');

    const chat = await postJson(`${url}/v1/chat/completions`, { model: 'tiny-llama', messages: [{ role: 'user', content: 'hello world' }], max_tokens: 4, temperature: 0 });
    assert.equal(chat.status, 200, JSON.stringify(chat.json));
    assert.equal(chat.json.usage.completion_tokens, 4);

    const emb = await postJson(`${url}/v1/embeddings`, { model: 'tiny-embed', input: ['A cat sat.', 'the dogs ran'] });
    assert.equal(emb.status, 200, JSON.stringify(emb.json));
    assert.equal(emb.json.data.length, 2);
    assert.ok(Math.abs(Math.hypot(...(emb.json.data[0].embedding as number[])) - 1) < 1e-5, 'L2-normalised');

    const img = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 30, b: 90 } } }).png().toBuffer();
    const zs = await fetch(`${url}/v1/tasks/tiny-clip?candidates=hello,world&hypothesis={}`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: img });
    assert.equal(zs.status, 200, await zs.clone().text());
    const scores = (await zs.json()) as { task: string; scores: { label: string; score: number }[] };
    assert.equal(scores.task, 'zero-shot-image-classification');
    assert.deepEqual(scores.scores.map((s) => s.label).sort(), ['hello', 'world']);

    // The wrong route for a model: a 4xx JSON error, not a crash.
    const wrong = await postJson(`${url}/v1/chat/completions`, { model: 'tiny-whisper', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(wrong.status, 400);
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0, serve.stderr());
  } finally {
    serve.child.kill('SIGKILL');
    await cleanup();
  }
});

/** One streamed chat; throws unless it streams deltas and ends with [DONE]. */
async function streamChat(url: string): Promise<string> {
  const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama', messages: [{ role: 'user', content: 'hello world' }], max_tokens: 6, temperature: 0, stream: true }) });
  const body = await r.text();
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${body.slice(0, 200)}`);
  if (!body.includes('data: [DONE]')) throw new Error(`no [DONE]: ${body.slice(-200)}`);
  let text = '';
  for (const line of body.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    text += (JSON.parse(line.slice(6)) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? '';
  }
  return text;
}

test('model repository: a text model reloads while chats stream (new version, replaced file, broken version) with 0 failures', { timeout: 240_000 }, async () => {
  const { dir, cleanup } = await tmp('aivmm-serve-reload-');
  const repo = join(dir, 'repo');
  const version = async (v: number): Promise<string> => {
    const d = join(repo, 'llama', String(v));
    await mkdir(d, { recursive: true });
    for (const f of LLAMA_FILES) await copyFile(join(LLAMA, f), join(d, f));
    return d;
  };
  await version(1);
  const serve = spawnServe(BIN, ['--model-repository', repo, '--poll', '100ms', '--port', '0', '--json'], { ...process.env, AIVMM_CACHE_DIR: join(dir, 'cache') });
  let stop = false;
  const failures: string[] = [];
  const texts = new Set<string>();
  let done = 0;
  try {
    const doc = JSON.parse(await serve.ready) as { data: { url: string; models: IndexEntry[] } };
    assert.deepEqual(doc.data.models, [{ name: 'llama', version: '1', state: 'READY' }], 'served as a pipeline, not loaded as a tensor model');
    const url = doc.data.url;
    const index = async (): Promise<IndexEntry[]> => (await (await fetch(`${url}/v2/repository/index`)).json()) as IndexEntry[];
    const waitFor = async (what: string, cond: (ix: IndexEntry[]) => boolean): Promise<IndexEntry[]> => {
      const t0 = Date.now();
      for (;;) {
        const ix = await index();
        if (cond(ix)) return ix;
        if (Date.now() - t0 > 60_000) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(ix)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const client = (async () => {
      while (!stop) {
        try {
          texts.add(await streamChat(url));
          done++;
        } catch (err) {
          failures.push(String(err));
        }
      }
    })();
    const served = async (): Promise<{ name: string; version?: string }[]> => ((await (await fetch(`${url}/v1/ps`)).json()) as { pipelines: { name: string; version?: string }[] }).pipelines;
    const atLeast = async (n: number): Promise<void> => {
      const target = done + n;
      while (done < target && !failures.length) await new Promise((r) => setTimeout(r, 20));
    };
    await atLeast(2);

    // A new version beside the old: opened, traffic switches, version 1 is retired.
    await version(2);
    let ix = await waitFor('version 2 READY', (x) => x.some((e) => e.version === '2' && e.state === 'READY'));
    assert.deepEqual(ix.find((e) => e.version === '1'), { name: 'llama', version: '1', state: 'UNAVAILABLE', reason: 'replaced by version 2' });
    assert.deepEqual((await served()).map((p) => [p.name, p.version]), [['llama', '2']]);
    await atLeast(2);

    // The model file of the serving version replaced in place (written aside, renamed over): reopened.
    const v2 = join(repo, 'llama', '2');
    const bytes = await readFile(join(v2, 'model.onnx'));
    await writeFile(join(v2, 'model.onnx.new'), bytes);
    await rename(join(v2, 'model.onnx.new'), join(v2, 'model.onnx'));
    const events = serve.stderr().length;
    await waitFor('the replaced file reopened', () => /"event":"model","model":"llama","version":"2","state":"READY"/.test(serve.stderr().slice(events)));
    await atLeast(2);

    // A broken version 3: version 2 keeps serving; the index says why.
    await mkdir(join(repo, 'llama', '3'));
    for (const f of LLAMA_FILES.slice(1)) await copyFile(join(LLAMA, f), join(repo, 'llama', '3', f));
    await writeFile(join(repo, 'llama', '3', 'model.onnx'), 'not an onnx model');
    ix = await waitFor('version 3 failed', (x) => x.some((e) => e.version === '3' && e.state === 'UNAVAILABLE'));
    assert.match(ix.find((e) => e.version === '3')!.reason ?? '', /load failed: .*version 2 keeps serving/);
    assert.deepEqual(ix.find((e) => e.version === '2'), { name: 'llama', version: '2', state: 'READY' });
    assert.deepEqual((await served()).map((p) => p.version), ['2']);
    await atLeast(2);
    stop = true;
    await client;
    assert.deepEqual(failures, [], `${failures.length} of ${done + failures.length} streamed chats failed`);
    assert.ok(done >= 8, `${done} chats`);
    assert.equal(texts.size, 1, 'every version is the same model: one answer');
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0, serve.stderr());
  } finally {
    stop = true;
    serve.child.kill('SIGKILL');
    await cleanup();
  }
});

test('aivmm serve <dir> with several ONNX files that are no pair: one line, exit 2', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tmp('aivmm-serve-dirs-');
  try {
    const d = join(dir, 'two');
    await mkdir(d);
    await copyFile(join(LLAMA, 'model.onnx'), join(d, 'model.onnx'));
    await copyFile(join(LLAMA, 'model.onnx'), join(d, 'model_quantized.onnx'));
    const serve = spawnServe(BIN, [d, '--port', '0'], { ...process.env, AIVMM_CACHE_DIR: join(dir, 'cache') });
    serve.ready.catch(() => undefined); // it exits before any ready line
    assert.equal(await serve.exited, 2);
    assert.match(serve.stderr(), /holds 2 ONNX files \(model\.onnx, model_quantized\.onnx\)/);
    assert.doesNotMatch(serve.stderr(), /\n\s+at /, 'no stack trace');
  } finally {
    await cleanup();
  }
});
