/** Devices: one card per device (GET /v1/devices), backends with availability and reason, live telemetry. */
import { useEffect, useState } from 'react';
import { getJson, type DevicesPayload } from './api.js';
import { Chart } from './chart.js';
import { HISTORY, type LiveState } from './store.js';

interface Sample {
  at: number;
  util: Record<string, number | null>;
  memGiB: Record<string, number | null>;
}

const COLORS = ['#4fa3ff', '#f5a623', '#7ed321', '#e94b8b', '#b07cff'];

export function DevicesPage({ live }: { live: LiveState }) {
  const [report, setReport] = useState<DevicesPayload>();
  const [error, setError] = useState<string>();
  const [history, setHistory] = useState<Sample[]>([]);
  useEffect(() => {
    let stop = false;
    const tick = async (): Promise<void> => {
      try {
        const r = await getJson<DevicesPayload>('/v1/devices');
        if (stop) return;
        setReport(r);
        setError(undefined);
        const util: Sample['util'] = {};
        const memGiB: Sample['memGiB'] = {};
        for (const d of r.devices) {
          if (d.kind === 'cpu') continue;
          util[d.id] = d.telemetry?.utilizationPct ?? null;
          memGiB[d.id] = d.telemetry?.memoryUsedBytes !== undefined ? d.telemetry.memoryUsedBytes / 2 ** 30 : null;
        }
        setHistory((h) => [...h, { at: Date.now(), util, memGiB }].slice(-HISTORY));
      } catch (err) {
        if (!stop) setError((err as Error).message);
      }
    };
    void tick();
    const t = setInterval(() => void tick(), 3000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, []);
  const accel = report?.devices.filter((d) => d.kind !== 'cpu') ?? [];
  const withTelemetry = accel.filter((d) => d.telemetry);
  const times = history.map((s) => s.at / 1000);
  return (
    <section aria-labelledby="dev-h">
      <h2 id="dev-h">Devices</h2>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {report && accel.length === 0 && <p className="empty">No GPU or NPU was found on this machine: models run on the CPU.</p>}
      <div className="cards">
        {report?.devices.map((d) => {
          const placed = report.placed.filter((p) => p.device === d.id);
          return (
            <article className="card" key={d.id} data-device={d.id}>
              <header>
                <h3>
                  {d.id} <span className="muted">{d.kind.toUpperCase()}</span>
                  {d.software && <span className="badge warn">software</span>}
                </h3>
                <div>{d.name}</div>
                <div className="muted small">
                  {d.vendor}
                  {d.driverVersion ? ` · driver ${d.driverVersion}` : ''}
                  {d.memoryBytes ? ` · ${(d.memoryBytes / 2 ** 30).toFixed(1)} GiB` : ''}
                  {d.cpu ? ` · ${d.cpu.physicalCores} cores / ${d.cpu.logicalCores} threads` : ''}
                </div>
              </header>
              {d.telemetry && (
                <div className="telemetry">
                  {d.telemetry.utilizationPct !== undefined && <span>util {d.telemetry.utilizationPct}%</span>}
                  {d.telemetry.memoryUsedBytes !== undefined && <span>mem {(d.telemetry.memoryUsedBytes / 2 ** 30).toFixed(1)} GiB</span>}
                  {d.telemetry.powerW !== undefined && <span>{d.telemetry.powerW} W</span>}
                  {d.telemetry.temperatureC !== undefined && <span>{d.telemetry.temperatureC} °C</span>}
                </div>
              )}
              <ul className="backends">
                {d.backends.map((b) => (
                  <li key={b.backend} className={b.available ? 'ok' : 'no'}>
                    <span aria-label={b.available ? 'available' : 'unavailable'}>{b.available ? '●' : '○'}</span> <strong>{b.backend}</strong>
                    {b.verified && <span className="badge">probed</span>}
                    {b.reason && <div className="muted small">{b.reason}</div>}
                  </li>
                ))}
              </ul>
              <div className="small">
                {placed.length ? (
                  placed.map((p) => (
                    <div key={`${p.model}@${p.version}`}>
                      ▸ {p.model} v{p.version} · {p.backend} × {p.instances}
                    </div>
                  ))
                ) : (
                  <span className="muted">no models placed here</span>
                )}
              </div>
            </article>
          );
        })}
      </div>
      {accel.length > 0 && withTelemetry.length === 0 && (
        <p className="muted small">
          {accel.map((d) => d.id).join(', ')}: no live telemetry (utilisation, memory, power and temperature come from the vendor tool, e.g. nvidia-smi).
        </p>
      )}
      {withTelemetry.length > 0 && (
        <div className="charts">
          <Chart
            title="Utilisation (%)"
            times={times}
            unit="%"
            series={withTelemetry.map((d, i) => ({ label: d.id, color: COLORS[i % COLORS.length]!, values: history.map((s) => s.util[d.id] ?? null) }))}
          />
          <Chart
            title="Memory used (GiB)"
            times={times}
            series={withTelemetry.map((d, i) => ({ label: d.id, color: COLORS[i % COLORS.length]!, values: history.map((s) => s.memGiB[d.id] ?? null) }))}
          />
        </div>
      )}
      <div className="charts">
        <Chart
          title="Server process memory (MiB)"
          times={live.process.map((p) => p.at / 1000)}
          series={[
            { label: 'RSS', color: '#4fa3ff', values: live.process.map((p) => p.rssBytes / 2 ** 20) },
            { label: 'JS heap', color: '#f5a623', values: live.process.map((p) => p.heapUsedBytes / 2 ** 20) },
          ]}
        />
      </div>
    </section>
  );
}
