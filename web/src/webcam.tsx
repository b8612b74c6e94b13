/**
 * Webcam: the camera's frames (getUserMedia) go as JPEG bytes over a WebSocket to GET /v1/stream/{model},
 * an image-task pipeline (detection or classification) that decodes, pre-processes and post-processes in
 * the model's lane. Frames are offered at the camera's rate (when the socket's buffer is empty); the
 * server runs one at a time and drops the older waiting ones, so the boxes are redrawn at the rate the
 * device sustains: the fps shown is answers per second, with the server's time per frame and the frames
 * it dropped.
 */
import { useEffect, useRef, useState } from 'react';
import { getJson, openStream, type PsPayload, type StreamMessage } from './api.js';

type Result = Extract<StreamMessage, { type: 'result' }>;
const IMAGE_TASKS = ['object-detection', 'image-classification'];

export function WebcamPage({ revision }: { revision: number }) {
  const [models, setModels] = useState<{ name: string; task?: string }[]>();
  const [model, setModel] = useState('');
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string>();
  const [ready, setReady] = useState<Extract<StreamMessage, { type: 'ready' }>>();
  const [last, setLast] = useState<Result>();
  const [fps, setFps] = useState(0);
  const [frames, setFrames] = useState(0);
  const video = useRef<HTMLVideoElement>(null);
  const overlay = useRef<HTMLCanvasElement>(null);
  const stopRef = useRef<(() => void) | null>(null);

  useEffect(() => {
    getJson<PsPayload>('/v1/ps').then(
      (ps) => setModels(ps.pipelines.filter((p) => !p.task || IMAGE_TASKS.includes(p.task)).map((p) => ({ name: p.name, ...(p.task ? { task: p.task } : {}) }))),
      (err: Error) => setError(err.message),
    );
  }, [revision]);
  useEffect(() => {
    if (!model && models?.length) setModel(models.find((m) => m.task === 'object-detection')?.name ?? models[0]!.name);
  }, [models, model]);
  useEffect(() => () => stopRef.current?.(), []);

  // Boxes in the sent frame's pixels → the video element's box.
  useEffect(() => {
    const cv = overlay.current;
    if (!cv) return;
    const ctx = cv.getContext('2d')!;
    ctx.clearRect(0, 0, cv.width, cv.height);
    if (!running || !last?.detections || !last.width || !last.height) return;
    const sx = cv.width / last.width;
    const sy = cv.height / last.height;
    ctx.lineWidth = 2;
    ctx.font = '13px system-ui';
    for (const d of last.detections) {
      const [x1, y1, x2, y2] = d.box;
      ctx.strokeStyle = '#f5a623';
      ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
      ctx.fillStyle = '#f5a623';
      ctx.fillText(`${d.label ?? `class ${d.classId}`} ${(d.score * 100).toFixed(0)}%`, x1 * sx + 2, Math.max(13, y1 * sy - 3));
    }
  }, [last, running]);

  const start = async (): Promise<void> => {
    setError(undefined);
    setLast(undefined);
    setReady(undefined);
    setFrames(0);
    setFps(0);
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
    const ws = openStream(model);
    const grab = document.createElement('canvas');
    let timer: ReturnType<typeof setInterval> | undefined;
    let stopped = false;
    let encoding = false;
    const answered: number[] = [];
    let count = 0;
    const stop = (why?: string): void => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (ws.readyState <= WebSocket.OPEN) ws.close();
      for (const t of stream.getTracks()) t.stop();
      v.srcObject = null;
      setRunning(false);
      if (why) setError(why);
    };
    stopRef.current = () => stop();
    setRunning(true);
    ws.onmessage = (ev) => {
      const m = JSON.parse(String(ev.data)) as StreamMessage;
      if (m.type === 'ready') {
        setReady(m);
        // Offer a frame every 33 ms when the previous one has left the socket's buffer.
        timer = setInterval(() => {
          if (encoding || ws.bufferedAmount > 0 || ws.readyState !== WebSocket.OPEN || !v.videoWidth) return;
          encoding = true;
          grab.width = v.videoWidth;
          grab.height = v.videoHeight;
          grab.getContext('2d')!.drawImage(v, 0, 0);
          grab.toBlob(
            (b) => {
              encoding = false;
              if (b && !stopped) void b.arrayBuffer().then((buf) => ws.readyState === WebSocket.OPEN && ws.send(buf));
            },
            'image/jpeg',
            0.8,
          );
        }, 33);
      } else if (m.type === 'result') {
        const now = performance.now();
        answered.push(now);
        while (answered.length && answered[0]! < now - 2000) answered.shift();
        count++;
        setFrames(count);
        setFps(answered.length > 1 ? ((answered.length - 1) * 1000) / (now - answered[0]!) : 0);
        setLast(m);
      } else {
        setError(`${m.frame !== undefined ? `frame ${m.frame}: ` : ''}${m.error}${m.hint ? ` (${m.hint})` : ''}`);
      }
    };
    ws.onclose = (ev) => stop(ev.code === 1000 || ev.code === 1005 || stopped ? undefined : `the stream closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`);
    ws.onerror = () => stop('the stream failed: the server does not answer, or refused the connection (API key?)');
  };

  const list = models ?? [];
  return (
    <section aria-labelledby="cam-h">
      <h2 id="cam-h">Webcam — live detection</h2>
      {models && list.length === 0 && (
        <p className="empty">
          No image-task pipeline is served. Serve a detector or classifier as a task, e.g. <code>aivmm serve yolov8n.onnx --task object-detection</code>.
        </p>
      )}
      <div className="row">
        <label>
          Model{' '}
          <select aria-label="webcam model" value={model} disabled={running} onChange={(e) => setModel(e.target.value)}>
            {list.map((m) => (
              <option key={m.name} value={m.name}>
                {m.name}
                {m.task ? ` (${m.task})` : ''}
              </option>
            ))}
          </select>
        </label>
        {!running ? (
          <button type="button" disabled={!model} onClick={() => void start()}>
            Start camera
          </button>
        ) : (
          <button type="button" onClick={() => stopRef.current?.()}>
            Stop
          </button>
        )}
        {ready && (
          <span className="muted small" data-testid="webcam-ran-on">
            {ready.device} · {ready.backend}
          </span>
        )}
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="cam">
        <video ref={video} muted playsInline width={480} height={360} aria-label="camera" />
        <canvas ref={overlay} width={480} height={360} aria-hidden="true" style={{ position: 'absolute', left: 0, top: 0, pointerEvents: 'none' }} />
        {running && last && (
          <div className="overlay" data-testid="webcam-overlay">
            <span data-testid="webcam-fps">{fps.toFixed(1)} fps</span> · {last.ms.toFixed(1)} ms in the server · <span data-testid="webcam-frames">{frames}</span>{' '}
            frames · <span data-testid="webcam-dropped">{last.dropped}</span> dropped
          </div>
        )}
      </div>
      {running && last && (
        <ul className="detections" data-testid="webcam-detections" aria-live="off">
          {last.detections?.map((d, i) => (
            <li key={i}>
              {d.label ?? `class ${d.classId}`} · {(d.score * 100).toFixed(1)}%
            </li>
          ))}
          {last.top?.slice(0, 3).map((c) => (
            <li key={c.index}>
              {c.label ?? `class ${c.index}`} · {(c.probability * 100).toFixed(1)}%
            </li>
          ))}
          {last.detections?.length === 0 && <li className="muted">no box above the threshold</li>}
        </ul>
      )}
    </section>
  );
}
