/**
 * The serve configuration file (YAML or JSON, `--config aivmm.yaml`): server settings and per-model
 * settings (device, instances per device, queue limit, timeout, keep_alive, version policy, warm-up).
 * Flags override the file; the file overrides the defaults below. Unknown keys are refused, so a typo is
 * an error (exit 3) rather than a silently ignored setting.
 */
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import type { VersionPolicy } from './repository.js';
import { DEFAULT_POLICY, checkModelName } from './repository.js';
import type { TracingFileSettings } from '../config/tracing.js';

export interface ModelSettings {
  /** Instances per device, e.g. { CPU: 2 } or { 'GPU.0': 2, CPU: 1 }; requests go to whichever is free. */
  instances: Record<string, number>;
  /** Requests allowed to wait per served version before 503. */
  maxQueue: number;
  /** Per-request deadline (queue + compute), ms; 0: none. */
  timeoutMs: number;
  /** Unload after this long without requests (ms); 0: never (Ollama's keep_alive). */
  keepAliveMs: number;
  policy: VersionPolicy;
  /** One run on zeros per instance before the version is READY. */
  warmup: boolean;
  /** Intra-op threads per instance; undefined: the runtime decides. */
  threads?: number;
  /** Why the model is on its device (e.g. --device auto's measured choice), shown by /v1/placement. */
  placementReason?: string;
  /** Dynamic batching (Triton's `dynamic_batching`): requests concatenated along the batch dimension. */
  batching?: BatchingSettings;
  /** Priority levels (Triton's `priority_levels`, `default_priority_level`, `priority_queue_policy`). */
  priorities?: PrioritySettings;
  /** Routing over several devices: spill to the next device when the predicted latency would pass this (ms). */
  latencyTargetMs?: number;
  /** Text generation: sequences interleaved at once in the model's lane (`max_sequences`, default 4). */
  maxSequences?: number;
}

export interface PrioritySettings {
  levels: number;
  defaultLevel: number;
  /** Per level (1 = highest): max queue, timeout (ms) and what happens past it; other levels: max_queue, no timeout. */
  perLevel: Record<number, { maxQueue?: number; timeoutMs?: number; timeoutAction?: 'reject' | 'delay' }>;
}

const LEVEL_KEYS = ['max_queue_size', 'timeout', 'timeout_action'] as const;

/** `priority_levels: 3, default_priority_level: 2, priority_queue_policy: {1: {max_queue_size: 8, timeout: 100ms, timeout_action: reject}}`. */
export function parsePriorities(m: Record<string, unknown>, where: string): PrioritySettings | undefined {
  const lv = m['priority_levels'];
  const def = m['default_priority_level'];
  const pol = m['priority_queue_policy'];
  if (lv === undefined && def === undefined && pol === undefined) return undefined;
  const levels = lv === undefined ? 1 : positiveInt(lv, `${where}.priority_levels`);
  const defaultLevel = def === undefined ? Math.ceil(levels / 2) : positiveInt(def, `${where}.default_priority_level`);
  if (defaultLevel > levels)
    throw new ConfigError(`${where}.default_priority_level ${defaultLevel} is above priority_levels (${levels})`, 'levels are 1 (highest) … priority_levels');
  const out: PrioritySettings = { levels, defaultLevel, perLevel: {} };
  if (pol === undefined) return out;
  if (!pol || typeof pol !== 'object' || Array.isArray(pol))
    throw new ConfigError(`${where}.priority_queue_policy must be a map of level → {max_queue_size, timeout, timeout_action}`);
  for (const [k, raw] of Object.entries(pol as Record<string, unknown>)) {
    const w = `${where}.priority_queue_policy.${k}`;
    const n = Number(k);
    if (!Number.isInteger(n) || n < 1 || n > levels)
      throw new ConfigError(`${w}: '${k}' is not a priority level`, `levels are 1 (highest) … ${levels} (priority_levels)`);
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw new ConfigError(`${w} must be a map`, 'e.g. {max_queue_size: 16, timeout: 200ms, timeout_action: reject}');
    const o = raw as Record<string, unknown>;
    checkKeys(o, LEVEL_KEYS, w);
    const p: PrioritySettings['perLevel'][number] = {};
    if (o['max_queue_size'] !== undefined) p.maxQueue = positiveInt(o['max_queue_size'], `${w}.max_queue_size`, 0);
    if (o['timeout'] !== undefined) {
      const ms = parseDuration(o['timeout'], `${w}.timeout`);
      if (ms > 0) p.timeoutMs = ms;
    }
    if (o['timeout_action'] !== undefined) {
      const a = String(o['timeout_action']).toLowerCase();
      if (a !== 'reject' && a !== 'delay') throw new ConfigError(`${w}.timeout_action: '${String(o['timeout_action'])}' must be reject or delay`);
      p.timeoutAction = a;
    }
    out.perLevel[n] = p;
  }
  return out;
}

