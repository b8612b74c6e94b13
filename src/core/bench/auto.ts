/**
 * `--device auto`: pick the (device, backend) pair for a model on this host — the fastest by latency
 * (batch-1 p50) or by throughput (items/s) — among pairs that meet `--require`, from measurements cached
 * per host and model, measuring the missing ones with quick probes first. Explains its choice.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { withFileLock } from '../file-lock.js';
import type { BackendId, Device, DevicesReport } from '../devices/types.js';
import { hostFingerprint } from '../devices/probe.js';
import { BackendUnavailableError, UsageError } from '../errors.js';
import type { BenchRow } from './types.js';

export type Prefer = 'latency' | 'throughput';

export interface Requirement {
  text: string;
  key: 'memory' | 'fp16' | 'int8' | 'kind' | 'vendor' | 'backend';
  op: '>=' | '<=' | '=' | 'has';
  value?: number | string;
}

const UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };
const HELP = 'requirements: memory>=4GB (or <=), fp16, int8, kind=gpu|cpu|npu, vendor=nvidia|intel|amd|…, backend=ort-webgpu|ort-cpu|…, comma-separated';

export function parseRequire(value: string | undefined): Requirement[] {
  if (!value || !value.trim()) return [];
  return value.split(',').map((raw) => {
    const text = raw.trim();
    const mem = /^memory\s*(>=|<=|=)\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?$/i.exec(text);
    if (mem) return { text, key: 'memory', op: mem[1] as Requirement['op'], value: Number(mem[2]) * (UNITS[(mem[3] ?? 'gb').toLowerCase()] ?? 1e9) };
    if (/^(fp16|int8)$/i.test(text)) return { text, key: text.toLowerCase() as 'fp16' | 'int8', op: 'has' };
    const kv = /^(kind|vendor|backend)\s*=\s*([\w.-]+)$/i.exec(text);
    if (kv) return { text, key: kv[1]!.toLowerCase() as Requirement['key'], op: '=', value: kv[2]!.toLowerCase() };
    throw new UsageError(`invalid --require '${text}'`, HELP);
  });
}

/** Why (device, backend) does not meet a requirement; undefined when it meets them all. */
export function unmet(d: Device, backend: BackendId, reqs: readonly Requirement[]): string | undefined {
  const features = new Set(d.cpu?.features ?? []);
  for (const r of reqs) {
    switch (r.key) {
      case 'memory': {
        const have = d.memoryBytes;
        if (have === undefined) return `${r.text}: ${d.id}'s memory is unknown`;
        const need = r.value as number;
        if ((r.op === '>=' && have < need) || (r.op === '<=' && have > need) || (r.op === '=' && have !== need)) return `${r.text}: ${d.id} has ${(have / 1e9).toFixed(1)} GB`;
        break;
      }
      case 'fp16':
        // Native float16 arithmetic: GPUs (WebGPU shader-f16, CUDA), NPUs; CPUs with AVX512-FP16 or Arm FP16.
        if (d.kind === 'cpu' && !features.has('avx512_fp16') && !features.has('fp16')) return 'fp16: this CPU has no float16 arithmetic (AVX512-FP16 or Arm FP16)';
        if (d.software) return `fp16: ${d.name} is a software rasteriser`;
        break;
      case 'int8':
        // Integer kernels: CPUs with VNNI/AMX/dot-product; on GPUs only CUDA/TensorRT (the WebGPU EP runs
        // QDQ models' Q/DQ nodes on the CPU: docs/performance.md), NPUs through OpenVINO.
        if (d.kind === 'cpu' && !['avx512_vnni', 'avx_vnni', 'amx_int8', 'dotprod', 'i8mm'].some((f) => features.has(f))) return 'int8: this CPU has no int8 dot-product instructions (VNNI, AMX, Arm dotprod)';
        if (d.kind === 'gpu' && !['ort-cuda', 'ort-tensorrt', 'openvino'].includes(backend)) return `int8: ${backend} has no int8 kernels`;
        break;
      case 'kind':
        if (d.kind !== r.value) return `${r.text}: ${d.id} is a ${d.kind}`;
        break;
      case 'vendor':
        if (!d.vendor.toLowerCase().includes(String(r.value))) return `${r.text}: ${d.id} is ${d.vendor}`;
        break;
      case 'backend':
        if (backend !== r.value) return `${r.text}`;
        break;
    }
  }
  return undefined;
}

export interface PairMeasurement {
  /** Batch-1 p50, ms. */
  latencyMs?: number;
  /** Best items/s seen, and at which batch. */
  itemsPerSec?: number;
  batch?: number;
  at: string;
}

