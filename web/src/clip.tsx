/**
 * CLIP zero-shot: an image (upload or a built-in sample) and candidate labels go to POST /v1/tasks/{model}
 * (?candidates=a,b,c&hypothesis=…), a zero-shot-image-classification pipeline; the server runs both towers
 * and answers each label's softmax probability and cosine similarity, drawn as bars with the device,
 * backend and round trip.
 */
import { useEffect, useRef, useState } from 'react';
import { getJson, pipelineInfo, postBytes, type PipelineInfo, type PsPayload } from './api.js';
import { SAMPLES } from './playground.js';
import { ModelSelect } from './model-select.js';

interface Scores {
  scores: { label: string; probability: number; similarity: number }[];
}

export function ClipPage({ revision }: { revision: number }) {
  const [models, setModels] = useState<string[]>();
  const [model, setModel] = useState('');
  const [labels, setLabels] = useState('a photo of a cat, a photo of a dog, a diagram');
  const [hypothesis, setHypothesis] = useState('');
  const [image, setImage] = useState<{ blob: Blob; name: string }>();
  const [result, setResult] = useState<{ scores: Scores['scores']; info: PipelineInfo; roundTripMs: number; source: string }>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const preview = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    getJson<PsPayload>('/v1/ps').then(
      (ps) => setModels(ps.pipelines.filter((p) => p.task === 'zero-shot-image-classification').map((p) => p.name)),
      (err: Error) => setError(err.message),
    );
  }, [revision]);
  useEffect(() => {
    if (!model && models?.length) setModel(models[0]!);
  }, [models, model]);

  const draw = async (paint: (c: CanvasRenderingContext2D, w: number, h: number) => void, name: string): Promise<void> => {
    const cv = preview.current!;
    const ctx = cv.getContext('2d')!;
    ctx.clearRect(0, 0, cv.width, cv.height);
    paint(ctx, cv.width, cv.height);
    const blob = await new Promise<Blob | null>((r) => cv.toBlob(r, 'image/png'));
    if (blob) setImage({ blob, name });
  };
  const useFile = async (file: File | undefined): Promise<void> => {
    if (!file) return;
    if (!file.type.startsWith('image/')) return setError(`${file.name} is not an image (${file.type || 'unknown type'})`);
    try {
      const bmp = await createImageBitmap(file);
      setError(undefined);
      await draw((c, w, h) => c.drawImage(bmp, 0, 0, w, h), file.name);
      setImage({ blob: file, name: file.name });
    } catch {
      setError(`${file.name} could not be decoded as an image`);
    }
  };
  const candidates = labels
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const run = async (): Promise<void> => {
    if (!image || !model) return;
    setBusy(true);
    setError(undefined);
    try {
      const q = new URLSearchParams({ candidates: candidates.join(',') });
      if (hypothesis.trim()) q.set('hypothesis', hypothesis.trim());
      const [r, info] = await Promise.all([postBytes<Scores>(`/v1/tasks/${encodeURIComponent(model)}?${q}`, image.blob, image.blob.type || 'image/png'), pipelineInfo(model)]);
      setResult({ scores: r.json.scores, info, roundTripMs: r.roundTripMs, source: image.name });
    } catch (err) {
      setResult(undefined);
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="clip-h">
      <h2 id="clip-h">CLIP — zero-shot image classification</h2>
      {models && models.length === 0 && (
        <p className="empty">
          No zero-shot (CLIP) pipeline is served. Serve one, e.g. <code>aivmm serve ./clip-vit-base-patch32 --task zero-shot-image-classification</code>.
        </p>
      )}
      <div className="row">
        <ModelSelect label="clip model" models={models} value={model} onChange={setModel} />
        <label>
          Labels (comma-separated){' '}
          <input aria-label="labels" size={48} value={labels} onChange={(e) => setLabels(e.target.value)} />
        </label>
        <label>
          Template{' '}
          <input aria-label="hypothesis" placeholder="(the model's, e.g. a photo of {})" value={hypothesis} onChange={(e) => setHypothesis(e.target.value)} />
        </label>
      </div>
      <div className="row">
        <div className="drop">
          <canvas ref={preview} width={224} height={224} aria-label="input image" />
          <label className="file">
            Upload an image <input type="file" accept="image/*" data-testid="clip-file" onChange={(e) => void useFile(e.target.files?.[0])} />
          </label>
          <div>
            {Object.entries(SAMPLES).map(([name, paint]) => (
              <button key={name} type="button" onClick={() => void draw(paint, `sample: ${name}`)}>
                Sample: {name}
              </button>
            ))}
          </div>
          <button type="button" disabled={!image || !model || candidates.length === 0 || busy} onClick={() => void run()}>
            Score labels
          </button>
          {candidates.length === 0 && <span className="error">give at least one label</span>}
        </div>
        <div className="result" aria-live="polite" data-testid="clip-result">
          {busy && <p className="muted">Running…</p>}
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
          {!result && !busy && !error && <p className="muted">Pick an image and labels, then score them.</p>}
          {result && !busy && (
            <>
              <p>
                <strong>{result.source}</strong> on{' '}
                <strong data-testid="ran-on">
                  {result.info.device ?? '?'} · {result.info.backend ?? '?'}
                </strong>
              </p>
              <p className="muted small" data-testid="timing">
                round trip {result.roundTripMs.toFixed(1)} ms (both towers and the pre-processing, in the server)
              </p>
              <ol className="bars">
                {result.scores.map((s) => (
                  <li key={s.label} data-label={s.label}>
                    <span className="label">{s.label}</span>
                    <span className="bar" style={{ width: `${Math.max(1, s.probability * 100)}%` }} />
                    <span className="score">{(s.probability * 100).toFixed(1)}%</span>
                    <span className="muted small"> cos {s.similarity.toFixed(3)}</span>
                  </li>
                ))}
              </ol>
            </>
          )}
        </div>
      </div>
    </section>
  );
}