export interface BatchingSettings {
  maxBatchSize: number;
  preferredBatchSizes?: number[];
  /** Longest a request waits for others to join its batch, ms (fixed mode). */
  maxQueueDelayMs: number;
  /** Adaptive mode: the window and batch size are chosen so this latency quantile stays under `ms`. */
  latencyTarget?: { quantile: 0.95 | 0.99; ms: number };
  /**
   * One session per batch size on each instance (`true`), never (`false`), or on the EPs whose kernels
   * re-plan when the input shape changes, CUDA and TensorRT (`'auto'`, the default).
   */
  sessionPerBatchSize?: boolean | 'auto';
}

const BATCHING_KEYS = ['max_batch_size', 'preferred_batch_sizes', 'max_queue_delay', 'latency_target', 'session_per_batch_size'] as const;

/** `dynamic_batching: {max_batch_size: 32, preferred_batch_sizes: [8, 16], max_queue_delay: 5ms, latency_target: {p95: 50ms}}`. */
export function parseBatching(v: unknown, where: string): BatchingSettings {
  if (v === true) return { maxBatchSize: 32, maxQueueDelayMs: 2 };
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new ConfigError(`${where}.dynamic_batching must be a map (or true)`, 'e.g. dynamic_batching: {max_batch_size: 32, max_queue_delay: 5ms}');
  const o = v as Record<string, unknown>;
  checkKeys(o, BATCHING_KEYS, `${where}.dynamic_batching`);
  const w = `${where}.dynamic_batching`;
  const out: BatchingSettings = {
    maxBatchSize: o['max_batch_size'] === undefined ? 32 : positiveInt(o['max_batch_size'], `${w}.max_batch_size`),
    maxQueueDelayMs: o['max_queue_delay'] === undefined ? 2 : parseDuration(o['max_queue_delay'], `${w}.max_queue_delay`),
  };
  if (o['preferred_batch_sizes'] !== undefined) {
    const p = o['preferred_batch_sizes'];
    if (!Array.isArray(p)) throw new ConfigError(`${w}.preferred_batch_sizes must be a list of sizes`);
    out.preferredBatchSizes = p.map((n, i) => positiveInt(n, `${w}.preferred_batch_sizes[${i}]`));
    if (out.preferredBatchSizes.some((n) => n > out.maxBatchSize))
      throw new ConfigError(`${w}.preferred_batch_sizes: a size above max_batch_size ${out.maxBatchSize}`);
  }
  if (o['latency_target'] !== undefined) {
    const t = o['latency_target'];
    if (!t || typeof t !== 'object' || Array.isArray(t)) throw new ConfigError(`${w}.latency_target must be {p95: <duration>} or {p99: <duration>}`);
    const entries = Object.entries(t as Record<string, unknown>);
    const [k, d] = entries[0] ?? [];
    if (entries.length !== 1 || (k !== 'p95' && k !== 'p99')) throw new ConfigError(`${w}.latency_target must be {p95: <duration>} or {p99: <duration>}`);
    out.latencyTarget = { quantile: k === 'p95' ? 0.95 : 0.99, ms: parseDuration(d, `${w}.latency_target.${k}`) };
  }
  const per = o['session_per_batch_size'];
  if (per !== undefined) {
    if (per !== true && per !== false && per !== 'auto')
      throw new ConfigError(
        `${w}.session_per_batch_size must be true, false or auto`,
        'auto (the default): one session per batch size on the CUDA and TensorRT EPs',
      );
    out.sessionPerBatchSize = per;
  }
  return out;
}

