/**
 * Speech to text: a WAV file (upload) or a recording from the microphone (MediaRecorder, decoded in the
 * page and written as 16-bit mono WAV) goes to POST /v1/audio/transcriptions (multipart, verbose_json),
 * a Whisper-style pipeline; the server decodes, resamples to 16 kHz, computes the log-mel and decodes
 * greedily. The transcript, language and duration are shown with the device, backend and round trip.
 */
import { useEffect, useRef, useState } from 'react';
import { getJson, pipelineInfo, postForm, type PipelineInfo, type PsPayload } from './api.js';
import { ModelSelect } from './model-select.js';

interface Transcript {
  text: string;
  language: string;
  duration: number;
}

/** Samples (−1…1, one channel) → a 16-bit PCM WAV file. */
export function encodeWav(samples: Float32Array, sampleRate: number): Blob {
  const buf = new ArrayBuffer(44 + samples.length * 2);
  const v = new DataView(buf);
  const ascii = (at: number, s: string): void => [...s].forEach((c, i) => v.setUint8(at + i, c.charCodeAt(0)));
  ascii(0, 'RIFF');
  v.setUint32(4, 36 + samples.length * 2, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  ascii(36, 'data');
  v.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) v.setInt16(44 + i * 2, Math.max(-1, Math.min(1, samples[i]!)) * 0x7fff, true);
  return new Blob([buf], { type: 'audio/wav' });
}

export function SpeechPage({ revision }: { revision: number }) {
  const [models, setModels] = useState<string[]>();
  const [model, setModel] = useState('');
  const [audio, setAudio] = useState<{ blob: Blob; name: string }>();
  const [maxTokens, setMaxTokens] = useState(224);
  const [recording, setRecording] = useState(false);
  const [result, setResult] = useState<{ t: Transcript; info: PipelineInfo; roundTripMs: number; source: string }>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const stopRec = useRef<(() => void) | null>(null);

  useEffect(() => {
    getJson<PsPayload>('/v1/ps').then(
      (ps) => setModels(ps.pipelines.filter((p) => p.task === 'automatic-speech-recognition').map((p) => p.name)),
      (err: Error) => setError(err.message),
    );
  }, [revision]);
  useEffect(() => {
    if (!model && models?.length) setModel(models[0]!);
  }, [models, model]);
  useEffect(() => () => stopRec.current?.(), []);

  const record = async (): Promise<void> => {
    setError(undefined);
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch (err) {
      setError(`no microphone: ${(err as Error).message}`);
      return;
    }
    const rec = new MediaRecorder(stream);
    const chunks: Blob[] = [];
    rec.ondataavailable = (e) => e.data.size && chunks.push(e.data);
    rec.onstop = async () => {
      for (const t of stream.getTracks()) t.stop();
      setRecording(false);
      try {
        const ctx = new AudioContext();
        const decoded = await ctx.decodeAudioData(await new Blob(chunks).arrayBuffer());
        await ctx.close();
        const mono = new Float32Array(decoded.length);
        for (let c = 0; c < decoded.numberOfChannels; c++) decoded.getChannelData(c).forEach((x, i) => (mono[i]! += x / decoded.numberOfChannels));
        setAudio({ blob: encodeWav(mono, decoded.sampleRate), name: `recording (${decoded.duration.toFixed(1)} s)` });
      } catch (err) {
        setError(`the recording could not be decoded: ${(err as Error).message}`);
      }
    };
    stopRec.current = () => rec.state === 'recording' && rec.stop();
    rec.start();
    setRecording(true);
  };

  const run = async (): Promise<void> => {
    if (!audio || !model) return;
    setBusy(true);
    setError(undefined);
    try {
      const form = new FormData();
      form.set('file', audio.blob, 'speech.wav');
      form.set('model', model);
      form.set('response_format', 'verbose_json');
      form.set('max_tokens', String(maxTokens));
      const [r, info] = await Promise.all([postForm<Transcript>('/v1/audio/transcriptions', form), pipelineInfo(model)]);
      setResult({ t: r.json, info, roundTripMs: r.roundTripMs, source: audio.name });
    } catch (err) {
      setResult(undefined);
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="speech-h">
      <h2 id="speech-h">Speech to text</h2>
      {models && models.length === 0 && (
        <p className="empty">
          No speech-recognition pipeline is served. Serve a Whisper export, e.g. <code>aivmm serve ./whisper-tiny --task automatic-speech-recognition</code>.
        </p>
      )}
      <div className="row">
        <ModelSelect label="speech model" models={models} value={model} onChange={setModel} />
        <label>
          Max tokens{' '}
          <input aria-label="max tokens" type="number" min={1} max={440} value={maxTokens} onChange={(e) => setMaxTokens(Number(e.target.value))} />
        </label>
      </div>
      <div className="row">
        <label className="file">
          Upload a WAV file{' '}
          <input
            type="file"
            accept="audio/wav,.wav"
            data-testid="wav-file"
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) setAudio({ blob: f, name: f.name });
            }}
          />
        </label>
        {!recording ? (
          <button type="button" onClick={() => void record()}>
            Record
          </button>
        ) : (
          <button type="button" onClick={() => stopRec.current?.()}>
            Stop recording
          </button>
        )}
        {audio && <span className="muted small" data-testid="audio-source">{audio.name}</span>}
        <button type="button" disabled={!audio || !model || busy || recording} onClick={() => void run()}>
          Transcribe
        </button>
      </div>
      <div className="result" aria-live="polite" data-testid="speech-result">
        {busy && <p className="muted">Transcribing…</p>}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {!result && !busy && !error && <p className="muted">Upload a WAV file or record, then transcribe.</p>}
        {result && !busy && (
          <>
            <p>
              <strong>{result.source}</strong> on{' '}
              <strong data-testid="ran-on">
                {result.info.device ?? '?'} · {result.info.backend ?? '?'}
              </strong>
            </p>
            <p className="muted small" data-testid="timing">
              {result.t.duration.toFixed(2)} s of audio · language {result.t.language} · round trip {result.roundTripMs.toFixed(1)} ms
            </p>
            <blockquote data-testid="transcript">{result.t.text}</blockquote>
          </>
        )}
      </div>
    </section>
  );
}
