/**
 * Audio front end for speech recognition: WAV decoding (PCM 8/16/24/32-bit, float 32/64, extensible),
 * mixdown to mono, band-limited resampling to 16 kHz, and Whisper's log-mel spectrogram (openai/whisper
 * audio.py: n_fft 400, hop 160, 80 Slaney mel bins, periodic Hann, centred reflect-padded STFT, 30 s
 * window, log10 clamped at max − 8, (x + 4) / 4). Checked against values computed independently with
 * numpy (scripts/reference/whisper_mel.py).
 */
import { UsageError } from '../errors.js';

export const SAMPLE_RATE = 16000;
export const N_FFT = 400;
export const HOP = 160;
export const N_MELS = 80;
export const CHUNK_SECONDS = 30;

export interface Audio {
  sampleRate: number;
  /** Mono samples in [-1, 1]. */
  samples: Float32Array;
  channels: number;
}

/** Decodes a RIFF/WAVE file; anything else is refused with what to convert to. */
export function decodeWav(buf: Uint8Array, label = 'audio'): Audio {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = (o: number): string => String.fromCharCode(...buf.subarray(o, o + 4));
  if (buf.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new UsageError(`${label} is not a WAV file`, 'convert it first, e.g. ffmpeg -i input.mp3 -ar 16000 -ac 1 output.wav');
  }
  let format = 0;
  let channels = 0;
  let sampleRate = 0;
  let bits = 0;
  let data: Uint8Array | undefined;
  for (let o = 12; o + 8 <= buf.length; ) {
    const id = tag(o);
    const size = view.getUint32(o + 4, true);
    const body = o + 8;
    if (id === 'fmt ') {
      format = view.getUint16(body, true);
      channels = view.getUint16(body + 2, true);
      sampleRate = view.getUint32(body + 4, true);
      bits = view.getUint16(body + 14, true);
      if (format === 0xfffe && size >= 26) format = view.getUint16(body + 24, true); // WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
    } else if (id === 'data') {
      data = buf.subarray(body, Math.min(buf.length, body + size));
    }
    o = body + size + (size % 2);
  }
  if (!data || !channels || !sampleRate) throw new UsageError(`${label}: a WAV file without fmt or data`, 'the file is damaged or truncated');
  const bytes = bits / 8;
  const frames = Math.floor(data.length / (bytes * channels));
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const read = (i: number): number => {
    const o = i * bytes;
    if (format === 3 && bits === 32) return dv.getFloat32(o, true);
    if (format === 3 && bits === 64) return dv.getFloat64(o, true);
    if (format !== 1) return NaN;
    switch (bits) {
      case 8:
        return (dv.getUint8(o) - 128) / 128;
      case 16:
        return dv.getInt16(o, true) / 32768;
      case 24: {
        const v = dv.getUint8(o) | (dv.getUint8(o + 1) << 8) | (dv.getInt8(o + 2) << 16);
        return v / 8388608;
      }
      case 32:
        return dv.getInt32(o, true) / 2147483648;
      default:
        return NaN;
    }
  };
  if (Number.isNaN(read(0)) && frames > 0) throw new UsageError(`${label}: WAV encoding ${format === 3 ? 'float' : `format ${format}`} with ${bits} bits is not supported`, 'use PCM 8/16/24/32-bit or float 32/64-bit');
  const samples = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    let s = 0;
    for (let c = 0; c < channels; c++) s += read(f * channels + c);
    samples[f] = s / channels;
  }
  return { sampleRate, samples, channels };
}

/**
 * Band-limited resampling: windowed-sinc interpolation (Hann-windowed, 16 zero crossings a side),
 * cut-off at the lower Nyquist frequency so downsampling does not alias.
 */
export function resample(x: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return x;
  const ratio = to / from;
  const n = Math.floor(x.length * ratio);
  const out = new Float32Array(n);
  const cutoff = Math.min(1, ratio); // of the input's Nyquist
  const half = 16 / cutoff; // taps a side, in input samples
  for (let i = 0; i < n; i++) {
    const t = i / ratio;
    const lo = Math.max(0, Math.ceil(t - half));
    const hi = Math.min(x.length - 1, Math.floor(t + half));
    let acc = 0;
    for (let j = lo; j <= hi; j++) {
      const d = j - t;
      const arg = Math.PI * d * cutoff;
      const sinc = d === 0 ? 1 : Math.sin(arg) / arg;
      const w = 0.5 + 0.5 * Math.cos((Math.PI * d) / (half + 1));
      acc += x[j]! * sinc * w * cutoff;
    }
    out[i] = acc;
  }
  return out;
}

