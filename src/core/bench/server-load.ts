/**
 * `aivmm bench --server`: a load generator for any KServe v2 server (aivmm, Triton, OpenVINO Model
 * Server), measured the way perf_analyzer measures (docs/perf_analyzer.md, "measurement modes"):
 *
 * - closed loop (`concurrency`): N requests always in flight, each worker sending the next request as
 *   soon as its previous one answered;
 * - open loop (`rate`): Poisson arrivals at a fixed rate, each request's latency measured from its
 *   *scheduled* send time, so a server that stalls is charged for the requests it delayed (no
 *   coordinated omission: a late send is the server's fault, not the client's);
 * - measurement windows repeated until the last `stableWindows` windows' throughputs (and p95s) lie
 *   within ±`stability` of their mean, or `maxWindows` ran (the point is then marked unstable).
 *
 * Pure apart from the injected HTTP client and clock: no process, no environment, no printing.
 */
import { AuthError, BackendUnavailableError, CancelledError, ConfigError, NetworkError, NotFoundError, UsageError, errorMessage } from '../errors.js';
import { seededRandom } from '../random.js';
import { compareSamples, type Comparison } from './compare.js';
import { describe, type SampleStats } from './stats.js';
import type { TensorMetadata } from '../serve/tensors.js';

export const BENCH_SERVER_SCHEMA = 'aivmm/bench-server@1';

// ---------- injected I/O ----------

export interface HttpResponse {
  status: number;
  header(name: string): string | undefined;
  body: Uint8Array;
}
export type HttpClient = (url: string, init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: Uint8Array; signal?: AbortSignal }) => Promise<HttpResponse>;

export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The client over the platform's fetch (undici in Node ≥ 18): keep-alive connections by default. */
export function fetchClient(fetchImpl: typeof fetch = fetch): HttpClient {
  return async (url, init) => {
    const r = await fetchImpl(url, { method: init.method, headers: init.headers, ...(init.body ? { body: init.body } : {}), ...(init.signal ? { signal: init.signal } : {}) });
    const body = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, header: (n) => r.headers.get(n) ?? undefined, body };
  };
}

// ---------- flag parsing ----------

/** "200/s", "200", "12000/min", "0.5/s" → requests per second. */
export function parseRate(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|second|m|min|minute))?\s*$/i.exec(text);
  const v = m ? Number(m[1]) * (m[2] && m[2].toLowerCase().startsWith('m') ? 1 / 60 : 1) : Number.NaN;
  if (!(v > 0)) throw new UsageError(`invalid --rate '${text}'`, 'give requests per second, e.g. 200/s (or 600/min)');
  return v;
}

export function parseConcurrencyList(text: string): number[] {
  const out = text.split(',').map((p) => p.trim());
  const ns = out.map(Number);
  if (out.length === 0 || ns.some((n) => !Number.isInteger(n) || n < 1 || n > 4096)) throw new UsageError(`invalid --concurrency '${text}'`, 'give integers from 1 to 4096, comma-separated: 1,4,16,64');
  if (new Set(ns).size !== ns.length) throw new UsageError(`--concurrency ${text} repeats a level`);
  return ns;
}

// ---------- Poisson arrivals ----------

/** Exponential inter-arrival times (ms) of a Poisson process at `ratePerSec`: −ln(1 − U) / λ. */
export function poissonIntervals(ratePerSec: number, seed: number): () => number {
  const rand = seededRandom(seed);
  const meanMs = 1000 / ratePerSec;
  return () => -Math.log(1 - rand()) * meanMs;
}

// ---------- Server-Timing ----------

export interface ServerSplit {
  queueMs: number;
  computeMs: number;
  overheadMs: number;
}

