/**
 * `devices --probe`: verify each cheap "available" verdict by running a tiny model on the
 * (device, backend) pair, detect silent CPU fallback, and cache the results per host so that
 * later plain runs can show them.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { withFileLock } from '../file-lock.js';
import { targetFor, type RuntimeTarget } from '../backends/ep-map.js';
import type { ProbeJob, ProbeOutcome } from './probe-run.js';
import type { BackendId, BackendReach, Device, DevicesReport, ProbeResult } from './types.js';

export type ProbeRunner = (job: ProbeJob, env: Readonly<Record<string, string>>, timeoutMs: number) => Promise<ProbeOutcome>;

export interface ProbeEvent {
  kind: 'probe-start' | 'probe-done';
  device: string;
  backend: BackendId;
  index: number;
  total: number;
  result?: ProbeResult;
}

export interface ProbeOptions {
  runner: ProbeRunner;
  /** Where the per-host cache lives; undefined disables caching. */
  cacheDir?: string;
  timeoutMs?: number;
  /** Only these device ids (after --device resolution). */
  deviceIds?: readonly string[];
  now?: () => Date;
  onProgress?: (e: ProbeEvent) => void;
  /** Largest output difference from the CPU EP that still counts as correct. */
  tolerance?: number;
}

/** Identifies this host's hardware and software stack: when it changes, cached probes no longer apply. */
export function hostFingerprint(report: DevicesReport): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([report.host.hostname, report.host.platform, report.host.arch]));
  h.update(JSON.stringify(report.runtimes.map((r) => [r.name, r.installed, r.version ?? ''])));
  for (const d of report.devices) h.update(JSON.stringify([d.id, d.name, d.pciAddress ?? '', d.driverVersion ?? '', d.vulkanIcd ?? '', d.backends.map((b) => [b.backend, b.available])]));
  return h.digest('hex').slice(0, 16);
}

interface CacheFile {
  schema: 'aivmm/probe-cache@1';
  fingerprint: string;
  hostname: string;
  at: string;
  results: Record<string, ProbeResult>;
}

const cacheKey = (device: Device, backend: BackendId): string => `${device.id}|${backend}`;

export function probeCachePath(cacheDir: string, report: DevicesReport): string {
  const host = report.host.hostname.replace(/[^A-Za-z0-9._-]/g, '_') || 'host';
  return join(cacheDir, 'probes', `${host}-${hostFingerprint(report)}.json`);
}

async function readCache(path: string): Promise<CacheFile | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as CacheFile;
    return parsed.schema === 'aivmm/probe-cache@1' ? parsed : undefined;
  } catch {
    return undefined; // absent or unreadable: plain runs carry on without it
  }
}

/** Applies a probe result to a reach verdict. */
function applyResult(reach: BackendReach, result: ProbeResult): void {
  reach.probe = result;
  reach.verified = true;
  delete reach.reason;
  delete reach.fix;
  if (!result.ok) {
    reach.available = false;
    reach.reason = `probe failed: ${result.error ?? 'unknown error'}`;
    return;
  }
  if (result.fallback && result.ranOnTarget === false) {
    reach.available = false;
    reach.reason = 'silent fallback: every node ran on the CPU';
    return;
  }
  reach.available = true;
  if (result.fallback) reach.reason = `partial fallback: nodes ran on ${Object.keys(result.executedOn ?? {}).join(', ')}`;
}

/** Marks plain (unprobed) verdicts with what an earlier probe on this very host found. */
export async function applyProbeCache(report: DevicesReport, cacheDir: string): Promise<void> {
  const path = probeCachePath(cacheDir, report);
  const cache = await readCache(path);
  report.probeCache = cache ? { path, at: cache.at, used: true } : { path, used: false };
  if (!cache || cache.fingerprint !== hostFingerprint(report)) return;
  for (const d of report.devices) {
    for (const b of d.backends) {
      const hit = cache.results[cacheKey(d, b.backend)];
      if (hit && b.available) applyResult(b, { ...hit, cached: true });
    }
  }
}