/** `latency_target: 50ms` or `{p95: 50ms}` (the router predicts one request's latency, so the quantile is a label). */
export function parseLatencyTarget(v: unknown, where: string): number {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const entries = Object.entries(v as Record<string, unknown>);
    const [k, d] = entries[0] ?? [];
    if (entries.length !== 1 || (k !== 'p95' && k !== 'p99')) throw new ConfigError(`${where} must be a duration, {p95: <duration>} or {p99: <duration>}`);
    return parseDuration(d, `${where}.${k}`);
  }
  return parseDuration(v, where);
}

export interface ConfiguredModel extends Partial<ModelSettings> {
  name: string;
  /** A model argument as the CLI takes it: path, alias, Hub id, embedded name. */
  model?: string;
}

export interface ServeConfig {
  host?: string;
  port?: number;
  /** KServe v2 gRPC port (server.grpc_port); absent: no gRPC. */
  grpcPort?: number;
  modelRepository?: string;
  device?: string;
  pollMs?: number;
  requestTimeoutMs?: number;
  drainTimeoutMs?: number;
  maxBodyBytes?: number;
  maxQueue?: number;
  keepAliveMs?: number;
  /** server.lane: where each device's worker lane runs — a child process (default) or a worker thread of the server. */
  lane?: LaneHost;
  /** `metrics: {public: true}`: GET /metrics without the API key (as --metrics-public). */
  metricsPublic?: boolean;
  /** `tracing: {endpoint, service_name, sample_ratio}`: each loses to its OTEL_* variable (src/core/config/tracing.ts). */
  tracing?: TracingFileSettings;
  models: ConfiguredModel[];
}

export type LaneHost = 'process' | 'thread';

/** `--lane` / server.lane: 'process' or 'thread'. */
export function parseLaneHost(v: unknown, what: string): LaneHost {
  if (v === 'process' || v === 'thread') return v;
  throw new ConfigError(
    `${what} must be 'process' or 'thread', not '${String(v)}'`,
    'process: a native crash takes down only the lane; thread: tensors move without a copy, but a native crash takes down the server',
  );
}

export const DEFAULT_SETTINGS: Readonly<ModelSettings> = Object.freeze({
  instances: Object.freeze({ CPU: 1 }) as Record<string, number>,
  maxQueue: 64,
  timeoutMs: 0,
  keepAliveMs: 0,
  policy: DEFAULT_POLICY,
  warmup: true,
});

/** "500ms", "2s", "5m", "1h" or a number of seconds → ms. Negative or "-1": forever (0 here: never expire). */
export function parseDuration(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v < 0 ? 0 : v * 1000;
  const m = typeof v === 'string' ? /^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v) : null;
  if (!m) throw new ConfigError(`${what}: '${String(v)}' is not a duration`, 'write e.g. 500ms, 10s, 5m, 1h (a plain number is seconds)');
  const n = Number(m[1]);
  if (n < 0) return 0;
  const unit = m[2] ?? 's';
  return n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
}

/** "64MB", "512kB", "1GiB" or a number of bytes. */
export function parseSize(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(B|kB|KB|KiB|MB|MiB|GB|GiB)?\s*$/i.exec(v) : null;
  if (!m) throw new ConfigError(`${what}: '${String(v)}' is not a size`, 'write e.g. 64MB, 512kB or a number of bytes');
  const u = (m[2] ?? 'B').toLowerCase();
  const mult: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };
  return Math.round(Number(m[1]) * (mult[u] ?? 1));
}

function positiveInt(v: unknown, what: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(`${what}: '${String(v)}' must be an integer ≥ ${min}`);
  return v;
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new ConfigError(`${where}: unknown key '${k}'`, `allowed: ${allowed.join(', ')}`);
  }
}

