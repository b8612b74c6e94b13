/**
 * Self-describing reports (issue #21): how a run was measured and on what machine, and whether two runs
 * may be compared. A `--json` baseline and a `--baseline` run used to differ (the reference workload ran
 * only in the second) without a word; now every report records its mode and the gate refuses a mismatch.
 */
import { createHash } from 'node:crypto';
import { cpus, hostname, release, totalmem } from 'node:os';
import type { BenchReport, BenchSettings, HostFingerprint, Measurement, MeasurementMode } from './types.js';
import { splitSettings } from './merge.js';

export function measurementMode(settings: BenchSettings, against?: string): MeasurementMode {
  const per = splitSettings(settings);
  return {
    reference: settings.reference && settings.concurrency === 1 && against === undefined,
    threads: settings.threads ?? null,
    concurrency: settings.concurrency,
    warmup: settings.warmup,
    iterations: per.iterations ?? null,
    durationMs: per.durationMs ?? null,
    repeat: Math.max(1, settings.repeat),
    batches: settings.batches,
    shapes: (settings.shapes ?? []).map((x) => `${x.name ?? ''}=${x.dims.join('x')}`),
    inputData: (settings.inputFiles ?? []).length > 0,
    seed: settings.seed,
    graphOptimizationLevel: settings.graphOptimizationLevel ?? null,
    epOptions: settings.epOptions ?? {},
    against: against ?? null,
  };
}

export function hostFingerprint(): HostFingerprint {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    logicalCores: cpu.length,
    memoryBytes: totalmem(),
    platform: process.platform,
    arch: process.arch,
    osRelease: release(),
    hostnameSha256: createHash('sha256').update(hostname()).digest('hex').slice(0, 16),
  };
}

export function measurementOf(settings: BenchSettings, aivmmVersion: string, runtimes: Record<string, string>, against?: string): Measurement {
  return { mode: measurementMode(settings, against), host: hostFingerprint(), aivmmVersion, runtimes };
}

/** What must be equal for per-process medians to be comparable; repeat (how many) may differ. */
const MODE_KEYS = ['reference', 'threads', 'concurrency', 'warmup', 'iterations', 'durationMs', 'shapes', 'inputData', 'seed', 'graphOptimizationLevel', 'epOptions', 'against'] as const;

const show = (v: unknown): string => (v === null || v === undefined ? 'unset' : typeof v === 'object' ? JSON.stringify(v) : String(v));
const canon = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([p], [q]) => (p < q ? -1 : 1))) : x));

export interface ModeCheck {
  /** Measurement-mode differences: comparing is refused (exit 2). */
  modeDiffs: string[];
  /** A different machine type (CPU model, cores, arch, OS): refused unless --allow-host-change. */
  hostDiffs: string[];
  /** Worth saying, not refusing: another hostname or memory size of the same type, other versions, an old baseline. */
  warnings: string[];
}

/** Compares the current run's measurement with a baseline report's (its `measurement`, or its settings when older). */
export function checkModes(current: Measurement, baseline: Pick<BenchReport, 'settings' | 'measurement' | 'aivmmVersion' | 'runtimes'>): ModeCheck {
  const out: ModeCheck = { modeDiffs: [], hostDiffs: [], warnings: [] };
  const then: MeasurementMode | undefined = baseline.measurement?.mode ?? (baseline.settings ? measurementMode(baseline.settings) : undefined);
  if (!baseline.measurement) {
    out.warnings.push(
      then
        ? 'the baseline records no measurement mode or host fingerprint (written before aivmm recorded them): its mode was read from its settings; the machine it ran on is unknown'
        : 'the baseline records neither its measurement mode nor its settings: it cannot be checked to have been measured the same way; re-save it with this aivmm',
    );
  }
  if (then) {
    for (const k of MODE_KEYS) {
      const a = (then as unknown as Record<string, unknown>)[k];
      const b = (current.mode as unknown as Record<string, unknown>)[k];
      // An old baseline without the field measured with its default.
      if (a === undefined && (b === null || (k === 'against' && b === null))) continue;
      if (canon(a ?? null) !== canon(b ?? null)) out.modeDiffs.push(`${k}: baseline ${show(a)}, now ${show(b)}`);
    }
  }
  const h = baseline.measurement?.host;
  if (h) {
    const c = current.host;
    for (const k of ['cpu', 'logicalCores', 'arch', 'platform'] as const) if (h[k] !== c[k]) out.hostDiffs.push(`${k}: baseline ${show(h[k])}, now ${show(c[k])}`);
    if (h.hostnameSha256 !== c.hostnameSha256) out.warnings.push('the baseline was measured on another host (same machine type)');
    if (Math.abs(h.memoryBytes - c.memoryBytes) > 0.1 * Math.max(h.memoryBytes, c.memoryBytes)) out.warnings.push(`the baseline host had ${(h.memoryBytes / 2 ** 30).toFixed(1)} GiB of memory, this one ${(c.memoryBytes / 2 ** 30).toFixed(1)} GiB`);
    if (h.osRelease !== c.osRelease) out.warnings.push(`the baseline ran on OS release ${h.osRelease}, this one ${c.osRelease}`);
  }
  const thenVersion = baseline.measurement?.aivmmVersion ?? baseline.aivmmVersion;
  if (thenVersion && thenVersion !== current.aivmmVersion) out.warnings.push(`the baseline was measured by aivmm ${thenVersion}, this run by ${current.aivmmVersion}`);
  return out;
}

/** Runtime versions are known after the run: a difference is noted (an upgrade may be what is being gated). */
export function runtimeWarnings(now: Record<string, string>, then: Record<string, string> | undefined): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(now)) {
    const t = then?.[k];
    if (t && t !== v) out.push(`${k} ${t} at the baseline, ${v} now: a difference may be the runtime's`);
  }
  return out;
}
