/** The Whisper front end: WAV decoding, resampling, and the log-mel spectrogram against numpy reference values. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeWav, logMel, resample, SAMPLE_RATE } from '../../src/core/tasks/audio.js';
import { UsageError } from '../../src/core/errors.js';
import { wav } from '../helpers/wav.js';

const REF = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/whisper-mel-reference.json', import.meta.url)), 'utf8')) as Record<string, { shape: number[]; frames: Record<string, number[]>; mean: number; max: number }>;

function signal(kind: string): Float32Array {
  const n = Math.floor(1.5 * SAMPLE_RATE);
  return Float32Array.from({ length: n }, (_, i) => {
    const t = i / SAMPLE_RATE;
    return kind === 'tone440' ? 0.5 * Math.sin(2 * Math.PI * 440 * t) : 0.3 * Math.sin(2 * Math.PI * (200 * t + 1500 * t * t));
  });
}

test('log-mel matches the numpy reference (80 × 3000; selected frames, mean, max)', () => {
  for (const kind of ['tone440', 'chirp']) {
    const ref = REF[kind]!;
    const m = logMel(signal(kind));
    assert.equal(m.length, ref.shape[0]! * ref.shape[1]!);
    const frames = ref.shape[1]!;
    for (const [f, col] of Object.entries(ref.frames)) {
      col.forEach((want, mel) => assert.ok(Math.abs(m[mel * frames + Number(f)]! - want) < 2e-4, `${kind} frame ${f} mel ${mel}: ${m[mel * frames + Number(f)]} vs ${want}`));
    }
    const mean = m.reduce((a, b) => a + b, 0) / m.length;
    const max = m.reduce((a, b) => Math.max(a, b), -Infinity);
    assert.ok(Math.abs(mean - ref.mean) < 1e-4 && Math.abs(max - ref.max) < 1e-4, `mean ${mean} max ${max}`);
  }
});

test('WAV decoding: PCM 16-bit and float, stereo mixed down; other files refused', () => {
  const left = Float32Array.of(0.5, -0.5, 0.25);
  const right = Float32Array.of(-0.5, 0.5, 0.25);
  const a = decodeWav(wav([left, right], 8000));
  assert.deepEqual([a.sampleRate, a.channels, a.samples.length], [8000, 2, 3]);
  assert.ok(Math.abs(a.samples[2]! - 0.25) < 1e-4 && Math.abs(a.samples[0]!) < 1e-4);
  const f = decodeWav(wav([left], 44100, 'float32'));
  assert.deepEqual(Array.from(f.samples), Array.from(left));
  assert.throws(() => decodeWav(new TextEncoder().encode('ID3\u0003mp3 data here')), (e: Error) => e instanceof UsageError && /not a WAV file/.test(e.message));
});

test('resampling keeps a tone\'s frequency and amplitude and removes what is above the new Nyquist', () => {
  const rate = 44100;
  const tone = Float32Array.from({ length: rate }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / rate) + 0.3 * Math.sin((2 * Math.PI * 12000 * i) / rate));
  const y = resample(tone, rate, SAMPLE_RATE);
  assert.equal(y.length, SAMPLE_RATE);
  // Project onto 440 Hz at 16 kHz away from the edges: amplitude 0.5; the 12 kHz part (above 8 kHz) is gone.
  let c = 0;
  let s = 0;
  let energy = 0;
  for (let i = 2000; i < 14000; i++) {
    c += y[i]! * Math.cos((2 * Math.PI * 440 * i) / SAMPLE_RATE);
    s += y[i]! * Math.sin((2 * Math.PI * 440 * i) / SAMPLE_RATE);
    energy += y[i]! ** 2;
  }
  const amp = (2 * Math.hypot(c, s)) / 12000;
  assert.ok(Math.abs(amp - 0.5) < 0.01, `440 Hz amplitude ${amp}`);
  assert.ok(Math.abs(energy / 12000 - 0.125) < 0.005, `power ${energy / 12000} (0.125 = the 440 Hz tone alone)`);
});