/** `queue;dur=1.2, compute;dur=3.4, overhead;dur=0.1` → the three parts (missing ones undefined). */
export function parseServerTiming(header: string | undefined): Partial<ServerSplit> | undefined {
  if (!header) return undefined;
  const out: Partial<ServerSplit> = {};
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().split(';');
    const dur = params.map((p) => /^\s*dur\s*=\s*"?([\d.]+)"?\s*$/.exec(p)).find((m) => m)?.[1];
    if (dur === undefined) continue;
    const v = Number(dur);
    if (!Number.isFinite(v)) continue;
    if (name === 'queue') out.queueMs = v;
    else if (name === 'compute') out.computeMs = v;
    else if (name === 'overhead') out.overheadMs = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

// ---------- model metadata and requests ----------

/** A tensor in a KServe v2 model metadata answer (the server's own type: core/serve/tensors.ts). */
export type TensorMeta = TensorMetadata;
export interface ModelMeta {
  name: string;
  versions?: string[];
  platform?: string;
  inputs: TensorMeta[];
  outputs: TensorMeta[];
}

const ELEMENT_BYTES: Readonly<Record<string, number>> = { BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, BF16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8 };

export interface Target {
  url: string;
  model: string;
  version?: string;
  /** Extra headers on every request (Authorization). */
  headers: Record<string, string>;
}

function base(t: Target): string {
  return `${t.url.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(t.model)}${t.version ? `/versions/${encodeURIComponent(t.version)}` : ''}`;
}

function bodyText(r: HttpResponse): string {
  const text = Buffer.from(r.body).toString('utf8');
  try {
    const j = JSON.parse(text) as { error?: unknown };
    if (typeof j.error === 'string') return j.error;
    if (j.error && typeof j.error === 'object' && typeof (j.error as { message?: unknown }).message === 'string') return (j.error as { message: string }).message;
  } catch {
    // not JSON
  }
  return text.slice(0, 200);
}

async function get(client: HttpClient, url: string, headers: Record<string, string>, what: string, method: 'GET' | 'POST' = 'GET', body?: unknown): Promise<HttpResponse> {
  try {
    return await client(url, { method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: Buffer.from(JSON.stringify(body)) } : {}) });
  } catch (err) {
    throw new NetworkError(`cannot reach ${what} at ${url}: ${errorMessage((err as { cause?: unknown }).cause ?? err)}`, 'is the server running? give its base URL, e.g. --server http://127.0.0.1:8000');
  }
}

function refuse(r: HttpResponse, what: string): never {
  const msg = `${what}: HTTP ${r.status}: ${bodyText(r)}`;
  if (r.status === 401 || r.status === 403) throw new AuthError(msg, 'give the key with --api-key or AIVMM_API_KEY');
  if (r.status === 404) throw new NotFoundError(msg, 'list the served models with GET /v2/repository/index (aivmm, Triton) or `aivmm ps`');
  throw new BackendUnavailableError(msg);
}

/** The served model to load: `--model`, else the only ready model in the repository index. */
export async function chooseModel(client: HttpClient, url: string, headers: Record<string, string>): Promise<string> {
  const r = await get(client, `${url.replace(/\/+$/, '')}/v2/repository/index`, headers, 'the repository index', 'POST', { ready: true });
  if (r.status !== 200) throw new UsageError(`the server does not list its models (POST /v2/repository/index: HTTP ${r.status})`, 'name the model with --model NAME');
  let rows: { name?: unknown; state?: unknown }[];
  try {
    rows = JSON.parse(Buffer.from(r.body).toString('utf8')) as typeof rows;
  } catch {
    throw new UsageError('the repository index is not JSON', 'name the model with --model NAME');
  }
  const names = [...new Set(rows.filter((x) => x.state === undefined || x.state === 'READY').map((x) => String(x.name)))];
  if (names.length === 1) return names[0] as string;
  throw new UsageError(names.length === 0 ? 'the server has no ready model' : `the server serves ${names.length} models (${names.join(', ')})`, 'name one with --model NAME');
}

export async function fetchModelMeta(client: HttpClient, t: Target): Promise<ModelMeta> {
  const r = await get(client, base(t), t.headers, `model '${t.model}' metadata`);
  if (r.status !== 200) refuse(r, `model '${t.model}' metadata`);
  let m: ModelMeta;
  try {
    m = JSON.parse(Buffer.from(r.body).toString('utf8')) as ModelMeta;
  } catch {
    throw new BackendUnavailableError(`model '${t.model}' metadata is not JSON`);
  }
  if (!Array.isArray(m.inputs) || m.inputs.some((i) => typeof i.name !== 'string' || typeof i.datatype !== 'string' || !Array.isArray(i.shape))) {
    throw new BackendUnavailableError(`model '${t.model}' metadata has no valid inputs list`);
  }
  return { ...m, outputs: Array.isArray(m.outputs) ? m.outputs : [] };
}

