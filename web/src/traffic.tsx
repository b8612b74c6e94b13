/**
 * Traffic: per model version, live from the stats events: requests/s and errors/s; p50/p95/p99 of the
 * server-side time per request over the server's last minute (its rolling window, core/serve-metrics);
 * queue vs compute (p50 and p95); the batch-size histogram and the errors by reason of that minute.
 */
import { Chart } from './chart.js';
import type { LiveState } from './store.js';
import type { TrafficWindow } from './api.js';

const nan = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** Horizontal bars for counts by key (batch sizes, failure reasons). */
function Bars({ title, counts, order, empty, color }: { title: string; counts: Record<string, number>; order?: string[]; empty: string; color: string }) {
  const keys = (order ?? Object.keys(counts).sort()).filter((k) => (counts[k] ?? 0) > 0);
  const max = Math.max(1, ...keys.map((k) => counts[k] ?? 0));
  return (
    <figure className="chart bars">
      <figcaption>{title}</figcaption>
      {keys.length === 0 ? (
        <p className="muted">{empty}</p>
      ) : (
        <table>
          <tbody>
            {keys.map((k) => (
              <tr key={k} data-key={k}>
                <th scope="row">{k}</th>
                <td>
                  <span className="bar" style={{ width: `${(100 * (counts[k] ?? 0)) / max}%`, background: color }} />
                </td>
                <td className="num">{counts[k]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </figure>
  );
}

const BATCH_ORDER = ['1', '2', '4', '8', '16', '32', '64', '128', '256', '+Inf'];
const batchLabel = (k: string, i: number): string => {
  const prev = BATCH_ORDER[i - 1];
  if (k === '+Inf') return '> 256';
  if (!prev || Number(prev) + 1 === Number(k)) return k;
  return `${Number(prev) + 1}–${k}`;
};

function Quantiles({ w }: { w: TrafficWindow }) {
  const f = (v: number | null): string => (v === null ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(1));
  return (
    <span className="muted small" data-testid="quantiles">
      last {w.windowS} s: {w.requests} requests · p50 {f(w.requestMs.p50)} · p95 {f(w.requestMs.p95)} · p99 {f(w.requestMs.p99)} ms
    </span>
  );
}

export function TrafficPage({ live }: { live: LiveState }) {
  const keys = [...new Set([...live.traffic.keys(), ...live.windows.keys()])].sort();
  return (
    <section aria-labelledby="traffic-h">
      <h2 id="traffic-h">Traffic</h2>
      {!live.connected && <p className="error">Not connected to the event stream{live.error ? `: ${live.error}` : ''}.</p>}
      {keys.length === 0 && <p className="empty">No served model version yet, or no stats event received (they come every 2 s while a dashboard is open).</p>}
      <p className="muted small">
        From the server's stats events: requests finished per interval, and over the server's last minute (a rolling window of per-second histograms, within 1%
        of the exact quantile) the p50/p95/p99 of the server-side time per request, queue vs compute time, the batch sizes and the errors by reason.
      </p>
      {keys.map((k) => {
        const s = live.traffic.get(k) ?? [];
        const ws = live.windows.get(k) ?? [];
        const last = s[s.length - 1];
        const w = ws[ws.length - 1];
        const times = s.map((x) => x.at / 1000);
        const wt = ws.map((x) => x.at / 1000);
        return (
          <article className="traffic" key={k} data-model={k}>
            <h3>
              {k}{' '}
              {last && (
                <span className="muted small">
                  {last.rps.toFixed(1)} req/s · {last.pending} waiting · {last.running} running
                </span>
              )}{' '}
              {w && <Quantiles w={w} />}
            </h3>
            <div className="charts">
              <Chart
                title="Requests/s"
                times={times}
                series={[
                  { label: 'ok', color: '#7ed321', values: s.map((x) => x.rps) },
                  { label: 'errors', color: '#e94b4b', values: s.map((x) => x.errorsPerS) },
                ]}
              />
              {ws.length > 0 ? (
                <>
                  <Chart
                    title="Time per request, last minute (ms)"
                    times={wt}
                    series={[
                      { label: 'p50', color: '#4fa3ff', values: ws.map((x) => x.requestMs.p50) },
                      { label: 'p95', color: '#f5a623', values: ws.map((x) => x.requestMs.p95) },
                      { label: 'p99', color: '#e94b8b', values: ws.map((x) => x.requestMs.p99) },
                    ]}
                  />
                  <Chart
                    title="Queue vs compute, last minute (ms)"
                    times={wt}
                    series={[
                      { label: 'queue p50', color: '#f5a623', values: ws.map((x) => x.queueMs.p50) },
                      { label: 'queue p95', color: '#a36b12', values: ws.map((x) => x.queueMs.p95) },
                      { label: 'compute p50', color: '#4fa3ff', values: ws.map((x) => x.computeMs.p50) },
                      { label: 'compute p95', color: '#2a5f99', values: ws.map((x) => x.computeMs.p95) },
                    ]}
                  />
                </>
              ) : (
                <Chart
                  title="Mean time per request (ms)"
                  times={times}
                  series={[
                    { label: 'queue', color: '#f5a623', values: s.map((x) => nan(x.queueMs)) },
                    { label: 'compute', color: '#4fa3ff', values: s.map((x) => nan(x.computeMs)) },
                  ]}
                />
              )}
              {w && (
                <>
                  <Bars
                    title={`Batch sizes, last ${w.windowS} s (executions)`}
                    counts={Object.fromEntries(Object.entries(w.batchSizes).map(([b, n]) => [batchLabel(b, BATCH_ORDER.indexOf(b)), n]))}
                    order={BATCH_ORDER.map(batchLabel)}
                    empty="No execution in the last minute."
                    color="#4fa3ff"
                  />
                  <Bars title={`Errors by reason, last ${w.windowS} s`} counts={w.errors as Record<string, number>} empty="No failed request in the last minute." color="#e94b4b" />
                </>
              )}
            </div>
          </article>
        );
      })}
    </section>
  );
}
