/**
 * The dashboard's client of the aivmm server (same origin). Payload types come from the server's own
 * modules (type-only imports, erased by the build). The API key, when the server has one, is kept in
 * sessionStorage and sent as a bearer token; the event stream is read through fetch so it can carry it.
 */
import type { IndexEntry, ModelStats, Placement } from '../../src/core/serve/registry.js';
import type { DevicesPayload } from '../../src/server/routes/devices.js';
import type { TrafficWindow } from '../../src/core/serve-metrics/index.js';
import type { BenchJobView } from '../../src/server/routes/bench.js';
import type { TensorMetadata } from '../../src/core/serve/tensors.js';

export type { IndexEntry, ModelStats, Placement, DevicesPayload, TrafficWindow };
export type BenchEvent = { type: 'bench'; at: number } & Omit<BenchJobView, 'report'>;

export interface PlacementPayload {
  models: { name: string; version: string; instances: number; placement: Placement[] }[];
  unavailable: { device: string; reason: string }[];
}
export interface PsPayload {
  models: (IndexEntry & {
    devices?: string[];
    instances?: number;
    queue?: { pending: number; running: number; success: number; failure: number; rejected: number };
  })[];
  pipelines: { name: string; created: number; task?: string }[];
  lanes: { device: string; backend: string; pid?: number; rssBytes?: number; instances?: number }[];
  server: { pid: number; rssBytes: number; uptimeS: number; version: string };
}
/** A tensor in v2 model metadata: the server's type. */
export type TensorMeta = TensorMetadata;
export interface ModelMeta {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMeta[];
  outputs: TensorMeta[];
}
export interface StatsEvent {
  type: 'stats';
  at: number;
  models: ModelStats[];
  process: { rssBytes: number; heapUsedBytes: number };
  /** The last minute per model version (quantiles, batch sizes, errors); absent on a server without metrics. */
  traffic?: TrafficWindow[];
}
export type ServerEvent =
  | { type: 'hello'; models: IndexEntry[]; at: number }
  | { type: 'model'; model: string; version: string; state: IndexEntry['state']; reason?: string; at: number }
  | { type: 'placement'; model: string; version: string; placement: Placement[]; at: number }
  | { type: 'lane'; state: string; lane: string; reason?: string; at: number }
  | BenchEvent
  | StatsEvent;

const KEY = 'aivmm.apiKey';
export const apiKey = {
  get: (): string => sessionStorage.getItem(KEY) ?? '',
  set: (k: string): void => (k ? sessionStorage.setItem(KEY, k) : sessionStorage.removeItem(KEY)),
};

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const k = apiKey.get();
  return { ...(k ? { authorization: `Bearer ${k}` } : {}), ...extra };
}

async function failure(r: Response): Promise<ApiError> {
  const text = await r.text().catch(() => '');
  try {
    const j = JSON.parse(text) as { error?: string | { message?: string }; code?: string; hint?: string };
    const msg = typeof j.error === 'string' ? j.error : (j.error?.message ?? text);
    return new ApiError(`${msg}${j.hint ? ` (${j.hint})` : ''}`, r.status, j.code);
  } catch {
    return new ApiError(text || `HTTP ${r.status}`, r.status);
  }
}

export async function request(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(path, { ...init, headers: headers(init.headers) });
  } catch {
    throw new ApiError('the server does not answer (is `aivmm serve` running?)', 0, 'UNREACHABLE');
  }
  if (!r.ok) throw await failure(r);
  return r;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request(path)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown = {}): Promise<T> {
  const r = await request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const t = await r.text();
  return (t ? JSON.parse(t) : {}) as T;
}

