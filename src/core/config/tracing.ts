/**
 * Tracing settings from OpenTelemetry's standard environment variables
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/ and the OTLP
 * exporter page), read here so the rest of aivmm gets one object and never reads the environment.
 *
 * Off unless asked for: OTEL_TRACES_EXPORTER=otlp, or (that variable unset) an OTLP endpoint variable
 * set. The spec's default exporter is otlp; aivmm does not export to localhost:4318 on its own because
 * a server that starts sending spans when nobody configured a collector is a surprise. OTEL_SDK_DISABLED
 * =true and OTEL_TRACES_EXPORTER=none turn it off whatever else is set. The serve config file's
 * `tracing:` section (src/core/serve/config.ts) sits under these variables: the environment wins.
 */
import { ConfigError } from '../errors.js';
import type { Env } from './load.js';

export type SamplerName = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';
const SAMPLERS: readonly SamplerName[] = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'];

export interface TracingSettings {
  enabled: boolean;
  /** Why it is off (shown by serve's start line), or where spans go when on. */
  reason: string;
  /** The OTLP/HTTP traces URL (…/v1/traces). */
  endpoint: string;
  headers: Record<string, string>;
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES, decoded (service.name there loses to OTEL_SERVICE_NAME). */
  resourceAttributes: Record<string, string>;
  sampler: SamplerName;
  /** The ratio of the traceidratio samplers, 0–1. */
  samplerArg: number;
  /** The OTLP/HTTP body: protobuf (the spec's default, ≈ 3× smaller and cheaper to encode) or JSON. */
  protocol: 'http/protobuf' | 'http/json';
  /** The batch span processor (OTEL_BSP_*): most spans held, spans per export, longest wait before one, export timeout. */
  batch: { maxQueueSize: number; maxExportBatchSize: number; scheduledDelayMs: number; exportTimeoutMs: number };
}

/** The parts of the serve config file's `tracing:` section; each loses to its variable. */
export interface TracingFileSettings {
  endpoint?: string;
  serviceName?: string;
  /** A ratio 0–1: parentbased_traceidratio with it. */
  sampleRatio?: number;
}

const DEFAULT_ENDPOINT = 'http://localhost:4318/v1/traces';

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/** A positive integer variable, or its default. */
function count(env: Env, name: string, dflt: number): number {
  const v = env[name];
  if (!set(v)) return dflt;
  const n = Number(v.trim());
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${name}: '${v}' is not a positive integer`, `unset it for the default, ${dflt}`);
  return n;
}

/** `k=v,k2=v2` with percent-encoded values (the W3C Baggage-like list both headers and resource attributes use). */
export function parseKeyValues(v: string | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!set(v)) return out;
  for (const part of v.split(',')) {
    if (!part.trim()) continue;
    const i = part.indexOf('=');
    if (i <= 0) throw new ConfigError(`${what}: '${part.trim()}' is not key=value`, `write e.g. ${what}=key1=value1,key2=value2`);
    try {
      out[decodeURIComponent(part.slice(0, i).trim())] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      throw new ConfigError(`${what}: '${part.trim()}' has a malformed percent-encoding`);
    }
  }
  return out;
}

function url(v: string, what: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(`${what}: '${v}' is not a URL`, 'e.g. http://collector:4318');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${what}: '${v}' must be http or https (aivmm exports OTLP over HTTP)`, 'OTLP/HTTP collectors listen on port 4318');
  return v;
}

