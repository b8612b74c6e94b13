/**
 * Compare devices: the same image tensor (built once in the page, as the Playground builds it) sent to two
 * served models side by side, each with its device, backend, compute time (Server-Timing) and round trip,
 * its top-5, and below them how far the two outputs are apart. A request cannot be pinned to a device, so
 * "same model on two devices" is the same file served twice (e.g. `m-cpu` on CPU and `m-gpu` on GPU.0);
 * the page proposes, for column B, a model on another device than A's. When there is none, column B says
 * why for each other device (its backend is unavailable, with the reason `aivmm devices` gives, or no
 * model is served there).
 */
import { useEffect, useState } from 'react';
import { getJson, inferFp32, type DevicesPayload, type IndexEntry, type ModelMeta, type PlacementPayload } from './api.js';
import { imageInput, SAMPLES, toTensor } from './playground.js';

interface Column {
  model: string;
  device: string;
  backend: string;
  computeMs?: number;
  roundTripMs: number;
  output: number[];
  top: { index: number; value: number }[];
}

const where = (pl: PlacementPayload | undefined, model: string): { device: string; backend: string } | undefined => pl?.models.find((m) => m.name === model)?.placement[0];

export function ComparePage({ index, revision }: { index: IndexEntry[]; revision: number }) {
  const ready = [...new Set(index.filter((e) => e.state === 'READY').map((e) => e.name))].sort();
  const [placement, setPlacement] = useState<PlacementPayload>();
  const [devices, setDevices] = useState<DevicesPayload>();
  const [a, setA] = useState('');
  const [b, setB] = useState('');
  const [sample, setSample] = useState(Object.keys(SAMPLES)[0]!);
  const [cols, setCols] = useState<(Column | { error: string })[]>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  useEffect(() => {
    Promise.all([getJson<PlacementPayload>('/v1/placement'), getJson<DevicesPayload>('/v1/devices')]).then(
      ([p, d]) => {
        setPlacement(p);
        setDevices(d);
      },
      (err: Error) => setError(err.message),
    );
  }, [revision]);
  useEffect(() => {
    if (!placement || !ready.length) return;
    const first = a && ready.includes(a) ? a : ready[0]!;
    if (first !== a) setA(first);
    const wa = where(placement, first);
    const other = ready.find((n) => n !== first && where(placement, n) && (where(placement, n)!.device !== wa?.device || where(placement, n)!.backend !== wa?.backend));
    if (!b || !ready.includes(b)) setB(other ?? '');
  }, [placement, ready.join(',')]);

  const wa = where(placement, a);
  const wb = b ? where(placement, b) : undefined;
  // Why column B has nothing to run: each other (device, backend) and what keeps it out.
  const reasons = (devices?.devices ?? []).flatMap((d) =>
    d.backends
      .filter((x) => !(d.id === wa?.device && x.backend === wa?.backend))
      .map((x) => ({
        key: `${d.id} · ${x.backend}`,
        why: !x.available ? `unavailable: ${x.reason ?? 'no reason given'}` : `no served model is on it (serve one there: aivmm serve model.onnx --device ${d.id})`,
      })),
  );
  if (devices && !devices.devices.some((d) => d.kind === 'gpu')) reasons.push({ key: 'GPU', why: 'no GPU on this machine' });

  const run = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setCols(undefined);
    try {
      const metas = await Promise.all([a, b].filter(Boolean).map((m) => getJson<ModelMeta>(`/v2/models/${encodeURIComponent(m)}`)));
      const inputs = metas.map((m) => imageInput(m));
      const i0 = inputs[0];
      if (!i0) throw new Error(`${a} has no image input ([N, 3, H, W] FP32)`);
      const cv = document.createElement('canvas');
      cv.width = 224;
      cv.height = 224;
      SAMPLES[sample]!(cv.getContext('2d')!, 224, 224);
      const data = toTensor(cv, i0.w, i0.h);
      const out: (Column | { error: string })[] = [];
      // One after the other, so neither run slows the other down.
      for (const [k, m] of [a, b].filter(Boolean).entries()) {
        const inp = inputs[k];
        if (!inp || inp.w !== i0.w || inp.h !== i0.h) {
          out.push({ error: `${m} does not take the same input as ${a} (${inp ? `${inp.w}×${inp.h}` : 'no image input'}): not the same model` });
          continue;
        }
        try {
          const r = await inferFp32(m, inp.name, [1, 3, inp.h, inp.w], data);
          const o = r.outputs[0]?.data ?? [];
          const w = where(placement, m);
          out.push({
            model: m,
            device: w?.device ?? '?',
            backend: w?.backend ?? '?',
            ...(r.timing['compute'] !== undefined ? { computeMs: r.timing['compute'] } : {}),
            roundTripMs: r.roundTripMs,
            output: o,
            top: o
              .map((value, index) => ({ index, value }))
              .sort((x, y) => y.value - x.value)
              .slice(0, 5),
          });
        } catch (err) {
          out.push({ error: `${m}: ${(err as Error).message}` });
        }
      }
      setCols(out);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const [ca, cb] = (cols ?? []) as (Column | { error: string } | undefined)[];
  const both = ca && cb && 'output' in ca && 'output' in cb ? ([ca, cb] as const) : undefined;
  const maxDiff = both && both[0].output.length === both[1].output.length ? Math.max(...both[0].output.map((x, i) => Math.abs(x - both[1].output[i]!))) : undefined;

  const column = (c: Column | { error: string } | undefined, label: string) => (
    <div className="result" data-testid={`compare-${label}`} style={{ flex: 1, minWidth: 260 }}>
      {c && 'error' in c && (
        <p className="error" role="alert">
          {c.error}
        </p>
      )}
      {c && 'output' in c && (
        <>
          <p>
            <strong>{c.model}</strong> on{' '}
            <strong data-testid="ran-on">
              {c.device} · {c.backend}
            </strong>
          </p>
          <p className="muted small" data-testid="timing">
            compute {c.computeMs?.toFixed(2) ?? '?'} ms · round trip {c.roundTripMs.toFixed(1)} ms
          </p>
          <ol className="bars">
            {c.top.map((t) => (
              <li key={t.index} data-class={t.index}>
                <span className="label">class {t.index}</span>
                <span className="score">{t.value.toFixed(4)}</span>
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );

  return (
    <section aria-labelledby="cmp-h">
      <h2 id="cmp-h">Compare devices</h2>
      {ready.length === 0 && <p className="empty">No model is READY. Load one on the Models tab.</p>}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="row">
        <label>
          A{' '}
          <select aria-label="model A" value={a} onChange={(e) => setA(e.target.value)}>
            {ready.map((n) => (
              <option key={n} value={n}>
                {n} ({where(placement, n)?.device ?? '?'} · {where(placement, n)?.backend ?? '?'})
              </option>
            ))}
          </select>
        </label>
        <label>
          B{' '}
          <select aria-label="model B" value={b} onChange={(e) => setB(e.target.value)}>
            <option value="">(none)</option>
            {ready
              .filter((n) => n !== a)
              .map((n) => (
                <option key={n} value={n}>
                  {n} ({where(placement, n)?.device ?? '?'} · {where(placement, n)?.backend ?? '?'})
                </option>
              ))}
          </select>
        </label>
        <label>
          Input{' '}
          <select aria-label="input" value={sample} onChange={(e) => setSample(e.target.value)}>
            {Object.keys(SAMPLES).map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <button type="button" disabled={!a || busy} onClick={() => void run()}>
          Run on both
        </button>
        {wa && wb && wa.device === wb.device && wa.backend === wb.backend && <span className="muted small">A and B are on the same device and backend</span>}
      </div>
      {busy && <p className="muted">Running…</p>}
      <div className="row" style={{ alignItems: 'flex-start' }}>
        {column(ca, 'a')}
        {b ? (
          column(cb, 'b')
        ) : (
          <div className="result" data-testid="compare-b" style={{ flex: 1, minWidth: 260 }}>
            <p>
              <strong>No second device</strong> for {a || 'this model'}: no other READY model is placed elsewhere.
            </p>
            <ul className="muted small" data-testid="compare-reasons">
              {reasons.map((r) => (
                <li key={r.key}>
                  {r.key}: {r.why}
                </li>
              ))}
            </ul>
          </div>
        )}
      </div>
      {maxDiff !== undefined && both && (
        <p data-testid="compare-diff">
          top-1 {both[0].top[0]?.index === both[1].top[0]?.index ? 'agrees' : 'differs'} · max |A − B| = {maxDiff.toExponential(2)}
        </p>
      )}
    </section>
  );
}
