/** Traffic: per model version requests/s, errors/s, mean queue vs compute time, live from the stats events. */
import { Chart } from './chart.js';
import type { LiveState } from './store.js';

const nan = (v: number): number | null => (Number.isFinite(v) ? v : null);

export function TrafficPage({ live }: { live: LiveState }) {
  const keys = [...live.traffic.keys()].sort();
  return (
    <section aria-labelledby="traffic-h">
      <h2 id="traffic-h">Traffic</h2>
      {!live.connected && <p className="error">Not connected to the event stream{live.error ? `: ${live.error}` : ''}.</p>}
      {keys.length === 0 && <p className="empty">No served model version yet, or no stats event received (they come every 2 s while a dashboard is open).</p>}
      <p className="muted small">
        From the server's stats events: requests finished per interval and the mean queue and compute time of those requests (the server keeps sums, not a
        latency distribution, so p50/p95/p99 are not available yet).
      </p>
      {keys.map((k) => {
        const s = live.traffic.get(k)!;
        const last = s[s.length - 1];
        const times = s.map((x) => x.at / 1000);
        return (
          <article className="traffic" key={k} data-model={k}>
            <h3>
              {k}{' '}
              {last && (
                <span className="muted small">
                  {last.rps.toFixed(1)} req/s · {last.pending} waiting · {last.running} running
                </span>
              )}
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
              <Chart
                title="Mean time per request (ms)"
                times={times}
                unit=""
                series={[
                  { label: 'queue', color: '#f5a623', values: s.map((x) => nan(x.queueMs)) },
                  { label: 'compute', color: '#4fa3ff', values: s.map((x) => nan(x.computeMs)) },
                ]}
              />
            </div>
          </article>
        );
      })}
    </section>
  );
}