function toResult(outcome: ProbeOutcome, target: RuntimeTarget, at: string, tolerance: number): ProbeResult {
  const r: ProbeResult = { ok: outcome.ok, at, cached: false };
  if (outcome.sessionMs !== undefined) r.sessionMs = outcome.sessionMs;
  if (outcome.runMs !== undefined) r.runMs = outcome.runMs;
  if (outcome.maxAbsDiff !== undefined) r.maxAbsDiff = outcome.maxAbsDiff;
  if (outcome.error) r.error = outcome.error;
  if (outcome.executedOn) {
    r.executedOn = outcome.executedOn;
    const expected = target.runtime === 'onnxruntime' ? target.profileName : target.device;
    const elsewhere = Object.entries(outcome.executedOn).filter(([p, n]) => n > 0 && !p.includes(expected));
    const onTarget = Object.entries(outcome.executedOn).filter(([p, n]) => n > 0 && p.includes(expected));
    r.fallback = Boolean(outcome.strictFailed) || elsewhere.length > 0;
    r.ranOnTarget = onTarget.length > 0;
    // Nothing ran where it was asked to: that is a fallback, never a working accelerator.
    if (!r.ranOnTarget) r.fallback = true;
  }
  if (r.ok && (r.maxAbsDiff ?? 0) > tolerance) {
    r.ok = false;
    r.error = `output differs from the CPU EP by ${r.maxAbsDiff} (tolerance ${tolerance})`;
  }
  return r;
}

export async function probeDevices(report: DevicesReport, opts: ProbeOptions): Promise<DevicesReport> {
  const now = opts.now ?? (() => new Date());
  const tolerance = opts.tolerance ?? 1e-3;
  const pairs: { device: Device; reach: BackendReach }[] = [];
  for (const device of report.devices) {
    if (opts.deviceIds && !opts.deviceIds.includes(device.id)) continue;
    for (const reach of device.backends) if (reach.available) pairs.push({ device, reach });
  }
  const path = opts.cacheDir ? probeCachePath(opts.cacheDir, report) : undefined;
  const fingerprint = hostFingerprint(report); // before probes change any verdict
  const results: Record<string, ProbeResult> = {}; // this run's; merged into the file under its lock at the end

  // One at a time: probes share accelerators and CPU cores, and timings should not disturb each other.
  for (const [index, { device, reach }] of pairs.entries()) {
    opts.onProgress?.({ kind: 'probe-start', device: device.id, backend: reach.backend, index, total: pairs.length });
    const target = targetFor(report.devices, device, reach.backend);
    const env = target.runtime === 'onnxruntime' ? target.env : {};
    const outcome = await opts.runner({ target, model: 'probe-mlp' }, env, opts.timeoutMs ?? 120_000);
    const result = toResult(outcome, target, now().toISOString(), tolerance);
    results[cacheKey(device, reach.backend)] = result;
    const ort = report.runtimes.find((r) => r.name === 'onnxruntime-node');
    if (outcome.builtWith && ort && target.runtime === 'onnxruntime') ort.builtWith = outcome.builtWith;
    applyResult(reach, result);
    opts.onProgress?.({ kind: 'probe-done', device: device.id, backend: reach.backend, index, total: pairs.length, result });
  }
  report.probed = true;
  if (path) {
    const at = now().toISOString();
    const file: CacheFile = { schema: 'aivmm/probe-cache@1', fingerprint, hostname: report.host.hostname, at, results };
    try {
      // Read-merge-write under the file's lock: another process (a second CLI, a server) may have
      // written results for other pairs since this run started, and they must survive.
      await withFileLock(`${path}.lock`, async () => {
        const current = await readCache(path);
        if (current?.fingerprint === fingerprint) file.results = { ...current.results, ...results };
        await writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`);
      });
      report.probeCache = { path, at, used: false };
    } catch (err) {
      report.warnings.push(`could not save probe results to ${path}: ${(err as Error).message}`);
    }
  }
  return report;
}