export interface RequestOptions {
  /** Dims for -1 axes: the first axis takes `batch`, the others 1, unless `shapes` gives the input's dims. */
  batch: number;
  shapes: { name?: string; dims: number[] }[];
  /** Binary tensor extension (default) or JSON `data`. */
  binary: boolean;
  seed: number;
}

export interface PreparedRequest {
  url: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** Items per request (the first dim of the first input). */
  items: number;
  inputs: TensorMeta[];
}

function fill(datatype: string, count: number, rand: () => number): { bytes: Uint8Array; json: (number | boolean | string)[] } {
  const size = ELEMENT_BYTES[datatype];
  if (datatype === 'BYTES') {
    const json = Array.from({ length: count }, () => Math.floor(rand() * 1e6).toString(36));
    const parts = json.map((s) => {
      const b = Buffer.from(s);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      return Buffer.concat([len, b]);
    });
    return { bytes: new Uint8Array(Buffer.concat(parts)), json };
  }
  if (size === undefined) throw new UsageError(`input datatype '${datatype}' is not one a load can be generated for`);
  const buf = Buffer.alloc(count * size);
  const json: (number | boolean)[] = [];
  for (let i = 0; i < count; i++) {
    const u = rand();
    switch (datatype) {
      case 'FP32': buf.writeFloatLE(u - 0.5, i * 4); json.push(buf.readFloatLE(i * 4)); break;
      case 'FP64': buf.writeDoubleLE(u - 0.5, i * 8); json.push(u - 0.5); break;
      case 'FP16': case 'BF16': {
        // a small value exactly representable in both: k/256 for k in [-64, 64)
        const v = Math.floor(u * 128 - 64) / 256;
        const h = datatype === 'FP16' ? f16Bits(v) : (Buffer.from(new Float32Array([v]).buffer).readUInt32LE(0) >>> 16);
        buf.writeUInt16LE(h, i * 2); json.push(v); break;
      }
      case 'BOOL': buf[i] = u < 0.5 ? 0 : 1; json.push(u >= 0.5); break;
      // Integers stay small (0..99): token ids and indices must stay in range for most models.
      default: {
        const v = Math.floor(u * 100);
        if (size === 8) buf.writeBigInt64LE(BigInt(v), i * 8);
        else if (size === 4) buf.writeInt32LE(v, i * 4);
        else if (size === 2) buf.writeInt16LE(v, i * 2);
        else buf[i] = v;
        json.push(v);
      }
    }
  }
  return { bytes: new Uint8Array(buf), json };
}

