/** automatic-speech-recognition (Whisper): WAV → 16 kHz mono → log-mel → encoder → cached greedy decoding. */
import { UsageError } from '../errors.js';
import { decodeWav, resample, SAMPLE_RATE } from './audio.js';
import type { OpenBase, Pipeline } from './pipeline.js';
import { openModel, type PipelineTiming } from './shared.js';
import { findTokenizer, loadTokenizer } from './text.js';
import type { TranscriptResult } from './types.js';
import { transcribe } from './whisper.js';

/** A WAV file's bytes, or mono samples at 16 kHz. */
export type SpeechInput = Uint8Array | Float32Array;

export interface SpeechOptions {
  /** ISO code (en, de, …); undefined: detected. */
  language?: string;
  translate?: boolean;
  /** At most this many tokens per 30 s window (default 224). */
  maxTokens?: number;
  name?: string;
}

export type TranscriptOutput = Omit<TranscriptResult, 'input'>;

export interface SpeechPipeline extends Pipeline<SpeechInput, TranscriptOutput, SpeechOptions> {
  readonly task: 'automatic-speech-recognition';
}

export async function openSpeech({ session: encoder, sessionMs, plan, target, threads }: OpenBase): Promise<SpeechPipeline> {
  const decoderModel = plan.companions.decoderModel;
  if (!decoderModel) throw new UsageError('speech recognition needs the decoder too', 'give a directory or repo with encoder_model*.onnx and decoder_model_merged*.onnx');
  const tokenizer = await loadTokenizer(await findTokenizer(decoderModel, plan.companions.tokenizer));
  const decoder = await openModel(target, decoderModel, threads);
  const timing: PipelineTiming = { inferenceMs: 0 };
  return {
    task: 'automatic-speech-recognition',
    sessions: [encoder, decoder],
    sessionMs,
    timing,
    async run(x, o = {}, signal) {
      let samples: Float32Array;
      if (x instanceof Float32Array) samples = x;
      else {
        const audio = decodeWav(x, o.name);
        samples = resample(audio.samples, audio.sampleRate, SAMPLE_RATE);
      }
      const r0 = performance.now();
      const t = await transcribe(encoder, decoder, tokenizer, samples, { ...(o.language ? { language: o.language } : {}), translate: Boolean(o.translate), maxTokens: o.maxTokens ?? 224, ...(signal ? { signal } : {}) });
      timing.inferenceMs += performance.now() - r0;
      return { text: t.text, language: t.language, tokens: t.tokens, seconds: Math.round((samples.length / SAMPLE_RATE) * 100) / 100 };
    },
    async dispose() {
      await decoder.dispose();
      await encoder.dispose();
    },
  };
}