export interface AutoCandidate {
  device: string;
  deviceName: string;
  backend: BackendId;
  measured?: PairMeasurement;
  /** 'cache': measured by an earlier run; 'probe': measured now. */
  source?: 'cache' | 'probe';
  /** Why it was not eligible. */
  excluded?: string;
}

export interface AutoChoice {
  device: string;
  backend: BackendId;
  prefer: Prefer;
  require: string[];
  reason: string;
  candidates: AutoCandidate[];
}

interface CacheFile {
  schema: 'aivmm/auto-cache@1';
  /** host fingerprint → model sha256 → "DEVICE backend" → measurement */
  hosts: Record<string, Record<string, Record<string, PairMeasurement>>>;
}

const cachePath = (cacheDir: string): string => join(cacheDir, 'auto', 'measurements.json');
const key = (device: string, backend: string): string => `${device} ${backend}`;

async function readCache(cacheDir: string): Promise<CacheFile> {
  try {
    const parsed = JSON.parse(await readFile(cachePath(cacheDir), 'utf8')) as CacheFile;
    if (parsed.schema === 'aivmm/auto-cache@1' && parsed.hosts) return parsed;
  } catch {
    // absent or unreadable: start afresh
  }
  return { schema: 'aivmm/auto-cache@1', hosts: {} };
}

/** What bench rows say about each pair (latency at batch 1, best throughput), merged into the cache. */
export async function recordMeasurements(cacheDir: string, devices: DevicesReport, modelSha: string, rows: readonly BenchRow[]): Promise<void> {
  if (rows.length === 0) return;
  await mkdir(join(cacheDir, 'auto'), { recursive: true });
  // Read-merge-write under the cache's lock, so two processes cannot lose each other's measurements.
  await withFileLock(`${cachePath(cacheDir)}.lock`, () => recordUnlocked(cacheDir, devices, modelSha, rows));
}

async function recordUnlocked(cacheDir: string, devices: DevicesReport, modelSha: string, rows: readonly BenchRow[]): Promise<void> {
  const cache = await readCache(cacheDir);
  const host = (cache.hosts[hostFingerprint(devices)] ??= {});
  const model = (host[modelSha] ??= {});
  const at = new Date().toISOString();
  for (const r of rows) {
    if (r.interrupted) continue;
    const m = (model[key(r.device, r.backend)] ??= { at });
    m.at = at;
    if (r.batch === 1 && r.concurrency === 1) m.latencyMs = r.stats.p50;
    if (m.itemsPerSec === undefined || r.throughput.itemsPerSec > m.itemsPerSec) {
      m.itemsPerSec = r.throughput.itemsPerSec;
      m.batch = r.batch;
    }
  }
  await mkdir(join(cacheDir, 'auto'), { recursive: true });
  await writeFileAtomic(cachePath(cacheDir), `${JSON.stringify(cache, null, 2)}\n`);
}

/** Every available pair, marked with why it is excluded (software GPU, unmet requirement) and what the cache knows. */
export async function autoCandidates(cacheDir: string, devices: DevicesReport, modelSha: string, reqs: readonly Requirement[]): Promise<AutoCandidate[]> {
  const cache = await readCache(cacheDir);
  const known = cache.hosts[hostFingerprint(devices)]?.[modelSha] ?? {};
  const out: AutoCandidate[] = [];
  for (const d of devices.devices) {
    for (const reach of d.backends) {
      if (!reach.available) continue;
      const c: AutoCandidate = { device: d.id, deviceName: d.name, backend: reach.backend };
      const why = d.software ? `${d.name} is a software rasteriser on the CPU` : unmet(d, reach.backend, reqs);
      if (why) c.excluded = why;
      const m = known[key(d.id, reach.backend)];
      if (m) {
        c.measured = m;
        c.source = 'cache';
      }
      out.push(c);
    }
  }
  return out;
}

const metric = (m: PairMeasurement | undefined, prefer: Prefer): number | undefined => (prefer === 'latency' ? m?.latencyMs : m?.itemsPerSec);

/** Candidates still lacking the measurement `prefer` needs. */
export function unmeasured(candidates: readonly AutoCandidate[], prefer: Prefer): AutoCandidate[] {
  return candidates.filter((c) => !c.excluded && metric(c.measured, prefer) === undefined);
}