function f16Bits(v: number): number {
  if (v === 0) return 0;
  const sign = v < 0 ? 0x8000 : 0;
  const a = Math.abs(v);
  const e = Math.floor(Math.log2(a));
  const m = Math.round((a / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | m;
}

/** One request body with random data of each input's datatype and shape (-1 axes resolved). */
export function prepareRequest(t: Target, meta: ModelMeta, opts: RequestOptions): PreparedRequest {
  const rand = seededRandom(opts.seed);
  const one = opts.shapes.filter((s) => s.name === undefined);
  if (one.length > 0 && meta.inputs.length !== 1) throw new UsageError(`--shape without a name needs a model with one input; '${meta.name}' has ${meta.inputs.length}`, 'write --shape name=dims');
  for (const s of opts.shapes) if (s.name !== undefined && !meta.inputs.some((i) => i.name === s.name)) throw new UsageError(`--shape names '${s.name}', not an input of '${meta.name}'`, `inputs: ${meta.inputs.map((i) => i.name).join(', ')}`);
  const inputs: TensorMeta[] = meta.inputs.map((i) => {
    const given = opts.shapes.find((s) => s.name === i.name) ?? one[0];
    // A given shape is sent as is, even when it contradicts the model: that is how to load-test refusals.
    const shape = given ? given.dims : i.shape.map((d, k) => (d >= 0 ? d : k === 0 ? opts.batch : 1));
    return { name: i.name, datatype: i.datatype, shape };
  });
  const tensors = inputs.map((i) => fill(i.datatype, i.shape.reduce((a, b) => a * b, 1), rand));
  const items = inputs[0]?.shape[0] ?? 1;
  const url = `${base(t)}/infer`;
  if (!opts.binary) {
    const header = { inputs: inputs.map((i, k) => ({ ...i, data: (tensors[k] as { json: unknown[] }).json })) };
    return { url, headers: { ...t.headers, 'content-type': 'application/json' }, body: new Uint8Array(Buffer.from(JSON.stringify(header))), items, inputs };
  }
  const header = {
    inputs: inputs.map((i, k) => ({ ...i, parameters: { binary_data_size: (tensors[k] as { bytes: Uint8Array }).bytes.byteLength } })),
    outputs: meta.outputs.map((o) => ({ name: o.name, parameters: { binary_data: true } })),
    ...(meta.outputs.length === 0 ? { parameters: { binary_data_output: true } } : {}),
  };
  const h = Buffer.from(JSON.stringify(header));
  const body = Buffer.concat([h, ...tensors.map((x) => x.bytes)]);
  return { url, headers: { ...t.headers, 'content-type': 'application/octet-stream', 'inference-header-content-length': String(h.length) }, body: new Uint8Array(body), items, inputs };
}

// ---------- server statistics (statistics extension) ----------

export interface StatsSnapshot {
  success: number;
  queueMs: number;
  computeMs: number;
}

/** aivmm's `{inference_stats: {success, queueMs, computeMs}}` or Triton's `{success: {count}, queue: {ns}, compute_infer: {ns}}`, summed over versions. */
export function parseStats(doc: unknown): StatsSnapshot | undefined {
  const rows = (doc as { model_stats?: unknown })?.model_stats;
  if (!Array.isArray(rows) || rows.length === 0) return undefined;
  const out: StatsSnapshot = { success: 0, queueMs: 0, computeMs: 0 };
  for (const row of rows as { inference_stats?: Record<string, unknown> }[]) {
    const s = row.inference_stats;
    if (!s) return undefined;
    const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : 0);
    const sub = (k: string, f: string): number => num((s[k] as Record<string, unknown> | undefined)?.[f]);
    if (typeof s['success'] === 'number') {
      out.success += s['success'];
      out.queueMs += num(s['queueMs']);
      out.computeMs += num(s['computeMs']);
    } else if (s['success'] && typeof s['success'] === 'object') {
      out.success += sub('success', 'count');
      out.queueMs += sub('queue', 'ns') / 1e6;
      out.computeMs += (sub('compute_input', 'ns') + sub('compute_infer', 'ns') + sub('compute_output', 'ns')) / 1e6;
    } else return undefined;
  }
  return out;
}

async function snapshot(client: HttpClient, t: Target): Promise<StatsSnapshot | undefined> {
  try {
    const r = await client(`${base(t)}/stats`, { method: 'GET', headers: t.headers });
    if (r.status !== 200) return undefined;
    return parseStats(JSON.parse(Buffer.from(r.body).toString('utf8')));
  } catch {
    return undefined;
  }
}

// ---------- measurement ----------

export interface LoadSettings {
  windowMs: number;
  /** ±fraction every one of the last `stableWindows` windows' throughput (and p95) must lie within of their mean. */
  stability: number;
  stableWindows: number;
  maxWindows: number;
  /** Before the first window of each point. */
  warmupMs: number;
  /** Open loop: requests in flight at most (the rest wait, their latency still counted from their schedule). */
  maxInFlight: number;
  seed: number;
  /**
   * Closed loop: a worker answered 503 or 429 with `Retry-After: <seconds>` waits that long before its next
   * request, as a well-behaved client does (false: it resends at once, hammering the server). Open loop
   * keeps its schedule either way (arrivals do not depend on answers).
   */
  honourRetryAfter: boolean;
}

export const DEFAULT_LOAD: LoadSettings = { windowMs: 2000, stability: 0.1, stableWindows: 3, maxWindows: 10, warmupMs: 500, maxInFlight: 1024, seed: 42, honourRetryAfter: true };

/** `Retry-After` of a 503/429 in ms: delta-seconds only (what aivmm, Triton and most servers send); else undefined. */
export function retryAfterMsOf(status: number | 'network', header: string | undefined): number | undefined {
  if ((status !== 503 && status !== 429) || header === undefined) return undefined;
  const t = header.trim();
  return /^\d{1,6}$/.test(t) ? Number(t) * 1000 : undefined;
}

export interface PointSpec {
  concurrency?: number;
  rate?: number;
}

export interface ServerBenchPoint {
  key: string;
  mode: 'concurrency' | 'rate';
  concurrency?: number;
  /** Requests per second asked for (rate mode). */
  rate?: number;
  stable: boolean;
  windows: number;
  /** Requests per second in each window, in order. */
  windowThroughputs: number[];
  /** Successful requests in the reported (last `stableWindows`) windows. */
  requests: number;
  throughput: { requestsPerSec: number; itemsPerSec: number };
  /** Client-side latency of successful requests (ms) in the reported windows. */
  stats: SampleStats | null;
  samples: number[];
  /** Failed requests in the reported windows by HTTP status ("503") or "network". */
  errors: Record<string, number>;
  firstError?: string;
  /** Mean of the Server-Timing parts over the reported requests (aivmm). */
  serverTiming?: ServerSplit & { n: number };
  /** Deltas of the model's statistics over the reported windows, per request. */
  serverStats?: { requests: number; queueMs: number; computeMs: number };
  /** Closed loop, honouring Retry-After: how many times workers waited for one, and for how long in all (ms). */
  retryAfterWaits?: { n: number; ms: number };
  /** Rate mode: the most requests in flight, and how late sends were (p99 of send − schedule, ms). */
  maxInFlight?: number;
  sendLagP99Ms?: number;
}

export interface ServerBenchReport {
  at: string;
  aivmmVersion: string;
  elapsedMs: number;
  server: { url: string; name?: string; version?: string };
  model: ModelMeta & { version?: string };
  request: { binary: boolean; batch: number; items: number; inputs: TensorMeta[]; bytes: number };
  settings: LoadSettings;
  points: ServerBenchPoint[];
  gate?: ServerGate;
  interrupted?: boolean;
}

interface Completion {
  doneAt: number;
  latency: number;
  status: number | 'network';
  /** The raw Server-Timing header of a 200, parsed only for the reported requests. */
  timing?: string;
  error?: string;
  retryAfterMs?: number;
}

export interface LoadDeps {
  client: HttpClient;
  clock: Clock;
  signal?: AbortSignal;
  onWindow?: (point: string, window: number, requestsPerSec: number) => void;
}

async function send(deps: LoadDeps, req: PreparedRequest, startedAt: number): Promise<Completion> {
  try {
    const r = await deps.client(req.url, { method: 'POST', headers: req.headers, body: req.body });
    const doneAt = deps.clock.now();
    const c: Completion = { doneAt, latency: doneAt - startedAt, status: r.status };
    if (r.status === 200) {
      const timing = r.header('server-timing');
      if (timing) c.timing = timing;
    } else {
      c.error = `HTTP ${r.status}: ${bodyText(r)}`;
      const ra = retryAfterMsOf(r.status, r.header('retry-after'));
      if (ra !== undefined) c.retryAfterMs = ra;
    }
    return c;
  } catch (err) {
    const doneAt = deps.clock.now();
    return { doneAt, latency: doneAt - startedAt, status: 'network', error: errorMessage((err as { cause?: unknown }).cause ?? err) };
  }
}

/** Throughput and p95 of every one of the last k windows within ±tol of their mean. */
export function isStable(windows: { rps: number; p95: number }[], k: number, tol: number): boolean {
  if (windows.length < k) return false;
  const last = windows.slice(-k);
  const ok = (xs: number[]): boolean => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    return mean > 0 && xs.every((x) => Math.abs(x - mean) <= tol * mean);
  };
  return ok(last.map((w) => w.rps)) && (last.some((w) => !Number.isFinite(w.p95)) || ok(last.map((w) => w.p95)));
}

