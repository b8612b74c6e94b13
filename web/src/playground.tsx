/**
 * Playground — image classification: an uploaded, dropped or built-in image is resized and normalised on
 * a canvas in the browser (RGB, ImageNet mean/std, NCHW FP32), sent as a KServe v2 binary-tensor request,
 * and the first output's top-k is drawn as bars with the device, backend and time it took (Server-Timing).
 * The tensor is built here (KServe models have no pre-processing in the server); boxes are decoded by
 * core's YOLO decode (detect.ts).
 */
import { useEffect, useRef, useState } from 'react';
import { getJson, inferFp32, type IndexEntry, type ModelMeta, type PlacementPayload } from './api.js';
import { decodeYolo, isYoloShape } from './detect.js';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

export const SAMPLES: Record<string, (c: CanvasRenderingContext2D, w: number, h: number) => void> = {
  'sunset gradient': (c, w, h) => {
    const g = c.createLinearGradient(0, 0, 0, h);
    g.addColorStop(0, '#1d3b8f');
    g.addColorStop(0.55, '#f39c4a');
    g.addColorStop(1, '#3a2410');
    c.fillStyle = g;
    c.fillRect(0, 0, w, h);
    c.fillStyle = '#ffd966';
    c.beginPath();
    c.arc(w / 2, h * 0.55, w / 7, 0, Math.PI * 2);
    c.fill();
  },
  shapes: (c, w, h) => {
    c.fillStyle = '#f4f4f4';
    c.fillRect(0, 0, w, h);
    c.fillStyle = '#d33';
    c.fillRect(w * 0.1, h * 0.1, w * 0.35, h * 0.35);
    c.fillStyle = '#2a7';
    c.beginPath();
    c.arc(w * 0.68, h * 0.68, w * 0.22, 0, Math.PI * 2);
    c.fill();
    c.strokeStyle = '#35c';
    c.lineWidth = w / 30;
    c.strokeRect(w * 0.55, h * 0.1, w * 0.35, h * 0.3);
  },
};

export interface Classified {
  top: { index: number; score: number }[];
  /** A detection model's raw output ([1, 4 + C, N]), decoded with the sliders' thresholds. */
  raw?: { data: number[]; shape: number[] };
  device: string;
  backend: string;
  timing: Record<string, number>;
  roundTripMs: number;
}

/** The image input of a model: [N|-1, 3, H, W] FP32 (H, W = -1 → 224). */
export function imageInput(meta: ModelMeta): { name: string; h: number; w: number } | undefined {
  const i = meta.inputs.find((x) => x.datatype === 'FP32' && x.shape.length === 4 && x.shape[1] === 3);
  if (!i) return undefined;
  return { name: i.name, h: i.shape[2]! > 0 ? i.shape[2]! : 224, w: i.shape[3]! > 0 ? i.shape[3]! : 224 };
}

/**
 * Pixels of `src` resized to w×h → NCHW floats: 'imagenet' (classifiers: (x/255 − mean)/std) or 'unit'
 * (YOLO, as ultralytics feeds it: x/255).
 */
export function toTensor(src: CanvasImageSource, w: number, h: number, norm: 'imagenet' | 'unit' = 'imagenet'): Float32Array {
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(src, 0, 0, w, h);
  const px = ctx.getImageData(0, 0, w, h).data;
  const out = new Float32Array(3 * w * h);
  const plane = w * h;
  for (let i = 0; i < plane; i++) {
    for (let ch = 0; ch < 3; ch++) out[ch * plane + i] = norm === 'unit' ? px[i * 4 + ch]! / 255 : (px[i * 4 + ch]! / 255 - MEAN[ch]!) / STD[ch]!;
  }
  return out;
}

