/**
 * Live state shared by the pages: the model index kept current by /v1/events (hello + model events), and
 * a few minutes of stats samples (one every ~2 s) turned into per-model rates for the charts.
 */
import { useEffect, useState } from 'react';
import { followEvents, type BenchEvent, type IndexEntry, type ServerEvent, type StatsEvent, type TrafficWindow } from './api.js';

/** Samples kept: 5 minutes at the server's 2 s stats interval. */
export const HISTORY = 150;

export interface ModelSample {
  at: number;
  /** Requests finished per second over the interval. */
  rps: number;
  errorsPerS: number;
  /** Mean queue and compute time of the requests of the interval, ms (NaN: none finished). */
  queueMs: number;
  computeMs: number;
  pending: number;
  running: number;
}

export interface LiveState {
  connected: boolean;
  error?: string;
  index: IndexEntry[];
  lastEventAt?: number;
  /** Per "name@version". */
  traffic: Map<string, ModelSample[]>;
  process: { at: number; rssBytes: number; heapUsedBytes: number }[];
  /** Bumped on each model/placement event, for pages that refetch. */
  revision: number;
  /** Per "name@version": the server's last-minute windows, one per stats event (traffic.tsx). */
  windows: Map<string, (TrafficWindow & { at: number })[]>;
  /** The latest bench event (bench.tsx). */
  bench?: BenchEvent;
}

function mergeIndex(index: IndexEntry[], e: Extract<ServerEvent, { type: 'model' }>): IndexEntry[] {
  const rest = index.filter((x) => !(x.name === e.model && (x.version === e.version || x.version === undefined)));
  const entry: IndexEntry = { name: e.model, version: e.version, state: e.state, ...(e.reason ? { reason: e.reason } : {}) };
  return [...rest, entry].sort((a, b) => a.name.localeCompare(b.name) || Number(a.version ?? 0) - Number(b.version ?? 0));
}

function addStats(s: LiveState, prev: StatsEvent | undefined, e: StatsEvent): Map<string, ModelSample[]> {
  const traffic = new Map(s.traffic);
  for (const m of e.models) {
    const key = `${m.name}@${m.version}`;
    const p = prev?.models.find((x) => x.name === m.name && x.version === m.version);
    const dt = prev ? (e.at - prev.at) / 1000 : 0;
    const st = m.inference_stats;
    const done = p ? st.success - p.inference_stats.success : 0;
    const errs = p
      ? st.failure +
        st.rejected +
        st.timedOut +
        st.cancelled -
        (p.inference_stats.failure + p.inference_stats.rejected + p.inference_stats.timedOut + p.inference_stats.cancelled)
      : 0;
    const sample: ModelSample = {
      at: e.at,
      rps: dt > 0 ? done / dt : 0,
      errorsPerS: dt > 0 ? errs / dt : 0,
      queueMs: p && done > 0 ? (st.queueMs - p.inference_stats.queueMs) / done : Number.NaN,
      computeMs: p && done > 0 ? (st.computeMs - p.inference_stats.computeMs) / done : Number.NaN,
      pending: st.pending,
      running: st.running,
    };
    traffic.set(key, [...(traffic.get(key) ?? []), sample].slice(-HISTORY));
  }
  return traffic;
}

export function useLive(): LiveState {
  const [state, setState] = useState<LiveState>({ connected: false, index: [], traffic: new Map(), process: [], revision: 0, windows: new Map() });
  useEffect(() => {
    let prev: StatsEvent | undefined;
    const stop = followEvents(
      (e) => {
        setState((s) => {
          switch (e.type) {
            case 'hello':
              return { ...s, index: e.models, lastEventAt: e.at, revision: s.revision + 1 };
            case 'model':
              return { ...s, index: mergeIndex(s.index, e), lastEventAt: e.at, revision: s.revision + 1 };
            case 'placement':
            case 'lane':
              return { ...s, lastEventAt: e.at, revision: s.revision + 1 };
            case 'stats': {
              const traffic = addStats(s, prev, e);
              prev = e;
              const windows = new Map(s.windows);
              for (const w of e.traffic ?? []) windows.set(`${w.model}@${w.version}`, [...(windows.get(`${w.model}@${w.version}`) ?? []), { ...w, at: e.at }].slice(-HISTORY));
              return { ...s, traffic, windows, lastEventAt: e.at, process: [...s.process, { at: e.at, ...e.process }].slice(-HISTORY) };
            }
            case 'bench':
              return { ...s, bench: e, lastEventAt: e.at };
            default:
              return s;
          }
        });
      },
      (connected, error) => setState((s) => ({ ...s, connected, ...(error ? { error } : { error: undefined }) }) as LiveState),
    );
    return stop;
  }, []);
  return state;
}
