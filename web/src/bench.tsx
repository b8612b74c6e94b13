/**
 * Bench: choose a model and devices, start `aivmm bench` on the server (POST /v1/bench; each pair in a
 * fresh worker process), follow its progress (bench events on /v1/events), then the result table with
 * the speed-up vs the CPU and the latency distribution of each row; saved runs, and two of them compared
 * with the CLI gate's rule (GET /v1/bench/compare).
 */
import { useEffect, useMemo, useState } from 'react';
import { ApiError, getJson, postJson, request, type DevicesPayload } from './api.js';
import type { BenchCompare, BenchJobView, BenchRunSummary } from '../../src/server/routes/bench.js';
import { Chart } from './chart.js';
import type { LiveState } from './store.js';

const COLORS = ['#4fa3ff', '#f5a623', '#7ed321', '#e94b8b', '#b07cff', '#50e3c2'];
const ms = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : v < 10 ? v.toFixed(3) : v.toFixed(1));

/**
 * The rows' samples on one shared grid of log-spaced bins (0.5th–99.5th percentile of all rows; the rest
 * clamped into the end bins), as fractions of each row: latencies are long-tailed, and a GPU row may be
 * ten times faster than the CPU's, so linear bins would put every row in one or two bins.
 */
function distribution(report: NonNullable<BenchJobView['report']>, bins = 40): { x: number[]; series: { label: string; values: number[] }[] } {
  const all = report.rows.flatMap((r) => r.samples).filter((v) => v > 0).sort((a, b) => a - b);
  if (all.length === 0) return { x: [], series: [] };
  const lo = all[Math.floor(0.005 * (all.length - 1))]!;
  const hi = Math.max(all[Math.ceil(0.995 * (all.length - 1))]!, lo * 1.01);
  const step = Math.log(hi / lo) / bins;
  const x = Array.from({ length: bins }, (_, i) => lo * Math.exp((i + 0.5) * step));
  const series = report.rows.map((r) => {
    const counts = new Array<number>(bins).fill(0);
    for (const s of r.samples) counts[Math.min(bins - 1, Math.max(0, Math.floor(Math.log(Math.max(s, lo) / lo) / step)))]! += 1;
    return { label: `${r.device} ${r.backend} b${r.batch}`, values: counts.map((c) => c / Math.max(1, r.samples.length)) };
  });
  return { x, series };
}

