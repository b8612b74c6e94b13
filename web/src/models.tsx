/** Models: the registry (/v2/repository/index, live from /v1/events) with placement and queue counters. */
import { useCallback, useEffect, useState } from 'react';
import { ApiError, getJson, postJson, type PlacementPayload, type PsPayload } from './api.js';
import type { LiveState } from './store.js';

export function ModelsPage({ live }: { live: LiveState }) {
  const [ps, setPs] = useState<PsPayload>();
  const [placement, setPlacement] = useState<PlacementPayload>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const [actionError, setActionError] = useState<Record<string, string>>({});

  const refresh = useCallback(async () => {
    try {
      const [p, pl] = await Promise.all([getJson<PsPayload>('/v1/ps'), getJson<PlacementPayload>('/v1/placement')]);
      setPs(p);
      setPlacement(pl);
      setError(undefined);
    } catch (err) {
      setError((err as Error).message);
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh, live.revision]);
  useEffect(() => {
    const t = setInterval(() => void refresh(), 5000);
    return () => clearInterval(t);
  }, [refresh]);

  const act = async (name: string, what: 'load' | 'unload'): Promise<void> => {
    setBusy(`${name}:${what}`);
    setActionError((e) => ({ ...e, [name]: '' }));
    try {
      await postJson(`/v2/repository/models/${encodeURIComponent(name)}/${what}`);
    } catch (err) {
      setActionError((e) => ({ ...e, [name]: err instanceof ApiError ? err.message : String(err) }));
    } finally {
      setBusy(undefined);
      void refresh();
    }
  };

  const index = live.index.length ? live.index : (ps?.models ?? []);
  const names = [...new Set(index.map((e) => e.name))].sort();
  return (
    <section aria-labelledby="models-h">
      <h2 id="models-h">Models</h2>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {!error && names.length === 0 && (
        <p className="empty">No models are known to the server. Start it with a model (`aivmm serve tiny-convnet`) or a `--model-repository`.</p>
      )}
      <table className="models">
        <thead>
          <tr>
            <th>model</th>
            <th>version</th>
            <th>state</th>
            <th>placement (why)</th>
            <th>queue</th>
            <th>actions</th>
          </tr>
        </thead>
        <tbody>
          {names.map((name) => {
            const versions = index.filter((e) => e.name === name);
            const row = ps?.models.find((m) => m.name === name && m.state === 'READY') ?? ps?.models.find((m) => m.name === name);
            const pl = placement?.models.filter((m) => m.name === name) ?? [];
            return (
              <tr key={name} data-model={name}>
                <td className="name">{name}</td>
                <td>{versions.map((v) => v.version ?? '–').join(', ')}</td>
                <td>
                  {versions.map((v) => (
                    <div key={v.version ?? '-'}>
                      <span className={`state state-${v.state.toLowerCase()}`} data-state={v.state}>
                        {v.state}
                      </span>
                      {v.reason && <div className={v.reason.startsWith('load failed') ? 'error small' : 'muted small'}>{v.reason}</div>}
                    </div>
                  ))}
                </td>
                <td>
                  {pl.length === 0 && <span className="muted">not placed</span>}
                  {pl.map((m) => (
                    <div key={m.version}>
                      {m.placement.map((p, i) => (
                        <div key={i}>
                          <strong>
                            {p.device} · {p.backend}
                          </strong>
                          {p.fallback ? <span className="badge warn">fallback</span> : null} <span className="muted">× {m.instances}</span>
                          <div className="muted small">{p.reason}</div>
                        </div>
                      ))}
                    </div>
                  ))}
                </td>
                <td className="num">
                  {row?.queue ? (
                    <>
                      <div>
                        {row.queue.pending} waiting · {row.queue.running} running
                      </div>
                      <div className="muted small">
                        {row.queue.success} ok · {row.queue.failure} failed · {row.queue.rejected} rejected
                      </div>
                    </>
                  ) : (
                    <span className="muted">–</span>
                  )}
                </td>
                <td className="actions">
                  <button type="button" disabled={!!busy} onClick={() => void act(name, 'load')}>
                    {versions.some((v) => v.state === 'READY') ? 'Reload' : 'Load'}
                  </button>
                  <button type="button" disabled={!!busy || !versions.some((v) => v.state === 'READY')} onClick={() => void act(name, 'unload')}>
                    Unload
                  </button>
                  {busy?.startsWith(`${name}:`) && <span className="muted small"> working…</span>}
                  {actionError[name] && (
                    <div className="error small" role="alert">
                      {actionError[name]}
                    </div>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {placement && placement.unavailable.length > 0 && (
        <>
          <h3>Unavailable devices</h3>
          <ul>
            {placement.unavailable.map((u) => (
              <li key={u.device}>
                <strong>{u.device}</strong>: {u.reason}
              </li>
            ))}
          </ul>
        </>
      )}
      {ps && ps.pipelines.length > 0 && (
        <>
          <h3>Task pipelines (OpenAI routes)</h3>
          <ul className="pipelines">
            {ps.pipelines.map((p) => (
              <li key={p.name}>
                <strong>{p.name}</strong> <span className="muted">{p.task ?? 'task unknown'}</span>
              </li>
            ))}
          </ul>
        </>
      )}
      {ps && (
        <p className="muted small">
          server {ps.server.version} · pid {ps.server.pid} · {(ps.server.rssBytes / 2 ** 20).toFixed(0)} MiB · up {ps.server.uptimeS} s
          {ps.lanes.map((l) => ` · lane ${l.device} ${l.backend}${l.pid ? ` pid ${l.pid}` : ''}`).join('')}
        </p>
      )}
    </section>
  );
}
