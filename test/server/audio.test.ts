/**
 * /v1/audio/transcriptions through the official `openai` client: the tiny Whisper pair (generated here)
 * opened as a speech pipeline inside a real lane; the transcript equals `runTask`'s in-process result on
 * the same WAV file. Bad uploads (not a WAV, no file, no model, a text model) are 4xx JSON errors.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { SAMPLE_RATE } from '../../src/core/tasks/audio.js';
import { runTask } from '../../src/core/tasks/index.js';
import { planTask } from '../../src/core/tasks/plan.js';
import type { TranscriptResult } from '../../src/core/tasks/types.js';
import { LaneExecutor, PIPELINE_JOB_MODULE } from '../../src/server/lane-executor.js';
import { PipelineService } from '../../src/server/pipelines.js';
import { WHISPER_TOKENIZER, tinyWhisperDecoder, tinyWhisperEncoder } from '../helpers/tiny-whisper.js';
import { wav } from '../helpers/wav.js';
import { createServeMetrics } from '../../src/core/serve-metrics/index.js';
import { parseExposition, sampleValue } from '../helpers/prom-text.js';
import { startTestServer, tmp } from './helpers.js';

test('audio.transcriptions.create: the transcript runTask gives in-process; text and verbose_json; bad uploads → 400 JSON', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tmp('aivmm-audio-');
  const lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, jobModules: [PIPELINE_JOB_MODULE] });
  try {
    await mkdir(join(dir, 'onnx'));
    const files = [join(dir, 'onnx', 'encoder_model.onnx'), join(dir, 'onnx', 'decoder_model_merged.onnx')];
    await writeFile(files[0]!, tinyWhisperEncoder());
    await writeFile(files[1]!, tinyWhisperDecoder());
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(WHISPER_TOKENIZER));
    const tone = Float32Array.from({ length: SAMPLE_RATE }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / SAMPLE_RATE));
    const chirp = Float32Array.from({ length: 44100 }, (_, i) => 0.3 * Math.sin(2 * Math.PI * (200 * (i / 44100) + 1500 * (i / 44100) ** 2)));
    const wavs = { tone: wav([tone], SAMPLE_RATE), stereo: wav([chirp, chirp], 44100, 'float32') };
    await writeFile(join(dir, 'tone.wav'), wavs.tone);
    await writeFile(join(dir, 'stereo.wav'), wavs.stereo);
    const plan = await planTask({ model: files[0]!, files, modelName: 'whisper', task: 'automatic-speech-recognition' });
    const reference = await runTask({
      plan,
      inputs: [join(dir, 'tone.wav'), join(dir, 'stereo.wav')],
      target: CPU_TARGET,
      device: { id: 'CPU', name: 'CPU', backend: 'ort-cpu' },
      batch: 1,
      options: { 'automatic-speech-recognition': { translate: false, maxTokens: 6 } },
    });
    const expected = reference.results as TranscriptResult[];
    assert.equal(expected.length, 2);

    const pipelines = new PipelineService(async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'test' } }));
    pipelines.add({ name: 'whisper', plan, device: 'CPU', maxQueue: 4 });
    const metrics = createServeMetrics();
    const t = await startTestServer({ executor: lane, pipelines, server: { metrics } });
    try {
      // aivmm's own form field (the fixture's decoder has 64 positions); the client sends extra params as fields.
      const six = { max_tokens: 6 };
      const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const r1 = await client.audio.transcriptions.create({ file: await toFile(wavs.tone, 'a.wav'), model: 'whisper', ...six });
      assert.equal(r1.text, expected[0]!.text);
      const r2 = await client.audio.transcriptions.create({ file: await toFile(wavs.stereo, 'b.wav'), model: 'whisper', ...six, response_format: 'verbose_json', prompt: 'ignored', temperature: 0.4 });
      assert.equal(r2.text, expected[1]!.text);
      assert.equal(r2.language, expected[1]!.language);
      assert.equal(r2.duration, 1);
      const r3 = await client.audio.transcriptions.create({ file: await toFile(wavs.tone, 'a.wav'), model: 'whisper', ...six, response_format: 'text' });
      assert.equal(String(r3).trim(), expected[0]!.text.trim());
      const forced = await client.audio.transcriptions.create({ file: await toFile(wavs.tone, 'a.wav'), model: 'whisper', language: 'de', ...six, response_format: 'verbose_json' });
      assert.equal(forced.language, 'de');

      // Bad uploads: the client raises the server's 400 with its message; raw fetch sees the JSON shape.
      await assert.rejects(client.audio.transcriptions.create({ file: await toFile(Buffer.from('ID3 not a wav at all'), 'song.mp3'), model: 'whisper', ...six }), (e: unknown) => {
        assert.ok(e instanceof OpenAI.APIError);
        assert.equal(e.status, 400);
        assert.match(e.message, /song\.mp3 is not a WAV file/);
        return true;
      });
      await assert.rejects(client.audio.transcriptions.create({ file: await toFile(wavs.tone, 'a.wav'), model: 'nope' }), (e: unknown) => e instanceof OpenAI.APIError && e.status === 404);
      const noFile = new FormData();
      noFile.set('model', 'whisper');
      const nf = await fetch(`${t.url}/v1/audio/transcriptions`, { method: 'POST', body: noFile });
      assert.equal(nf.status, 400);
      assert.match(((await nf.json()) as { error: { message: string } }).error.message, /no file/);
      const noModel = new FormData();
      noModel.set('file', new Blob([wavs.tone]), 'a.wav');
      const nm = await fetch(`${t.url}/v1/audio/transcriptions`, { method: 'POST', body: noModel });
      assert.equal(nm.status, 400);
      assert.match(((await nm.json()) as { error: { message: string } }).error.message, /no model/);
      const badFormat = new FormData();
      badFormat.set('file', new Blob([wavs.tone]), 'a.wav');
      badFormat.set('model', 'whisper');
      badFormat.set('response_format', 'srt');
      const bf = await fetch(`${t.url}/v1/audio/transcriptions`, { method: 'POST', body: badFormat });
      assert.equal(bf.status, 400);
      const notMultipart = await fetch(`${t.url}/v1/audio/transcriptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"whisper"}' });
      assert.equal(notMultipart.status, 400);
      assert.match(((await notMultipart.json()) as { error: { message: string } }).error.message, /multipart/);
      // The server still answers after the bad uploads.
      assert.equal((await client.audio.transcriptions.create({ file: await toFile(wavs.tone, 'a.wav'), model: 'whisper', ...six })).text, expected[0]!.text);
      // Outcomes in /metrics: five transcripts; the not-a-WAV, no-file and bad-format uploads named the
      // model (bad_input); the unknown model and the uploads without a model are no series.
      const fams = parseExposition(await (await fetch(`${t.url}/metrics`)).text());
      const count = (name: string, labels: Record<string, string>): number | undefined => sampleValue(fams, name, labels);
      assert.equal(count('aivmm_inference_request_success_total', { model: 'whisper', version: '1' }), 5);
      assert.equal(count('aivmm_inference_request_failure_total', { model: 'whisper', version: '1', reason: 'bad_input' }), 3);
      assert.equal(fams.get('aivmm_inference_request_failure_total')?.samples.filter((s) => s.labels.model !== 'whisper').length, 0);
    } finally {
      await t.close();
    }
  } finally {
    await lane.close();
    await cleanup();
  }
});