function topK(values: number[], k: number): { index: number; score: number }[] {
  const probs = values.every((v) => v >= 0) && Math.abs(values.reduce((a, b) => a + b, 0) - 1) < 1e-3 ? values : softmax(values);
  return probs
    .map((score, index) => ({ index, score }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}
function softmax(v: number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

export function PlaygroundPage({ index }: { index: IndexEntry[] }) {
  const ready = [...new Set(index.filter((e) => e.state === 'READY').map((e) => e.name))].sort();
  const [model, setModel] = useState('');
  const [meta, setMeta] = useState<ModelMeta>();
  const [result, setResult] = useState<Classified>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [source, setSource] = useState<string>();
  const [conf, setConf] = useState(0.25);
  const [iouT, setIouT] = useState(0.45);
  const preview = useRef<HTMLCanvasElement>(null);
  const overlay = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    if (!model && ready.length) setModel(ready.find((n) => n.includes('convnet') || n.includes('mobilenet')) ?? ready[0]!);
  }, [ready.join(','), model]);
  useEffect(() => {
    if (!model) return;
    setMeta(undefined);
    getJson<ModelMeta>(`/v2/models/${encodeURIComponent(model)}`).then(setMeta, (err: Error) => setError(err.message));
  }, [model]);
  const input = meta ? imageInput(meta) : undefined;
  const detector = !!meta?.outputs[0] && isYoloShape(meta.outputs[0].shape);

  const run = async (draw: (c: CanvasRenderingContext2D, w: number, h: number) => void, label: string): Promise<void> => {
    const cv = preview.current!;
    const ctx = cv.getContext('2d')!;
    ctx.clearRect(0, 0, cv.width, cv.height);
    draw(ctx, cv.width, cv.height);
    setSource(label);
    if (!input) return;
    setBusy(true);
    setError(undefined);
    try {
      const data = toTensor(cv, input.w, input.h, detector ? 'unit' : 'imagenet');
      const [r, pl] = await Promise.all([
        inferFp32(model, input.name, [1, 3, input.h, input.w], data),
        getJson<PlacementPayload>(`/v1/placement/${encodeURIComponent(model)}`),
      ]);
      const out = r.outputs[0];
      if (!out) throw new Error('the model answered no output');
      const p = pl.models[0]?.placement[0];
      const detect = isYoloShape(out.shape);
      setResult({
        top: detect ? [] : topK(out.data, 5),
        ...(detect ? { raw: { data: out.data, shape: out.shape } } : {}),
        device: p?.device ?? '?',
        backend: p?.backend ?? '?',
        timing: r.timing,
        roundTripMs: r.roundTripMs,
      });
    } catch (err) {
      setResult(undefined);
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const detections = result?.raw && input ? decodeYolo(result.raw.data, result.raw.shape, { width: input.w, height: input.h }, conf, iouT) : [];
  useEffect(() => {
    const cv = overlay.current;
    if (!cv) return;
    const ctx = cv.getContext('2d')!;
    ctx.clearRect(0, 0, cv.width, cv.height);
    if (!input) return;
    const sx = cv.width / input.w;
    const sy = cv.height / input.h;
    ctx.lineWidth = 2;
    ctx.font = '12px system-ui';
    for (const d of detections) {
      const [x1, y1, x2, y2] = d.box;
      ctx.strokeStyle = '#f5a623';
      ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
      ctx.fillStyle = '#f5a623';
      ctx.fillText(`${d.classId} ${(d.score * 100).toFixed(0)}%`, x1 * sx + 2, Math.max(12, y1 * sy - 3));
    }
  });

  const useFile = async (file: File | undefined): Promise<void> => {
    if (!file) return;
    if (!file.type.startsWith('image/')) {
      setError(`${file.name} is not an image (${file.type || 'unknown type'})`);
      return;
    }
    let bmp: ImageBitmap;
    try {
      bmp = await createImageBitmap(file);
    } catch {
      setError(`${file.name} could not be decoded as an image`);
      return;
    }
    await run((c, w, h) => c.drawImage(bmp, 0, 0, w, h), file.name);
  };

  return (
    <section aria-labelledby="play-h">
      <h2 id="play-h">Playground — image classification and detection</h2>
      {ready.length === 0 && <p className="empty">No model is READY. Load one on the Models tab.</p>}
      <div className="row">
        <label>
          Model{' '}
          <select value={model} onChange={(e) => setModel(e.target.value)} aria-label="model">
            {ready.map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        {meta && !input && (
          <span className="error">
            {model} has no image input ([N, 3, H, W] FP32): its inputs are {meta.inputs.map((i) => `${i.name} ${i.datatype} [${i.shape.join(',')}]`).join('; ')}
          </span>
        )}
        {input && (
          <span className="muted small">
            input {input.name}: 1×3×{input.h}×{input.w} FP32, RGB {detector ? 'scaled to 0–1 (a YOLO-layout output)' : 'normalised with ImageNet mean/std'} in
            the browser
          </span>
        )}
      </div>
      <div className="row">
        <div
          className={`drop ${dragging ? 'over' : ''}`}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={(e) => {
            e.preventDefault();
            setDragging(false);
            void useFile(e.dataTransfer.files[0]);
          }}
        >
          <div className="stack">
            <canvas ref={preview} width={224} height={224} aria-label="input image" />
            <canvas ref={overlay} width={224} height={224} className="boxes" aria-hidden="true" />
          </div>
          <label className="file">
            Upload or drop an image <input type="file" accept="image/*" data-testid="image-file" onChange={(e) => void useFile(e.target.files?.[0])} />
          </label>
          <div>
            {Object.entries(SAMPLES).map(([name, draw]) => (
              <button key={name} type="button" disabled={!input || busy} onClick={() => void run(draw, `sample: ${name}`)}>
                Sample: {name}
              </button>
            ))}
          </div>
        </div>
        <div className="result" aria-live="polite" data-testid="classify-result">
          {busy && <p className="muted">Running…</p>}
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
          {result && !busy && (
            <>
              <p>
                <strong>{source}</strong> on{' '}
                <strong data-testid="ran-on">
                  {result.device} · {result.backend}
                </strong>
              </p>
              <p className="muted small" data-testid="timing">
                queue {result.timing['queue']?.toFixed(2) ?? '?'} ms · compute {result.timing['compute']?.toFixed(2) ?? '?'} ms · server{' '}
                {result.timing['overhead']?.toFixed(2) ?? '?'} ms · round trip {result.roundTripMs.toFixed(1)} ms
              </p>
              {result.raw && (
                <>
                  <div className="row">
                    <label>
                      confidence {conf.toFixed(2)}{' '}
                      <input
                        type="range"
                        min={0.05}
                        max={0.95}
                        step={0.05}
                        value={conf}
                        onChange={(e) => setConf(Number(e.target.value))}
                        aria-label="confidence"
                      />
                    </label>
                    <label>
                      IoU {iouT.toFixed(2)}{' '}
                      <input type="range" min={0.1} max={0.9} step={0.05} value={iouT} onChange={(e) => setIouT(Number(e.target.value))} aria-label="IoU" />
                    </label>
                  </div>
                  <ul className="detections" data-testid="detections">
                    {detections.map((d, i) => (
                      <li key={i} data-class={d.classId}>
                        class {d.classId} · {(d.score * 100).toFixed(1)}% · [{d.box.map((v) => Math.round(v)).join(', ')}]
                      </li>
                    ))}
                    {detections.length === 0 && <li className="muted">no box above {conf.toFixed(2)}</li>}
                  </ul>
                </>
              )}
              <ol className="bars">
                {result.top.map((t) => (
                  <li key={t.index} data-class={t.index}>
                    <span className="label">class {t.index}</span>
                    <span className="bar" style={{ width: `${Math.max(1, t.score * 100)}%` }} />
                    <span className="score">{(t.score * 100).toFixed(1)}%</span>
                  </li>
                ))}
              </ol>
              <p className="muted small">Class indices: the server's models carry no label files.</p>
            </>
          )}
        </div>
      </div>
    </section>
  );
}
