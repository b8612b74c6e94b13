/**
 * Speech recognition end to end on a Whisper-shaped pair: WAV files written here (a tone, a chirp, stereo
 * 44.1 kHz), the cached decode loop against full recomputation, language detection, bad audio.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { ortBackend } from '../../src/core/backends/ort.js';
import { logMel, SAMPLE_RATE } from '../../src/core/tasks/audio.js';
import { loadTokenizer } from '../../src/core/tasks/text.js';
import { transcribe } from '../../src/core/tasks/whisper.js';
import { runCli } from '../helpers/run-cli.js';
import { WHISPER_TOKENIZER, tinyWhisperDecoder, tinyWhisperEncoder } from '../helpers/tiny-whisper.js';
import { wav } from '../helpers/wav.js';
import { CPU_TARGET } from '../../src/core/backends/ep-map.js';

const ajv = new Ajv({ allErrors: true, strict: false });
const validateRun = ajv.compile(JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/schemas/run-1.schema.json', import.meta.url)), 'utf8')) as object);
const cpu = CPU_TARGET;

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-whisper-'));
after(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'onnx'));
writeFileSync(join(dir, 'onnx', 'encoder_model.onnx'), tinyWhisperEncoder());
writeFileSync(join(dir, 'onnx', 'decoder_model_merged.onnx'), tinyWhisperDecoder());
writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(WHISPER_TOKENIZER));
const env = { AIVMM_CACHE_DIR: join(dir, 'cache') };
const tone = Float32Array.from({ length: SAMPLE_RATE }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / SAMPLE_RATE));

test('the cached decoder loop produces the tokens full recomputation does; the language is detected', async () => {
  const encoder = await ortBackend.load(join(dir, 'onnx', 'encoder_model.onnx'), cpu);
  const decoder = await ortBackend.load(join(dir, 'onnx', 'decoder_model_merged.onnx'), cpu);
  const tokenizer = await loadTokenizer(join(dir, 'tokenizer.json'));
  const cached = await transcribe(encoder, decoder, tokenizer, tone, { translate: false, maxTokens: 8 });
  const full = await transcribe(encoder, decoder, tokenizer, tone, { translate: false, maxTokens: 8, noCache: true });
  assert.deepEqual(cached, full);
  assert.ok(['en', 'de'].includes(cached.language));
  const forced = await transcribe(encoder, decoder, tokenizer, tone, { language: 'de', translate: true, maxTokens: 8 });
  assert.equal(forced.language, 'de');
  assert.equal(logMel(tone).length, 80 * 3000);
  await assert.rejects(transcribe(encoder, decoder, tokenizer, tone, { language: 'xx', translate: false, maxTokens: 8 }), /unknown language 'xx'/);
});

test('run: WAV files (mono 16 kHz, stereo 44.1 kHz) → text, language, duration; --json aivmm/run@1', async () => {
  writeFileSync(join(dir, 'tone.wav'), wav([tone], SAMPLE_RATE));
  const chirp = Float32Array.from({ length: 44100 }, (_, i) => 0.3 * Math.sin(2 * Math.PI * (200 * (i / 44100) + 1500 * (i / 44100) ** 2)));
  writeFileSync(join(dir, 'stereo.wav'), wav([chirp, chirp], 44100, 'float32'));
  const r = await runCli(['run', dir, '--task', 'speech-to-text', '--input', join(dir, 'tone.wav'), '--input', join(dir, 'stereo.wav'), '--max-tokens', '6', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { data: { task: string; results: { text: string; language: string; seconds: number }[] } };
  assert.ok(validateRun(doc), ajv.errorsText(validateRun.errors));
  assert.equal(doc.data.task, 'automatic-speech-recognition');
  assert.deepEqual(doc.data.results.map((x) => x.seconds), [1, 1]);
  for (const x of doc.data.results) assert.match(x.text, /^((the|cat|sat|hello|world) ?)*$/);
});

test('bad audio: not a WAV file, a missing file, no decoder', async () => {
  writeFileSync(join(dir, 'song.mp3'), 'ID3 not a wav');
  const bad = await runCli(['run', dir, '--task', 'speech-to-text', '--input', join(dir, 'song.mp3')], { env });
  assert.equal(bad.code, EXIT_CODES.USAGE);
  assert.match(bad.stderr, /is not a WAV file\nhint: convert it first/);
  const missing = await runCli(['run', dir, '--task', 'speech-to-text', '--input', join(dir, 'nope.wav')], { env });
  assert.equal(missing.code, EXIT_CODES.NOT_FOUND);
  const lone = await runCli(['run', join(dir, 'onnx', 'encoder_model.onnx'), '--task', 'speech-to-text', '--input', join(dir, 'tone.wav')], { env });
  assert.equal(lone.code, EXIT_CODES.USAGE);
  assert.match(lone.stderr, /needs the decoder too/);
});
