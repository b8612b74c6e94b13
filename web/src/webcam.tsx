/**
 * Webcam: the camera's frames (getUserMedia) go to the server one after another — the next frame is sent
 * when the previous answer is back, so the rate is what the device and the link sustain — as KServe v2
 * binary-tensor requests to an image model; the top class, its score and the measured fps are drawn over
 * the video. Detection boxes need a YOLO model, which none of the test fixtures is: not drawn yet.
 */
import { useEffect, useRef, useState } from 'react';
import { getJson, inferFp32, type IndexEntry, type ModelMeta } from './api.js';
import { imageInput, toTensor } from './playground.js';

interface Frame {
  top: number;
  score: number;
  computeMs: number;
}

export function WebcamPage({ index }: { index: IndexEntry[] }) {
  const ready = [...new Set(index.filter((e) => e.state === 'READY').map((e) => e.name))].sort();
  const [model, setModel] = useState('');
  const [meta, setMeta] = useState<ModelMeta>();
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string>();
  const [frame, setFrame] = useState<Frame>();
  const [fps, setFps] = useState(0);
  const [frames, setFrames] = useState(0);
  const video = useRef<HTMLVideoElement>(null);
  const stopRef = useRef<(() => void) | null>(null);

  useEffect(() => {
    if (!model && ready.length) setModel(ready[0]!);
  }, [ready.join(','), model]);
  useEffect(() => {
    if (!model) return;
    getJson<ModelMeta>(`/v2/models/${encodeURIComponent(model)}`).then(setMeta, (err: Error) => setError(err.message));
  }, [model]);
  useEffect(() => () => stopRef.current?.(), []);
  const input = meta ? imageInput(meta) : undefined;

  const start = async (): Promise<void> => {
    if (!input) return;
    setError(undefined);
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (err) {
      setError(`no camera: ${(err as Error).message}`);
      return;
    }
    const v = video.current!;
    v.srcObject = stream;
    await v.play();
    let stopped = false;
    stopRef.current = () => {
      stopped = true;
      for (const t of stream.getTracks()) t.stop();
      v.srcObject = null;
      setRunning(false);
    };
    setRunning(true);
    const done: number[] = [];
    let count = 0;
    while (!stopped) {
      try {
        const r = await inferFp32(model, input.name, [1, 3, input.h, input.w], toTensor(v, input.w, input.h));
        const out = r.outputs[0]?.data ?? [];
        let top = 0;
        for (let i = 1; i < out.length; i++) if (out[i]! > out[top]!) top = i;
        const now = performance.now();
        done.push(now);
        while (done.length && done[0]! < now - 2000) done.shift();
        count++;
        setFrames(count);
        setFps(done.length > 1 ? ((done.length - 1) * 1000) / (now - done[0]!) : 0);
        setFrame({ top, score: out[top] ?? 0, computeMs: r.timing['compute'] ?? Number.NaN });
      } catch (err) {
        setError((err as Error).message);
        stopRef.current?.();
      }
    }
  };

  return (
    <section aria-labelledby="cam-h">
      <h2 id="cam-h">Webcam</h2>
      {ready.length === 0 && <p className="empty">No model is READY. Load one on the Models tab.</p>}
      <div className="row">
        <label>
          Model{' '}
          <select aria-label="webcam model" value={model} disabled={running} onChange={(e) => setModel(e.target.value)}>
            {ready.map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        {!running ? (
          <button type="button" disabled={!input} onClick={() => void start()}>
            Start camera
          </button>
        ) : (
          <button type="button" onClick={() => stopRef.current?.()}>
            Stop
          </button>
        )}
        {meta && !input && <span className="error">{model} has no image input ([N, 3, H, W] FP32)</span>}
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="cam">
        <video ref={video} muted playsInline width={480} height={360} aria-label="camera" />
        {running && frame && (
          <div className="overlay" data-testid="webcam-overlay">
            class {frame.top} · {(frame.score * 100).toFixed(1)}% · <span data-testid="webcam-fps">{fps.toFixed(1)} fps</span> · compute{' '}
            {frame.computeMs.toFixed(1)} ms · <span data-testid="webcam-frames">{frames}</span> frames
          </div>
        )}
      </div>
    </section>
  );
}
