/**
 * `bench` as a library: choose the (device, backend) pairs, run each through a PairRunner (the CLI's
 * runs each in its own process), compute speed-ups against the CPU, and gate against a baseline.
 */
import type { PowerSource } from './power.js';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { cpus, hostname, totalmem } from 'node:os';
import { describeTarget, targetFor } from '../backends/ep-map.js';
import type { BackendId, Device, DevicesReport } from '../devices/types.js';
import { BACKEND_IDS } from '../devices/types.js';
import { selectDevices } from '../devices/select.js';
import { BackendUnavailableError, NotFoundError, UsageError, errorMessage, errorRecord, isAivmmError } from '../errors.js';
import { gate, pairedGate, readBaseline } from './baseline.js';
import { checkModes, measurementOf, runtimeWarnings } from './mode.js';
import { mergeRepeats, splitSettings } from './merge.js';
import type { PairEvent } from './run-pair.js';
import type { BenchJob, BenchReport, BenchRow, BenchSettings, FailedPair, SkippedPair } from './types.js';

export type PairRunner = (job: BenchJob, hooks: { signal?: AbortSignal; onEvent: (e: PairEvent) => void }) => Promise<BenchRow[]>;

export type BenchEvent =
  | { kind: 'plan'; jobs: readonly BenchJob[]; skipped: readonly SkippedPair[] }
  | { kind: 'pair-start'; index: number; job: BenchJob }
  | { kind: 'pair-event'; index: number; event: PairEvent; repeat: { index: number; of: number } }
  | { kind: 'pair-end'; index: number; rows: readonly BenchRow[]; error?: FailedPair['error'] };

export interface BenchOptions {
  model: { path: string; name: string; embedded: boolean };
  devices: DevicesReport;
  /** --device: CPU, GPU.0, NPU, all. */
  device: string;
  /** --backend filter; empty: every available backend of each device. */
  backends: readonly string[];
  settings: BenchSettings;
  runner: PairRunner;
  signal?: AbortSignal;
  onEvent?: (e: BenchEvent) => void;
  baseline?: { path: string; maxRegression: number; allowHostChange?: boolean };
  /** `--against old.onnx`: B alternates with the model in blocks in each pair's process; the gate decides on the pairs. */
  against?: { path: string; name: string; maxRegression: number };
  aivmmVersion: string;
  now?: () => number;
}

export function parseBackends(values: readonly string[]): BackendId[] {
  const out: BackendId[] = [];
  for (const v of values.flatMap((x) => x.split(',')).map((x) => x.trim().toLowerCase()).filter(Boolean)) {
    const id = (BACKEND_IDS as readonly string[]).includes(v) ? v : (BACKEND_IDS as readonly string[]).includes(`ort-${v}`) ? `ort-${v}` : undefined;
    if (!id) throw new UsageError(`unknown backend '${v}'`, `use one of: ${BACKEND_IDS.join(', ')}`);
    out.push(id as BackendId);
  }
  return out;
}

/**
 * Which pairs run: for each selected device, each backend the cheap checks (or a cached probe) found
 * available, filtered by --backend. `--device all` leaves out software rasterisers (lavapipe, SwiftShader:
 * a CPU pretending to be a GPU), which run when named.
 */
export function planPairs(devices: DevicesReport, selector: string, backends: readonly BackendId[], model: BenchJob['model'], settings: BenchSettings): { jobs: BenchJob[]; skipped: SkippedPair[] } {
  const all = selector.trim().toLowerCase() === 'all';
  const selected = selectDevices(selector, devices.devices);
  const jobs: BenchJob[] = [];
  const skipped: SkippedPair[] = [];
  for (const d of selected) {
    if (all && d.software && backends.length === 0) {
      skipped.push({ device: d.id, reason: `${d.name} is a software rasteriser running on the CPU; name it (--device ${d.id}) to include it` });
      continue;
    }
    for (const reach of d.backends) {
      if (backends.length > 0 && !backends.includes(reach.backend)) continue;
      if (!reach.available) {
        skipped.push({ device: d.id, backend: reach.backend, reason: reach.reason ?? 'not available' });
        continue;
      }
      if (reach.backend === 'ort-webgpu' && settings.concurrency > 1) {
        // Measured on an H200: two WebGPU sessions on two threads of one process abort with heap corruption.
        skipped.push({ device: d.id, backend: reach.backend, reason: 'onnxruntime-node 1.30 crashes with WebGPU sessions on several threads; use --concurrency 1 and a --batch sweep for WebGPU throughput' });
        continue;
      }
      const power = powerSourceFor(d);
      jobs.push({ model, device: { id: d.id, name: d.name }, backend: reach.backend, target: targetFor(devices.devices, d, reach.backend), settings, ...(power ? { power } : {}) });
    }
  }
  for (const b of backends) {
    if (!selected.some((d: Device) => d.backends.some((r) => r.backend === b))) {
      skipped.push({ device: selected.map((d) => d.id).join(','), backend: b, reason: `${b} does not reach ${selected.length === 1 ? (selected[0]?.id ?? '') : 'the selected devices'}` });
    }
  }
  return { jobs, skipped };
}