function hzToMel(f: number): number {
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = minLogHz / fSp;
  const logstep = Math.log(6.4) / 27;
  return f >= minLogHz ? minLogMel + Math.log(f / minLogHz) / logstep : f / fSp;
}

function melToHz(m: number): number {
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = minLogHz / fSp;
  const logstep = Math.log(6.4) / 27;
  return m >= minLogMel ? minLogHz * Math.exp(logstep * (m - minLogMel)) : fSp * m;
}

let filters: Float64Array[] | undefined;

/** librosa.filters.mel(sr=16000, n_fft=400, n_mels=80) (Slaney scale and normalisation). */
export function melFilters(): Float64Array[] {
  if (filters) return filters;
  const bins = N_FFT / 2 + 1;
  const fft = Array.from({ length: bins }, (_, k) => (k * SAMPLE_RATE) / N_FFT);
  const lo = hzToMel(0);
  const hi = hzToMel(SAMPLE_RATE / 2);
  const melF = Array.from({ length: N_MELS + 2 }, (_, i) => melToHz(lo + ((hi - lo) * i) / (N_MELS + 1)));
  filters = Array.from({ length: N_MELS }, (_, m) => {
    const row = new Float64Array(bins);
    const enorm = 2 / (melF[m + 2]! - melF[m]!);
    for (let k = 0; k < bins; k++) {
      const lower = (fft[k]! - melF[m]!) / (melF[m + 1]! - melF[m]!);
      const upper = (melF[m + 2]! - fft[k]!) / (melF[m + 2]! - melF[m + 1]!);
      row[k] = Math.max(0, Math.min(lower, upper)) * enorm;
    }
    return row;
  });
  return filters;
}

let tables: { window: Float64Array; cos: Float64Array; sin: Float64Array } | undefined;

/** The periodic Hann window and the real DFT's cos/sin tables for n_fft = 400, built once. */
function dftTables(): { window: Float64Array; cos: Float64Array; sin: Float64Array } {
  if (tables) return tables;
  const bins = N_FFT / 2 + 1;
  const window = Float64Array.from({ length: N_FFT }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N_FFT));
  const cos = new Float64Array(bins * N_FFT);
  const sin = new Float64Array(bins * N_FFT);
  for (let k = 0; k < bins; k++) {
    for (let t = 0; t < N_FFT; t++) {
      const a = (2 * Math.PI * k * t) / N_FFT;
      cos[k * N_FFT + t] = Math.cos(a);
      sin[k * N_FFT + t] = Math.sin(a);
    }
  }
  tables = { window, cos, sin };
  return tables;
}

/** Whisper's input: [80, 3000] log-mel features of the first 30 s (zero-padded), row-major. */
export function logMel(samples: Float32Array): Float32Array {
  const n = CHUNK_SECONDS * SAMPLE_RATE;
  const audio = new Float64Array(n);
  audio.set(samples.subarray(0, n));
  const pad = N_FFT / 2;
  const padded = new Float64Array(n + 2 * pad);
  padded.set(audio, pad);
  for (let i = 1; i <= pad; i++) {
    padded[pad - i] = audio[i]!; // reflect
    padded[pad + n - 1 + i] = audio[n - 1 - i]!;
  }
  const frames = 1 + Math.floor((padded.length - N_FFT) / HOP) - 1; // the last frame is dropped
  const bins = N_FFT / 2 + 1;
  const { window, cos, sin } = dftTables();
  const mel = melFilters();
  const out = new Float32Array(N_MELS * frames);
  const frame = new Float64Array(N_FFT);
  const power = new Float64Array(bins);
  let max = -Infinity;
  for (let f = 0; f < frames; f++) {
    const start = f * HOP;
    let silent = true;
    for (let t = 0; t < N_FFT; t++) {
      frame[t] = padded[start + t]! * window[t]!;
      if (frame[t] !== 0) silent = false;
    }
    if (silent) power.fill(0);
    else {
      for (let k = 0; k < bins; k++) {
        let re = 0;
        let im = 0;
        const base = k * N_FFT;
        for (let t = 0; t < N_FFT; t++) {
          re += frame[t]! * cos[base + t]!;
          im -= frame[t]! * sin[base + t]!;
        }
        power[k] = re * re + im * im;
      }
    }
    for (let m = 0; m < N_MELS; m++) {
      const row = mel[m]!;
      let s = 0;
      for (let k = 0; k < bins; k++) s += row[k]! * power[k]!;
      const v = Math.log10(Math.max(s, 1e-10));
      out[m * frames + f] = v;
      if (v > max) max = v;
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = (Math.max(out[i]!, max - 8) + 4) / 4;
  return out;
}