/** `{CPU: 2}`, a number (on the model's device) or undefined. */
export function parseInstances(v: unknown, where: string, device = 'CPU'): Record<string, number> {
  if (typeof v === 'number') return { [device]: positiveInt(v, `${where}.instances`) };
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new ConfigError(`${where}.instances must be a number or a map of device → count`, 'e.g. instances: {GPU.0: 2, CPU: 1}');
  const out: Record<string, number> = {};
  for (const [d, n] of Object.entries(v)) out[d] = positiveInt(n, `${where}.instances.${d}`);
  if (!Object.keys(out).length) throw new ConfigError(`${where}.instances is empty`);
  return out;
}

export function parsePolicy(v: unknown, where: string): VersionPolicy {
  if (v === 'all') return { all: true };
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if ('latest' in o) return { latest: positiveInt(o['latest'], `${where}.latest`) };
    if ('all' in o) return { all: true };
    if ('specific' in o && Array.isArray(o['specific'])) return { specific: o['specific'].map((n, i) => positiveInt(n, `${where}.specific[${i}]`)) };
  }
  throw new ConfigError(`${where}: '${JSON.stringify(v)}' is not a version policy`, 'use {latest: N}, all, or {specific: [1, 3]}');
}

const MODEL_KEYS = [
  'model',
  'path',
  'device',
  'instances',
  'max_queue',
  'timeout',
  'keep_alive',
  'version_policy',
  'warmup',
  'threads',
  'dynamic_batching',
  'priority_levels',
  'default_priority_level',
  'priority_queue_policy',
  'latency_target',
  'max_sequences',
] as const;
const SERVER_KEYS = [
  'host',
  'port',
  'grpc_port',
  'model_repository',
  'device',
  'poll',
  'request_timeout',
  'drain_timeout',
  'max_body',
  'max_queue',
  'keep_alive',
  'lane',
] as const;