/** NVIDIA GPUs: nvidia-smi by PCI address; CPUs: RAPL (read in the worker, where it may be absent). */
export function powerSourceFor(d: Device): PowerSource | undefined {
  if (d.kind === 'cpu') return { kind: 'rapl' };
  // nvidia-smi names buses with an 8-digit domain (00000000:65:00.0); sysfs uses 4 (0000:65:00.0).
  if (d.kind === 'gpu' && d.vendorId === '0x10de' && d.pciAddress && !d.software) return { kind: 'nvidia-smi', gpu: d.pciAddress.replace(/^([0-9a-fA-F]{4}):/, '0000$1:') };
  return undefined;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** CPU p50 / row p50 at the same batch (latency mode), or row throughput / CPU throughput. */
export function addSpeedups(rows: BenchRow[]): void {
  for (const r of rows) {
    const cpu = rows.find((c) => c.device === 'CPU' && c.backend === 'ort-cpu' && c.batch === r.batch && c.concurrency === r.concurrency);
    if (!cpu) continue;
    r.speedupVsCpu = r.mode === 'throughput' ? r.throughput.itemsPerSec / cpu.throughput.itemsPerSec : cpu.stats.p50 / r.stats.p50;
  }
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const now = opts.now ?? (() => performance.now());
  const t0 = now();
  const warnings: string[] = [];
  let size: number;
  try {
    size = (await stat(opts.model.path)).size;
  } catch (err) {
    throw new NotFoundError(`model ${opts.model.path} not found: ${errorMessage(err)}`);
  }
  const baseline = opts.baseline ? await readBaseline(opts.baseline.path) : undefined; // fail before measuring, not after
  if (baseline && opts.against) throw new UsageError('--baseline and --against are two gates: give one', '--against old.onnx when the old model is at hand (the stronger design), --baseline file.json otherwise');
  let againstInfo: BenchReport['against'];
  if (opts.against) {
    try {
      againstInfo = { name: opts.against.name, path: opts.against.path, sha256: await sha256File(opts.against.path), bytes: (await stat(opts.against.path)).size };
    } catch (err) {
      throw new NotFoundError(`--against ${opts.against.path} not found: ${errorMessage(err)}`);
    }
  }
  if (baseline) {
    // Refuse to compare two measurement modes (or machine types) before spending minutes measuring.
    const check = checkModes(measurementOf(opts.settings, opts.aivmmVersion, {}), baseline);
    if (check.modeDiffs.length > 0) {
      throw new UsageError(`baseline ${opts.baseline?.path ?? ''} was measured in another mode (${check.modeDiffs.join('; ')}): the two are not comparable`, 'measure both with the same flags (threads, iterations or duration per process, warm-up, concurrency, reference, shapes…), or re-save the baseline');
    }
    if (check.hostDiffs.length > 0) {
      if (!opts.baseline?.allowHostChange) throw new UsageError(`baseline ${opts.baseline?.path ?? ''} was measured on another machine type (${check.hostDiffs.join('; ')})`, 'compare on the machine type the baseline was saved on, or pass --allow-host-change to accept the difference');
      warnings.push(`HOST CHANGED since the baseline (${check.hostDiffs.join('; ')}): accepted by --allow-host-change; a verdict may be the machine's, not the model's`);
    }
    warnings.push(...check.warnings);
  }
  const model = { path: opts.model.path, name: opts.model.name };
  const { jobs, skipped } = planPairs(opts.devices, opts.device, parseBackends(opts.backends), model, opts.settings);
  if (opts.against) for (const j of jobs) j.against = { path: opts.against.path, name: opts.against.name, maxRegression: opts.against.maxRegression };
  if (jobs.length === 0) {
    const why = skipped.map((s) => `${s.device}${s.backend ? ` ${s.backend}` : ''}: ${s.reason}`).join('; ');
    throw new BackendUnavailableError(`nothing to run on --device ${opts.device}${opts.backends.length ? ` --backend ${opts.backends.join(',')}` : ''}${why ? ` (${why})` : ''}`, 'run `aivmm devices` to see which backends reach each device');
  }
  opts.onEvent?.({ kind: 'plan', jobs, skipped });
  const rows: BenchRow[] = [];
  const failed: FailedPair[] = [];
  const runtimes: Record<string, string> = {};
  for (const [index, job] of jobs.entries()) {
    if (opts.signal?.aborted) break;
    opts.onEvent?.({ kind: 'pair-start', index, job });
    try {
      const runs: BenchRow[][] = [];
      const repeat = Math.max(1, opts.settings.repeat);
      const part = { ...job, settings: splitSettings(job.settings) };
      for (let r = 0; r < repeat && !(r > 0 && opts.signal?.aborted); r++) {
        runs.push(
          await opts.runner(part, {
            ...(opts.signal ? { signal: opts.signal } : {}),
            onEvent: (event) => {
              if (event.kind === 'session') runtimes[job.target.runtime === 'openvino' ? 'openvino-node' : 'onnxruntime-node'] = event.runtimeVersion;
              opts.onEvent?.({ kind: 'pair-event', index, event, repeat: { index: r, of: repeat } });
            },
          }),
        );
      }
      const got = mergeRepeats(runs);
      rows.push(...got);
      opts.onEvent?.({ kind: 'pair-end', index, rows: got });
    } catch (err) {
      if (!isAivmmError(err) && !(err instanceof Error)) throw err;
      const error = errorRecord(err);
      failed.push({ device: job.device.id, deviceName: job.device.name, backend: job.backend, target: describeTarget(job.target), error });
      opts.onEvent?.({ kind: 'pair-end', index, rows: [], error });
    }
  }
  addSpeedups(rows);
  for (const r of rows) {
    if (r.noise.noisy) warnings.push(`${r.device} ${r.backend} batch ${r.batch}: unstable measurement (${r.noise.reasons.join('; ')}); close other programs or measure longer (--duration)`);
    if (r.placement?.fallback) warnings.push(`${r.device} ${r.backend}: ${r.placement.note}`);
  }
  for (const f of failed) warnings.push(`${f.device} ${f.backend} failed: ${f.error.message}`);
  const cpu = cpus();
  const measurement = measurementOf(opts.settings, opts.aivmmVersion, runtimes, opts.against?.name);
  const report: BenchReport = {
    at: new Date().toISOString(),
    aivmmVersion: opts.aivmmVersion,
    host: { hostname: hostname(), platform: process.platform, arch: process.arch, cpu: cpu[0]?.model.trim() ?? 'unknown', logicalCores: cpu.length, memoryBytes: totalmem() },
    runtimes,
    model: { name: opts.model.name, path: opts.model.path, sha256: await sha256File(opts.model.path), bytes: size, embedded: opts.model.embedded },
    settings: opts.settings,
    measurement,
    ...(againstInfo ? { against: againstInfo } : {}),
    rows,
    failed,
    skipped,
    interrupted: Boolean(opts.signal?.aborted),
    warnings,
    elapsedMs: Math.round(now() - t0),
  };
  if (baseline && opts.baseline) {
    report.gate = gate(rows, baseline, opts.baseline.path, opts.baseline.maxRegression);
    warnings.push(...runtimeWarnings(runtimes, baseline.measurement?.runtimes ?? baseline.runtimes));
    const missing = report.gate.rows.filter((r) => r.status === 'missing');
    if (missing.length > 0) warnings.push(`${missing.length} baseline row(s) not measured now: ${missing.map((m) => m.key).join('; ')}`);
    if (baseline.model.sha256 && baseline.model.name === report.model.name && baseline.model.sha256 !== report.model.sha256) {
      warnings.push(`model ${report.model.name} changed since the baseline (sha256 ${baseline.model.sha256.slice(0, 12)} → ${report.model.sha256.slice(0, 12)})`);
    }
  }
  if (opts.against) report.gate = pairedGate(rows, opts.against.path, opts.against.maxRegression);
  if (report.gate && report.gate.matched === 0) {
    warnings.push(`no row of this run matches ${opts.against ? `--against ${opts.against.path}` : `the baseline ${report.gate.baselinePath}`}: the gate checked nothing (a renamed model, another device, backend or batch?)`);
  }
  return report;
}

export { benchPair, type PairEvent } from './run-pair.js';
export { gate, pairedGate, compareRepeats, comparePaired, readBaseline, rowKey, parsePercent, BENCH_SCHEMA } from './baseline.js';
export { checkModes, measurementMode, hostFingerprint } from './mode.js';
export { welchLogRatio, pairedRatio, wilcoxonSignedRank, studentTQuantile, decide } from './gate-stats.js';
export { measurePaired } from './measure.js';
export { compareSamples, mannWhitney, bootstrapMedianRatio } from './compare.js';
export { describe as describeSamples, histogram, medianCiRanks, quantileSorted } from './stats.js';
export { measure, parseDuration } from './measure.js';
export { parseShape, parseInputFileFlag } from './inputs.js';
export type * from './types.js';