export function choose(candidates: readonly AutoCandidate[], prefer: Prefer, reqs: readonly Requirement[]): AutoChoice {
  const eligible = candidates.filter((c) => !c.excluded && metric(c.measured, prefer) !== undefined);
  if (eligible.length === 0) {
    const why = candidates.map((c) => `${c.device} ${c.backend}: ${c.excluded ?? 'not measured'}`).join('; ');
    throw new BackendUnavailableError(`--device auto: no (device, backend) pair meets ${reqs.length ? reqs.map((r) => r.text).join(', ') : 'the requirements'}${why ? ` (${why})` : ''}`, 'relax --require, or run `aivmm devices --probe`');
  }
  const better = (a: AutoCandidate, b: AutoCandidate): number => (prefer === 'latency' ? metric(a.measured, prefer)! - metric(b.measured, prefer)! : metric(b.measured, prefer)! - metric(a.measured, prefer)!);
  const ranked = [...eligible].sort(better);
  const best = ranked[0]!;
  const show = (c: AutoCandidate): string => {
    const v = metric(c.measured, prefer)!;
    return prefer === 'latency' ? `${c.device} ${c.backend} ${v.toFixed(2)} ms` : `${c.device} ${c.backend} ${Math.round(v)} items/s (batch ${c.measured?.batch ?? '?'})`;
  };
  const runnerUp = ranked[1];
  const reason =
    `${show(best)} (${best.source === 'cache' ? `measured ${best.measured?.at.slice(0, 10) ?? ''}, cached` : 'probed now'})` +
    (runnerUp ? ` beats ${ranked.slice(1).map(show).join(', ')}` : ', the only eligible pair') +
    ` for ${prefer === 'latency' ? 'batch-1 latency' : 'throughput'}` +
    (reqs.length ? `; required: ${reqs.map((r) => r.text).join(', ')}` : '');
  return { device: best.device, backend: best.backend, prefer, require: reqs.map((r) => r.text), reason, candidates: [...candidates] };
}

export interface ChooseAutoArgs {
  model: { name: string; path: string; embedded: boolean };
  devices: DevicesReport;
  cacheDir: string;
  modelSha: string;
  requirements: Requirement[];
  prefer: Prefer;
  /** Backends to choose among (--backend); empty: all. */
  backends: readonly string[];
  runner: import('./index.js').PairRunner;
  signal: AbortSignal;
  aivmmVersion: string;
  onEvent?: (e: import('./index.js').BenchEvent) => void;
  /** Progress lines (probing, a failed probe). */
  log?: (message: string) => void;
}

/** The quick probe's settings: a second of batch 1 (latency) or batch 16 (throughput). */
function probeSettings(prefer: Prefer): import('./types.js').BenchSettings {
  return { batches: [prefer === 'latency' ? 1 : 16], shapes: [], inputFiles: [], seed: 1, concurrency: 1, warmup: { ms: 300 }, durationMs: 1000, minIterations: 5, maxMs: 15_000, epOptions: {}, repeat: 1, reference: false };
}

/** `--device auto`: quick probes for the pairs the cache has not measured for this model (recorded), then the choice. */
export async function chooseAuto(a: ChooseAutoArgs): Promise<AutoChoice> {
  const { runBench } = await import('./index.js');
  const { errorMessage } = await import('../errors.js');
  const log = a.log ?? ((): void => undefined);
  let candidates = await autoCandidates(a.cacheDir, a.devices, a.modelSha, a.requirements);
  if (a.backends.length > 0) candidates = candidates.map((c) => (a.backends.includes(c.backend) || c.excluded ? c : { ...c, excluded: `--backend ${a.backends.join(',')}` }));
  const probed = new Set<string>();
  for (const c of unmeasured(candidates, a.prefer)) {
    if (a.signal.aborted) break;
    log(`auto: probing ${c.device} ${c.backend}`);
    const r = await runBench({ model: a.model, devices: a.devices, device: c.device, backends: [c.backend], settings: probeSettings(a.prefer), runner: a.runner, signal: a.signal, ...(a.onEvent ? { onEvent: a.onEvent } : {}), aivmmVersion: a.aivmmVersion }).catch((err: unknown) => {
      log(`auto: ${c.device} ${c.backend} probe failed: ${errorMessage(err)}`);
      return undefined;
    });
    if (r && r.rows.length > 0) {
      await recordMeasurements(a.cacheDir, a.devices, a.modelSha, r.rows);
      probed.add(`${c.device} ${c.backend}`);
    } else if (r) {
      candidates = candidates.map((x) => (x === c ? { ...x, excluded: r.failed[0]?.error.message ?? 'probe failed' } : x));
    }
  }
  const fresh = await autoCandidates(a.cacheDir, a.devices, a.modelSha, a.requirements);
  const merged = fresh.map((c) => {
    const before = candidates.find((x) => x.device === c.device && x.backend === c.backend);
    const excluded = c.excluded ?? before?.excluded;
    return { ...c, ...(excluded ? { excluded } : {}), ...(probed.has(`${c.device} ${c.backend}`) ? { source: 'probe' as const } : {}) };
  });
  return choose(merged, a.prefer, a.requirements);
}