/** Parses the text of a config file (YAML, which includes JSON). `file` names it in errors. */
export function parseServeConfig(text: string, file: string): ServeConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message.split('\n')[0]}`, 'fix the YAML syntax');
  }
  if (doc === null || doc === undefined) return { models: [] };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${file}: the top level must be a map with 'server' and/or 'models'`);
  const top = doc as Record<string, unknown>;
  checkKeys(top, ['server', 'models', 'metrics', 'tracing'], file);
  const out: ServeConfig = { models: [] };
  const server = (top['server'] ?? {}) as Record<string, unknown>;
  if (typeof server !== 'object' || Array.isArray(server)) throw new ConfigError(`${file}: 'server' must be a map`);
  checkKeys(server, SERVER_KEYS, `${file}: server`);
  const w = `${file}: server`;
  if (server['host'] !== undefined) out.host = String(server['host']);
  if (server['port'] !== undefined) out.port = positiveInt(server['port'], `${w}.port`, 0);
  if (server['grpc_port'] !== undefined) out.grpcPort = positiveInt(server['grpc_port'], `${w}.grpc_port`, 0);
  if (server['model_repository'] !== undefined) out.modelRepository = String(server['model_repository']);
  if (server['device'] !== undefined) out.device = String(server['device']);
  if (server['poll'] !== undefined) out.pollMs = parseDuration(server['poll'], `${w}.poll`);
  if (server['request_timeout'] !== undefined) out.requestTimeoutMs = parseDuration(server['request_timeout'], `${w}.request_timeout`);
  if (server['drain_timeout'] !== undefined) out.drainTimeoutMs = parseDuration(server['drain_timeout'], `${w}.drain_timeout`);
  if (server['max_body'] !== undefined) out.maxBodyBytes = parseSize(server['max_body'], `${w}.max_body`);
  if (server['max_queue'] !== undefined) out.maxQueue = positiveInt(server['max_queue'], `${w}.max_queue`, 0);
  if (server['keep_alive'] !== undefined) out.keepAliveMs = parseDuration(server['keep_alive'], `${w}.keep_alive`);
  if (server['lane'] !== undefined) out.lane = parseLaneHost(server['lane'], `${w}.lane`);
  const section = (k: string, keys: readonly string[]): Record<string, unknown> | undefined => {
    const v = top[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${file}: '${k}' must be a map`);
    checkKeys(v as Record<string, unknown>, keys, `${file}: ${k}`);
    return v as Record<string, unknown>;
  };
  const metrics = section('metrics', ['public']);
  if (metrics?.['public'] !== undefined) {
    if (typeof metrics['public'] !== 'boolean') throw new ConfigError(`${file}: metrics.public must be true or false`);
    out.metricsPublic = metrics['public'];
  }
  const tracing = section('tracing', ['endpoint', 'service_name', 'sample_ratio']);
  if (tracing) {
    const t: TracingFileSettings = {};
    if (tracing['endpoint'] !== undefined) t.endpoint = String(tracing['endpoint']);
    if (tracing['service_name'] !== undefined) t.serviceName = String(tracing['service_name']);
    if (tracing['sample_ratio'] !== undefined) {
      const r = tracing['sample_ratio'];
      if (typeof r !== 'number' || !(r >= 0 && r <= 1)) throw new ConfigError(`${file}: tracing.sample_ratio must be a number in [0, 1]`);
      t.sampleRatio = r;
    }
    out.tracing = t;
  }
  const models = top['models'] ?? {};
  if (typeof models !== 'object' || Array.isArray(models)) throw new ConfigError(`${file}: 'models' must be a map of name → settings`);
  for (const [name, raw] of Object.entries(models as Record<string, unknown>)) {
    const where = `${file}: models.${name}`;
    try {
      checkModelName(name);
    } catch (err) {
      throw new ConfigError(`${where}: ${(err as Error).message}`);
    }
    const m = (raw ?? {}) as Record<string, unknown>;
    if (typeof m !== 'object' || Array.isArray(m)) throw new ConfigError(`${where} must be a map`);
    checkKeys(m, MODEL_KEYS, where);
    const c: ConfiguredModel = { name };
    const src = m['model'] ?? m['path'];
    if (src !== undefined) c.model = String(src);
    const device = m['device'] !== undefined ? String(m['device']) : undefined;
    if (m['instances'] !== undefined) c.instances = parseInstances(m['instances'], where, device ?? 'CPU');
    else if (device) c.instances = { [device]: 1 };
    if (m['max_queue'] !== undefined) c.maxQueue = positiveInt(m['max_queue'], `${where}.max_queue`, 0);
    if (m['timeout'] !== undefined) c.timeoutMs = parseDuration(m['timeout'], `${where}.timeout`);
    if (m['keep_alive'] !== undefined) c.keepAliveMs = parseDuration(m['keep_alive'], `${where}.keep_alive`);
    if (m['version_policy'] !== undefined) c.policy = parsePolicy(m['version_policy'], `${where}.version_policy`);
    if (m['warmup'] !== undefined) c.warmup = m['warmup'] !== false;
    if (m['threads'] !== undefined) c.threads = positiveInt(m['threads'], `${where}.threads`);
    if (m['dynamic_batching'] !== undefined && m['dynamic_batching'] !== false) c.batching = parseBatching(m['dynamic_batching'], where);
    const priorities = parsePriorities(m, where);
    if (priorities) c.priorities = priorities;
    if (m['latency_target'] !== undefined) c.latencyTargetMs = parseLatencyTarget(m['latency_target'], `${where}.latency_target`);
    if (m['max_sequences'] !== undefined) c.maxSequences = positiveInt(m['max_sequences'], `${where}.max_sequences`);
    out.models.push(c);
  }
  return out;
}

/** Defaults < server-wide values < the model's own. */
export function settingsFor(defaults: ModelSettings, model?: Partial<ModelSettings>): ModelSettings {
  const s: ModelSettings = { ...defaults, ...Object.fromEntries(Object.entries(model ?? {}).filter(([, v]) => v !== undefined)) };
  return s;
}