/** Measures one load point: warm-up, then windows until stable. */
export async function measurePoint(deps: LoadDeps, t: Target, req: PreparedRequest, spec: PointSpec, s: LoadSettings): Promise<ServerBenchPoint> {
  const mode = spec.rate !== undefined ? 'rate' : 'concurrency';
  const key = mode === 'rate' ? `rate ${spec.rate}/s` : `concurrency ${spec.concurrency}`;
  const { clock } = deps;
  const completions: Completion[] = [];
  const lags: number[] = [];
  let stopAt = Number.POSITIVE_INFINITY;
  let inFlight = 0;
  let maxInFlightSeen = 0;
  const running: Promise<void>[] = [];
  const t0 = clock.now();
  const record = (c: Completion): void => {
    completions.push(c);
  };
  const waits = { n: 0, ms: 0 };

  if (mode === 'concurrency') {
    for (let w = 0; w < (spec.concurrency ?? 1); w++) {
      running.push((async () => {
        while (clock.now() < stopAt && !deps.signal?.aborted) {
          const at = clock.now();
          const c = await send(deps, req, at);
          record(c);
          if (s.honourRetryAfter && c.retryAfterMs !== undefined) {
            // In slices, so the point still ends on time when the measurement stops during a long wait.
            waits.n++;
            const until = clock.now() + c.retryAfterMs;
            while (clock.now() < Math.min(until, stopAt) && !deps.signal?.aborted) await clock.sleep(Math.min(100, until - clock.now()));
            waits.ms += Math.max(0, Math.min(until, clock.now()) - c.doneAt);
          }
        }
      })());
    }
  } else {
    const next = poissonIntervals(spec.rate as number, s.seed);
    const waiters: (() => void)[] = [];
    running.push((async () => {
      let scheduled = t0;
      while (!deps.signal?.aborted) {
        scheduled += next();
        if (scheduled >= stopAt) break;
        const wait = scheduled - clock.now();
        if (wait > 0) await clock.sleep(wait);
        if (scheduled >= stopAt) break;
        while (inFlight >= s.maxInFlight) await new Promise<void>((r) => waiters.push(r));
        inFlight++;
        maxInFlightSeen = Math.max(maxInFlightSeen, inFlight);
        lags.push(clock.now() - scheduled);
        const at = scheduled;
        running.push(send(deps, req, at).then((c) => {
          inFlight--;
          waiters.shift()?.();
          record(c);
        }));
      }
    })());
  }

  // Windows are judged by completion time, as perf_analyzer counts requests completed in a window.
  const windowStart = t0 + s.warmupMs;
  await clock.sleep(Math.max(0, windowStart - clock.now()));
  const wins: { rps: number; p95: number; from: number; to: number }[] = [];
  let stable = false;
  while (wins.length < s.maxWindows && !deps.signal?.aborted) {
    const from = windowStart + wins.length * s.windowMs;
    const to = from + s.windowMs;
    await clock.sleep(Math.max(0, to - clock.now()));
    const inWin = completions.filter((c) => c.doneAt >= from && c.doneAt < to && c.status === 200);
    const rps = (inWin.length * 1000) / s.windowMs;
    const p95 = inWin.length > 0 ? describe(inWin.map((c) => c.latency)).p95 : Number.NaN;
    wins.push({ rps, p95, from, to });
    deps.onWindow?.(key, wins.length, rps);
    if (isStable(wins, s.stableWindows, s.stability)) {
      stable = true;
      break;
    }
    // Nothing but errors for a whole window: more windows would only repeat them.
    if (inWin.length === 0 && completions.some((c) => c.doneAt >= from && c.doneAt < to)) break;
  }
  stopAt = clock.now();
  await Promise.all(running);
  // running grows while the open loop dispatches; wait for the late joiners too
  await Promise.all(running);

  const reported = wins.slice(-s.stableWindows);
  const from = reported[0]?.from ?? windowStart;
  const to = reported[reported.length - 1]?.to ?? stopAt;
  const inRange = completions.filter((c) => c.doneAt >= from && c.doneAt < to);
  const ok = inRange.filter((c) => c.status === 200);
  const errors: Record<string, number> = {};
  for (const c of inRange) if (c.status !== 200) errors[String(c.status)] = (errors[String(c.status)] ?? 0) + 1;
  const spanSec = Math.max(1e-9, (to - from) / 1000);
  const timed: Partial<ServerSplit>[] = [];
  for (const c of ok) {
    const t = parseServerTiming(c.timing);
    if (t) timed.push(t);
  }
  const mean = (f: (x: Partial<ServerSplit>) => number | undefined): number => timed.reduce((a, t) => a + (f(t) ?? 0), 0) / timed.length;
  const firstError = inRange.find((c) => c.error)?.error ?? completions.find((c) => c.error)?.error;
  const lagSorted = lags.slice().sort((a, b) => a - b);
  return {
    key,
    mode,
    ...(spec.concurrency !== undefined ? { concurrency: spec.concurrency } : {}),
    ...(spec.rate !== undefined ? { rate: spec.rate } : {}),
    stable,
    windows: wins.length,
    windowThroughputs: wins.map((w) => w.rps),
    requests: ok.length,
    throughput: { requestsPerSec: ok.length / spanSec, itemsPerSec: (ok.length * req.items) / spanSec },
    stats: ok.length > 0 ? describe(ok.map((c) => c.latency)) : null,
    samples: ok.map((c) => c.latency),
    errors,
    ...(firstError ? { firstError } : {}),
    ...(timed.length > 0 ? { serverTiming: { queueMs: mean((x) => x.queueMs), computeMs: mean((x) => x.computeMs), overheadMs: mean((x) => x.overheadMs), n: timed.length } } : {}),
    ...(waits.n > 0 ? { retryAfterWaits: waits } : {}),
    ...(mode === 'rate' ? { maxInFlight: maxInFlightSeen, sendLagP99Ms: lagSorted.length ? (lagSorted[Math.min(lagSorted.length - 1, Math.floor(0.99 * lagSorted.length))] as number) : 0 } : {}),
  };
}