export function tracingSettings(env: Env, file: TracingFileSettings = {}): TracingSettings {
  const exporter = env['OTEL_TRACES_EXPORTER']?.trim().toLowerCase();
  const tracesEndpoint = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  const baseEndpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  const protocol = (env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] ?? env['OTEL_EXPORTER_OTLP_PROTOCOL'])?.trim().toLowerCase();
  const disabled = env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true';

  // The endpoint: the signal's own variable as is; the base one with v1/traces appended (the spec's rule).
  let endpoint = DEFAULT_ENDPOINT;
  if (set(tracesEndpoint)) endpoint = url(tracesEndpoint.trim(), 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  else if (set(baseEndpoint)) endpoint = `${url(baseEndpoint.trim(), 'OTEL_EXPORTER_OTLP_ENDPOINT').replace(/\/+$/, '')}/v1/traces`;
  else if (file.endpoint) endpoint = url(file.endpoint, 'tracing.endpoint');

  const exporters = set(exporter) ? exporter.split(',').map((s) => s.trim()) : [];
  for (const e of exporters) {
    if (e !== 'otlp' && e !== 'none') throw new ConfigError(`OTEL_TRACES_EXPORTER: aivmm exports traces with otlp only, not '${e}'`, 'set OTEL_TRACES_EXPORTER=otlp (or none)');
  }
  if (protocol === 'grpc') throw new ConfigError("OTEL_EXPORTER_OTLP_PROTOCOL: aivmm exports OTLP over HTTP, not 'grpc'", 'use http/json (or http/protobuf: an OTLP/HTTP receiver, port 4318, takes both)');
  if (protocol !== undefined && protocol !== '' && protocol !== 'http/json' && protocol !== 'http/protobuf') throw new ConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL: unknown protocol '${protocol}'`, 'http/protobuf or http/json');

  // The SDK's batch processor reads no variable itself; its defaults (2048 held, 512 per export) drop
  // spans at a few thousand requests a second whenever one export is slow, so aivmm holds and sends more.
  const batch = {
    maxQueueSize: count(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 8192),
    maxExportBatchSize: count(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 2048),
    scheduledDelayMs: count(env, 'OTEL_BSP_SCHEDULE_DELAY', 1000),
    exportTimeoutMs: count(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30_000),
  };
  if (batch.maxExportBatchSize > batch.maxQueueSize) {
    throw new ConfigError(`OTEL_BSP_MAX_EXPORT_BATCH_SIZE (${batch.maxExportBatchSize}) is larger than OTEL_BSP_MAX_QUEUE_SIZE (${batch.maxQueueSize})`, 'an export takes at most the spans held');
  }

  const samplerRaw = env['OTEL_TRACES_SAMPLER']?.trim().toLowerCase();
  let sampler: SamplerName = file.sampleRatio !== undefined ? 'parentbased_traceidratio' : 'parentbased_always_on';
  if (set(samplerRaw)) {
    if (!(SAMPLERS as readonly string[]).includes(samplerRaw)) throw new ConfigError(`OTEL_TRACES_SAMPLER: unknown sampler '${samplerRaw}'`, `one of ${SAMPLERS.join(', ')}`);
    sampler = samplerRaw as SamplerName;
  }
  const argRaw = env['OTEL_TRACES_SAMPLER_ARG'];
  let samplerArg = file.sampleRatio ?? 1;
  if (set(argRaw) && sampler.endsWith('traceidratio')) {
    const n = Number(argRaw);
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG: '${argRaw}' is not a ratio in [0, 1]`);
    samplerArg = n;
  }

  const headers = { ...parseKeyValues(env['OTEL_EXPORTER_OTLP_HEADERS'], 'OTEL_EXPORTER_OTLP_HEADERS'), ...parseKeyValues(env['OTEL_EXPORTER_OTLP_TRACES_HEADERS'], 'OTEL_EXPORTER_OTLP_TRACES_HEADERS') };
  const resourceAttributes = parseKeyValues(env['OTEL_RESOURCE_ATTRIBUTES'], 'OTEL_RESOURCE_ATTRIBUTES');
  const serviceName = set(env['OTEL_SERVICE_NAME']) ? (env['OTEL_SERVICE_NAME'] as string).trim() : (resourceAttributes['service.name'] ?? file.serviceName ?? 'aivmm');

  const asked = exporters.includes('otlp') || (!exporters.length && (set(tracesEndpoint) || set(baseEndpoint) || file.endpoint !== undefined));
  const enabled = !disabled && asked && !exporters.includes('none');
  const reason = disabled
    ? 'OTEL_SDK_DISABLED=true'
    : exporters.includes('none')
      ? 'OTEL_TRACES_EXPORTER=none'
      : !asked
        ? 'no OTEL_TRACES_EXPORTER=otlp or OTLP endpoint set'
        : `OTLP/HTTP to ${endpoint}`;
  return { enabled, reason, endpoint, headers, serviceName, resourceAttributes, sampler, samplerArg, protocol: protocol === 'http/json' ? 'http/json' : 'http/protobuf', batch };
}