function ResultTable({ rows }: { rows: BenchRunSummary['rows'] }) {
  return (
    <table className="grid" data-testid="bench-result">
      <thead>
        <tr>
          <th>device</th>
          <th>backend</th>
          <th>batch</th>
          <th>p50 ms</th>
          <th>p95 ms</th>
          <th>p99 ms</th>
          <th>items/s</th>
          <th>speed-up vs CPU</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={`${r.device} ${r.backend} ${r.batch}`} data-row={`${r.device} ${r.backend}`}>
            <td>
              {r.device} <span className="muted small">{r.deviceName}</span>
            </td>
            <td>{r.backend}</td>
            <td className="num">{r.batch}</td>
            <td className="num">{ms(r.p50)}</td>
            <td className="num">{ms(r.p95)}</td>
            <td className="num">{ms(r.p99)}</td>
            <td className="num">{r.itemsPerSec.toFixed(1)}</td>
            <td className="num">
              {r.speedupVsCpu !== undefined ? `${r.speedupVsCpu.toFixed(2)}×` : '–'} {r.noisy && <span className="badge warn">noisy</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function CompareView({ c }: { c: BenchCompare }) {
  const g = c.gate;
  return (
    <div data-testid="bench-compare">
      <p className={g.regressed > 0 ? 'error' : 'muted'} role="status">
        {g.regressed > 0 ? `${g.regressed} regression(s)` : 'no regression'} · {g.improved} improved · {g.unchanged} unchanged · {g.tooNoisy ?? 0} too noisy to decide (limit{' '}
        {(g.maxRegression * 100).toFixed(1)}%)
      </p>
      <table className="grid">
        <thead>
          <tr>
            <th>row</th>
            <th>baseline p50</th>
            <th>current p50</th>
            <th>ratio</th>
            <th>verdict</th>
            <th>why</th>
          </tr>
        </thead>
        <tbody>
          {g.rows.map((r) => (
            <tr key={r.key} data-verdict={r.comparison?.verdict ?? r.status}>
              <td>{r.key}</td>
              <td className="num">{ms(r.baselineP50)}</td>
              <td className="num">{ms(r.currentP50)}</td>
              <td className="num">{r.comparison ? `${r.comparison.ratio.toFixed(3)}×` : '–'}</td>
              <td>
                <span className={`badge ${r.comparison?.verdict === 'regressed' ? 'bad' : r.comparison?.verdict === 'improved' ? 'ok' : ''}`}>{r.comparison?.verdict ?? r.status}</span>
              </td>
              <td className="small">{r.comparison?.reason ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {c.warnings.map((w) => (
        <p className="muted small" key={w}>
          {w}
        </p>
      ))}
    </div>
  );
}

export function BenchPage({ live }: { live: LiveState }) {
  const models = useMemo(() => [...new Set(live.index.filter((e) => e.state === 'READY').map((e) => e.name))].sort(), [live.index]);
  const [devices, setDevices] = useState<DevicesPayload['devices']>([]);
  const [model, setModel] = useState('');
  const [chosen, setChosen] = useState<string[]>(['CPU']);
  const [batch, setBatch] = useState(1);
  const [duration, setDuration] = useState(2);
  const [repeat, setRepeat] = useState(1);
  const [error, setError] = useState<string>();
  const [job, setJob] = useState<BenchJobView>();
  const [runs, setRuns] = useState<BenchRunSummary[]>([]);
  const [pick, setPick] = useState<{ baseline?: string; current?: string }>({});
  const [compare, setCompare] = useState<BenchCompare>();
  const [compareError, setCompareError] = useState<string>();

  const refresh = async (): Promise<void> => {
    try {
      const l = await getJson<{ running?: BenchJobView; runs: BenchRunSummary[] }>('/v1/bench');
      setRuns(l.runs);
      if (l.running) setJob((j) => (j?.id === l.running!.id ? j : l.running));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  useEffect(() => {
    void refresh();
    getJson<DevicesPayload>('/v1/devices')
      .then((r) => setDevices(r.devices))
      .catch((err: unknown) => setError((err as Error).message));
  }, []);
  useEffect(() => {
    if (!model && models[0]) setModel(models[0]);
  }, [models, model]);
  // Live progress from the event stream; the finished run (with its report) is read once it ends.
  const ev = live.bench;
  useEffect(() => {
    if (!ev || (job && ev.id !== job.id)) return;
    if (ev.state === 'running') setJob((j) => ({ ...(j ?? {}), ...ev }) as BenchJobView);
    else
      void getJson<BenchJobView>(`/v1/bench/${ev.id}`)
        .then((v) => {
          setJob(v);
          void refresh();
        })
        .catch((err: unknown) => setError((err as Error).message));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ev]);

  const start = async (): Promise<void> => {
    setError(undefined);
    try {
      const v = await postJson<BenchJobView>('/v1/bench', { model, devices: chosen, batch, duration, repeat });
      setJob(v);
    } catch (err) {
      setError(err instanceof ApiError ? `${err.message}${err.code ? ` [${err.code}]` : ''}` : String(err));
    }
  };
  const cancel = async (): Promise<void> => {
    if (job) await request(`/v1/bench/${job.id}`, { method: 'DELETE' }).catch((err: unknown) => setError((err as Error).message));
  };
  const doCompare = async (): Promise<void> => {
    setCompareError(undefined);
    setCompare(undefined);
    try {
      setCompare(await getJson<BenchCompare>(`/v1/bench/compare?baseline=${pick.baseline}&current=${pick.current}`));
    } catch (err) {
      setCompareError((err as Error).message);
    }
  };
  const running = job?.state === 'running';
  const dist = job?.report ? distribution(job.report) : undefined;
  const p = job?.progress;
  return (
    <section aria-labelledby="bench-h">
      <h2 id="bench-h">Bench</h2>
      <p className="muted small">
        Runs <code>aivmm bench</code> on the server: each (device, backend) pair in a fresh worker process, one benchmark at a time. Results are saved under the
        server's cache dir and can be compared with the CLI gate's rule (<code>--repeat 3</code> on both sides lets it decide).
      </p>
      <form
        className="bench-form"
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        <label>
          model{' '}
          <input list="bench-models" value={model} onChange={(e) => setModel(e.target.value)} placeholder="served name or alias" required data-testid="bench-model" />
          <datalist id="bench-models">
            {models.map((m) => (
              <option key={m} value={m} />
            ))}
          </datalist>
        </label>
        <fieldset>
          <legend>devices</legend>
          {(devices.length ? devices.map((d) => d.id) : ['CPU']).map((id) => (
            <label key={id}>
              <input
                type="checkbox"
                checked={chosen.includes(id)}
                onChange={(e) => setChosen((c) => (e.target.checked ? [...c, id] : c.filter((x) => x !== id)))}
              />{' '}
              {id}
            </label>
          ))}
        </fieldset>
        <label>
          batch <input type="number" min={1} max={256} value={batch} onChange={(e) => setBatch(Number(e.target.value))} />
        </label>
        <label>
          seconds per row <input type="number" min={0.1} max={120} step={0.1} value={duration} onChange={(e) => setDuration(Number(e.target.value))} />
        </label>
        <label>
          processes <input type="number" min={1} max={5} value={repeat} onChange={(e) => setRepeat(Number(e.target.value))} />
        </label>
        <button type="submit" disabled={running || !model || chosen.length === 0}>
          Start
        </button>
        {running && (
          <button type="button" onClick={() => void cancel()}>
            Cancel
          </button>
        )}
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {job && (
        <article className="bench-run" data-testid="bench-run" data-state={job.state}>
          <h3>
            {job.model} <span className="muted small">{job.id} · {job.state}</span>
          </h3>
          {running && p && (
            <div>
              <progress max={1} value={p.fraction} aria-label="benchmark progress" />{' '}
              <span className="muted small">
                pair {Math.min(p.pair + 1, Math.max(1, p.pairs))} of {p.pairs || '…'} {p.device ? `· ${p.device} ${p.backend ?? ''}` : ''} · {p.phase}
                {p.lastMs !== undefined ? ` · last ${ms(p.lastMs)} ms` : ''}
              </span>
            </div>
          )}
          {job.error && <p className="error">{job.error.message}</p>}
          {job.failed.map((f) => (
            <p className="error small" key={`${f.device} ${f.backend}`}>
              {f.device} {f.backend}: {f.error}
            </p>
          ))}
          {job.rows.length > 0 && <ResultTable rows={job.rows} />}
          {dist && dist.x.length > 0 && (
            <Chart
              title="Latency distribution (share of requests per bin, log scale)"
              times={dist.x}
              xLabel=" ms"
              xLog
              steps
              series={dist.series.map((s, i) => ({ label: s.label, color: COLORS[i % COLORS.length]!, values: s.values }))}
            />
          )}
        </article>
      )}
      <h3>Saved runs</h3>
      {runs.length === 0 ? (
        <p className="empty">No saved run yet.</p>
      ) : (
        <>
          <table className="grid" data-testid="bench-runs">
            <thead>
              <tr>
                <th>baseline</th>
                <th>current</th>
                <th>run</th>
                <th>model</th>
                <th>devices</th>
                <th>batch</th>
                <th>s/row × processes</th>
                <th>p50 ms per row</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.id} data-run={r.id}>
                  <td>
                    <input type="radio" name="baseline" aria-label={`baseline ${r.id}`} checked={pick.baseline === r.id} onChange={() => setPick((x) => ({ ...x, baseline: r.id }))} />
                  </td>
                  <td>
                    <input type="radio" name="current" aria-label={`current ${r.id}`} checked={pick.current === r.id} onChange={() => setPick((x) => ({ ...x, current: r.id }))} />
                  </td>
                  <td className="small">{r.id}</td>
                  <td>{r.model}</td>
                  <td>{r.devices.join(', ')}</td>
                  <td className="num">{r.batch}</td>
                  <td className="num">
                    {(r.durationMs / 1000).toFixed(1)} × {r.repeat}
                  </td>
                  <td className="small">{r.rows.map((x) => `${x.device} ${x.backend}: ${ms(x.p50)}`).join(' · ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button type="button" data-testid="bench-compare-runs" disabled={!pick.baseline || !pick.current || pick.baseline === pick.current} onClick={() => void doCompare()}>
            Compare
          </button>
        </>
      )}
      {compareError && (
        <p className="error" role="alert">
          {compareError}
        </p>
      )}
      {compare && <CompareView c={compare} />}
    </section>
  );
}