export interface ServerBenchOptions {
  url: string;
  model?: string;
  version?: string;
  apiKey?: string;
  points: PointSpec[];
  request: Omit<RequestOptions, 'seed'>;
  settings: LoadSettings;
  aivmmVersion: string;
  baseline?: { report: ServerBenchReport; path: string; maxRegression: number };
}

/** The whole run: metadata → one request → each point in turn (with statistics deltas) → the gate. */
export async function runServerBench(deps: LoadDeps, o: ServerBenchOptions): Promise<ServerBenchReport> {
  const started = deps.clock.now();
  const headers: Record<string, string> = o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {};
  const url = o.url.replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/i.test(url)) throw new UsageError(`invalid --server '${o.url}'`, 'give the base URL, e.g. http://127.0.0.1:8000');
  let server: ServerBenchReport['server'] = { url };
  const sm = await get(deps.client, `${url}/v2`, headers, 'the server');
  if (sm.status === 401 || sm.status === 403) refuse(sm, 'server metadata');
  if (sm.status === 200) {
    try {
      const j = JSON.parse(Buffer.from(sm.body).toString('utf8')) as { name?: unknown; version?: unknown };
      server = { url, ...(typeof j.name === 'string' ? { name: j.name } : {}), ...(typeof j.version === 'string' ? { version: j.version } : {}) };
    } catch {
      // metadata is optional for the measurement
    }
  }
  const model = o.model ?? (await chooseModel(deps.client, url, headers));
  const target: Target = { url, model, ...(o.version ? { version: o.version } : {}), headers };
  const meta = await fetchModelMeta(deps.client, target);
  const req = prepareRequest(target, meta, { ...o.request, seed: o.settings.seed });
  const points: ServerBenchPoint[] = [];
  for (const spec of o.points) {
    if (deps.signal?.aborted) break;
    const before = await snapshot(deps.client, target);
    const p = await measurePoint(deps, target, req, spec, o.settings);
    const after = await snapshot(deps.client, target);
    // The deltas span the whole point (warm-up and every window), so they are per-request means.
    if (before && after && after.success > before.success) {
      const n = after.success - before.success;
      p.serverStats = { requests: n, queueMs: (after.queueMs - before.queueMs) / n, computeMs: (after.computeMs - before.computeMs) / n };
    }
    points.push(p);
  }
  if (deps.signal?.aborted && points.length === 0) throw new CancelledError('interrupted before the first point was measured');
  const report: ServerBenchReport = {
    at: new Date().toISOString(),
    aivmmVersion: o.aivmmVersion,
    elapsedMs: Math.round(deps.clock.now() - started),
    server,
    model: { ...meta, ...(o.version ? { version: o.version } : {}) },
    request: { binary: o.request.binary, batch: o.request.batch, items: req.items, inputs: req.inputs, bytes: req.body.byteLength },
    settings: o.settings,
    points,
    ...(deps.signal?.aborted ? { interrupted: true } : {}),
  };
  if (o.baseline) report.gate = gateServer(report, o.baseline.report, o.baseline.path, o.baseline.maxRegression, o.settings.seed);
  return report;
}