/** Server-Timing: "queue;dur=1.2, compute;dur=3.4, overhead;dur=0.1" → {queue: 1.2, …}. */
export function serverTiming(h: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (h ?? '').split(',')) {
    const m = /^\s*([\w-]+)\s*;\s*dur=([\d.]+)/.exec(part);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** KServe v2 inference with one FP32 input sent as binary tensor data; outputs come back as JSON. */
export async function inferFp32(
  model: string,
  input: string,
  shape: number[],
  data: Float32Array,
): Promise<{ outputs: { name: string; shape: number[]; data: number[] }[]; timing: Record<string, number>; roundTripMs: number }> {
  const header = new TextEncoder().encode(
    JSON.stringify({ inputs: [{ name: input, shape, datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }] }),
  );
  const body = new Uint8Array(header.length + data.byteLength);
  body.set(header, 0);
  body.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.length);
  const t0 = performance.now();
  const r = await request(`/v2/models/${encodeURIComponent(model)}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    body,
  });
  const j = (await r.json()) as { outputs: { name: string; shape: number[]; data: number[] }[] };
  return { outputs: j.outputs, timing: serverTiming(r.headers.get('server-timing')), roundTripMs: performance.now() - t0 };
}

/** Reads a text/event-stream response, calling `onEvent(name, data)` per event, until it ends or `signal` aborts. */
export async function readSse(r: Response, onEvent: (event: string, data: string) => void, signal?: AbortSignal): Promise<void> {
  const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  const stop = (): void => void reader.cancel().catch(() => undefined);
  signal?.addEventListener('abort', stop);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of frame.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length) onEvent(event, data.join('\n'));
      }
    }
  } catch (err) {
    if (!signal?.aborted) throw err;
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

/** Follows /v1/events, reconnecting after 2 s when the stream drops; returns a stop function. */
export function followEvents(onEvent: (e: ServerEvent) => void, onStatus: (connected: boolean, error?: string) => void): () => void {
  const ac = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connect = async (): Promise<void> => {
    try {
      const r = await request('/v1/events', { signal: ac.signal });
      onStatus(true);
      await readSse(r, (_name, data) => onEvent(JSON.parse(data) as ServerEvent), ac.signal);
      if (!ac.signal.aborted) onStatus(false, 'the event stream ended');
    } catch (err) {
      if (ac.signal.aborted) return;
      onStatus(false, err instanceof Error ? err.message : String(err));
    }
    if (!ac.signal.aborted) timer = setTimeout(() => void connect(), 2000);
  };
  void connect();
  return () => {
    ac.abort();
    clearTimeout(timer);
  };
}

/** A task pipeline's task, device and backend (GET /v1/pipelines/{name}; opens the pipeline if need be). */
export interface PipelineInfo {
  name: string;
  task: string;
  device?: string;
  backend?: string;
}
export const pipelineInfo = (name: string): Promise<PipelineInfo> => getJson<PipelineInfo>(`/v1/pipelines/${encodeURIComponent(name)}`);

/** POST of raw bytes (an image) to a task endpoint; the JSON answer and the round trip. */
export async function postBytes<T>(path: string, bytes: Blob, type: string): Promise<{ json: T; roundTripMs: number }> {
  const body = await bytes.arrayBuffer(); // (as bytes, not a Blob: what was sent can be inspected and re-sent)
  const t0 = performance.now();
  const r = await request(path, { method: 'POST', headers: { 'content-type': type }, body });
  const json = (await r.json()) as T;
  return { json, roundTripMs: performance.now() - t0 };
}

/** POST of a multipart form (the speech route's WAV upload); the JSON answer and the round trip. */
export async function postForm<T>(path: string, form: FormData): Promise<{ json: T; roundTripMs: number }> {
  const t0 = performance.now();
  const r = await request(path, { method: 'POST', body: form });
  const json = (await r.json()) as T;
  return { json, roundTripMs: performance.now() - t0 };
}

/** The stream route's subprotocols: `aivmm`, and the API key (base64url, so any key is a valid token). */
export function streamProtocols(): string[] {
  const k = apiKey.get();
  if (!k) return ['aivmm'];
  const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(k)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  return ['aivmm', `aivmm.bearer.${b64}`];
}

/** A WebSocket to GET /v1/stream/{model} on this origin (ws: or wss: as the page). */
export function openStream(model: string): WebSocket {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/stream/${encodeURIComponent(model)}`;
  const ws = new WebSocket(url, streamProtocols());
  ws.binaryType = 'arraybuffer';
  return ws;
}

/** What the stream route sends: ready, one result per frame run, or an error. */
export type StreamMessage =
  | { type: 'ready'; model: string; task: string; device: string; backend: string }
  | {
      type: 'result';
      frame: number;
      task: string;
      width?: number;
      height?: number;
      detections?: { classId: number; label?: string; score: number; box: [number, number, number, number] }[];
      top?: { index: number; label?: string; probability: number }[];
      device: string;
      backend: string;
      ms: number;
      dropped: number;
    }
  | { type: 'error'; frame?: number; error: string; code?: string; hint?: string };