// ---------- the --baseline gate ----------

export interface ServerGateRow {
  key: string;
  status: 'compared' | 'new' | 'missing';
  currentP50?: number;
  baselineP50?: number;
  comparison?: Comparison;
}
export interface ServerGate {
  baselinePath: string;
  baselineAt?: string;
  maxRegression: number;
  rows: ServerGateRow[];
  regressed: number;
  improved: number;
  unchanged: number;
}

export function pointKey(model: string, p: Pick<ServerBenchPoint, 'key'>): string {
  return `${model} | ${p.key}`;
}

/** Matches points by (model, load point) and compares their latency samples with compare.ts's tests. */
export function gateServer(current: ServerBenchReport, baseline: ServerBenchReport, baselinePath: string, maxRegression: number, seed = 1): ServerGate {
  const base = new Map(baseline.points.map((p) => [pointKey(baseline.model.name, p), p]));
  const rows: ServerGateRow[] = [];
  for (const p of current.points) {
    const key = pointKey(current.model.name, p);
    const b = base.get(key);
    const currentP50 = p.stats?.p50;
    if (!b) {
      rows.push({ key, status: 'new', ...(currentP50 !== undefined ? { currentP50 } : {}) });
      continue;
    }
    base.delete(key);
    rows.push({ key, status: 'compared', ...(currentP50 !== undefined ? { currentP50 } : {}), ...(b.stats ? { baselineP50: b.stats.p50 } : {}), comparison: compareSamples(p.samples, b.samples, { maxRegression, seed }) });
  }
  for (const [key, b] of base) rows.push({ key, status: 'missing', ...(b.stats ? { baselineP50: b.stats.p50 } : {}) });
  const count = (v: string): number => rows.filter((r) => r.comparison?.verdict === v).length;
  return { baselinePath, ...(baseline.at ? { baselineAt: baseline.at } : {}), maxRegression, rows, regressed: count('regressed'), improved: count('improved'), unchanged: count('unchanged') };
}

/** Checks a parsed `--baseline` document: an aivmm/bench-server@1 envelope. */
export function baselineFromJson(doc: unknown, path: string): ServerBenchReport {
  const env = doc as { schema?: unknown; data?: { points?: unknown; model?: { name?: unknown } } };
  if (typeof env !== 'object' || env === null || env.schema !== BENCH_SERVER_SCHEMA || !Array.isArray(env.data?.points) || typeof env.data?.model?.name !== 'string') {
    const seen = typeof env === 'object' && env !== null && typeof env.schema === 'string' ? `schema '${env.schema}'` : 'no aivmm schema';
    throw new ConfigError(`baseline ${path} is not an aivmm bench --server result (${seen}; expected '${BENCH_SERVER_SCHEMA}')`, 'write one with `aivmm bench --server URL --save baseline.json`');
  }
  const report = env.data as unknown as ServerBenchReport;
  for (const p of report.points) if (!Array.isArray(p.samples) || typeof p.key !== 'string') throw new ConfigError(`baseline ${path} has a point without samples`, 'regenerate it with `aivmm bench --server URL --save`');
  return report;
}
