/** What `aivmm bench` measures and reports: one row per (device, backend, batch). */
import type { RuntimeTarget } from '../backends/ep-map.js';
import type { LoadOptions } from '../backends/types.js';
import type { BackendId } from '../devices/types.js';
import type { Comparison } from './compare.js';
import type { PowerSource } from './power.js';
import type { AutoChoice } from './auto.js';
import type { InputFile, ShapeOverride } from './inputs.js';
import type { Histogram, NoiseVerdict, SampleStats } from './stats.js';

export interface BenchSettings {
  batches: number[];
  shapes: ShapeOverride[];
  inputFiles: InputFile[];
  seed: number;
  concurrency: number;
  warmup: { iterations?: number; ms?: number };
  iterations?: number;
  durationMs?: number;
  minIterations: number;
  /** Cap on each row's timed phase; absent: none (an exact --iterations count). */
  maxMs?: number;
  threads?: number;
  graphOptimizationLevel?: NonNullable<LoadOptions['graphOptimizationLevel']>;
  epOptions: Record<string, string>;
  /** Fresh processes per pair, one after another, samples pooled (each gets 1/repeat of the measurement). */
  repeat: number;
  /**
   * Interleave the reference workload (see docs/bench.md) and record its trace. A diagnostic since issue #21:
   * the gate no longer divides by it (it does not track the model's own slowdowns across architectures).
   */
  reference: boolean;
  /** Paired mode (`--against old.onnx`): requests per block; absent: chosen from the first runs' time. */
  blockSize?: number;
  /**
   * Paired mode with a duration: the sequential rule looks after each `durationMs` and stops at the first
   * clear look, at most this many (`--max-duration` ÷ `--duration`); absent: one look.
   */
  maxLooks?: number;
}

/** How a report was measured: what must match for two reports to be compared (docs/bench.md, "modes"). */
export interface MeasurementMode {
  reference: boolean;
  threads: number | null;
  concurrency: number;
  warmup: { iterations?: number; ms?: number };
  /** Per process (a --repeat run splits the total over its processes). */
  iterations: number | null;
  durationMs: number | null;
  repeat: number;
  batches: number[];
  shapes: string[];
  inputData: boolean;
  seed: number;
  graphOptimizationLevel: string | null;
  epOptions: Record<string, string>;
  /** `--against`: the model the paired blocks alternated with (its file name); null: none. */
  against: string | null;
}

/** The machine a report was measured on; the hostname only as a hash (reports get shared). */
export interface HostFingerprint {
  cpu: string;
  logicalCores: number;
  memoryBytes: number;
  platform: string;
  arch: string;
  osRelease: string;
  hostnameSha256: string;
}

export interface Measurement {
  mode: MeasurementMode;
  host: HostFingerprint;
  aivmmVersion: string;
  runtimes: Record<string, string>;
}

/**
 * `--against`: the current model (A) and the old one (B) alternated in blocks of `blockSize` requests in
 * one process (order ABBA, so neither always runs first); one median per block.
 */
export interface PairedTrace {
  /** B's name (its file name). */
  model: string;
  blockSize: number;
  /** Block medians (ms); block pair k is current[k] and old[k]. */
  current: number[];
  old: number[];
  /**
   * The sequential rule's looks: block pairs seen at each, in order (the last one decided), and the most
   * looks the run allowed (its Bonferroni divisor). Absent (older reports): one look at the end.
   */
  looks?: number[];
  maxLooks?: number;
  /** B's median and raw samples (ms) over all its blocks. */
  oldP50: number;
  oldSamples: number[];
}

/** One (device, backend) pair to run; a worker process runs one job. */
export interface BenchJob {
  model: { path: string; name: string };
  device: { id: string; name: string };
  backend: BackendId;
  target: RuntimeTarget;
  settings: BenchSettings;
  /** Where the row's power draw can be read (NVIDIA GPU by PCI address, CPU RAPL counters). */
  power?: PowerSource;
  /** `--against old.onnx`: B, run in the same process in alternating blocks; the limit lets the worker stop at a clear look. */
  against?: { path: string; name: string; maxRegression?: number };
}

export interface BenchRow {
  model: string;
  device: string;
  deviceName: string;
  backend: BackendId;
  /** What the runtime was asked for: cpu, webgpu, cuda:0, openvino:GPU.0. */
  target: string;
  batch: number;
  concurrency: number;
  mode: 'latency' | 'throughput';
  /** Input dims actually fed. */
  shapes: Record<string, number[]>;
  inputSource: 'random' | 'file';
  /** Session creation (model load + graph optimisation + EP compile): the cold start. */
  sessionMs: number;
  /** The first inference after session creation (shader compilation, allocations). */
  firstRunMs: number;
  warmup: { iterations: number; ms: number };
  /** Latency statistics in ms. */
  stats: SampleStats;
  /** Items (batch × requests) per second over the measured phase's wall time. */
  throughput: { itemsPerSec: number; requestsPerSec: number; wallMs: number };
  noise: NoiseVerdict;
  histogram: Histogram;
  memory: { rssBytes: number; peakRssBytes: number };
  /** Nodes on the requested provider vs. on the CPU fallback (accelerator targets only). */
  placement?: { fallback: boolean; note: string };
  /** CPU (ort-cpu) p50 / this p50 at the same batch — or throughput ratio for throughput mode. */
  speedupVsCpu?: number;
  interrupted: boolean;
  /** Processes the row's samples were pooled from (--repeat); absent: one. */
  repeats?: number;
  /** Each process's median (ms), in run order: the units the baseline gate compares (issue #21). */
  repeatMedians?: number[];
  /** `--against`: the paired blocks. */
  paired?: PairedTrace;
  /**
   * Mean power over the measured phase and energy per item (watts ÷ items per second), where the
   * platform exposes it (nvidia-smi for NVIDIA GPUs, RAPL for CPU packages).
   */
  power?: { source: 'nvidia-smi' | 'rapl'; scope: string; watts: number; joulesPerItem: number; samples: number };
  /** Milliseconds per request, in completion order. */
  samples: number[];
  /**
   * The reference workload's run times (ms) on the same device and backend, interleaved with the samples:
   * reference run k ran after `at[k]` requests had completed.
   */
  reference?: { model: string; p50: number; samples: number[]; at: number[] };
}

export interface FailedPair {
  device: string;
  deviceName: string;
  backend: BackendId;
  target: string;
  error: { code: string; message: string; hint?: string };
}

export interface SkippedPair {
  device: string;
  backend?: BackendId;
  reason: string;
}

export interface BaselineRow {
  key: string;
  model: string;
  device: string;
  backend: string;
  batch: number;
  comparison?: Comparison;
  /** `missing`: in the baseline, not measured now; `new`: measured now, not in the baseline. */
  status: 'compared' | 'missing' | 'new';
  baselineP50?: number;
  currentP50?: number;
}

export interface GateResult {
  /** `baseline`: a saved file, per-process medians; `against`: paired blocks with the old model in one process. */
  method?: 'baseline' | 'against';
  baselinePath: string;
  baselineAt?: string;
  maxRegression: number;
  rows: BaselineRow[];
  regressed: number;
  improved: number;
  unchanged: number;
  /** Rows the gate refused to decide (the interval spans both no change and the limit). */
  tooNoisy?: number;
  /** Rows compared (status 'compared'); 0 means the gate checked nothing (exit code 14 unless --allow-missing). */
  matched?: number;
}

export interface BenchReport {
  at: string;
  aivmmVersion: string;
  host: { hostname: string; platform: string; arch: string; cpu: string; logicalCores: number; memoryBytes: number };
  runtimes: Record<string, string>;
  model: { name: string; path: string; sha256: string; bytes: number; embedded: boolean };
  settings: BenchSettings;
  /** How it was measured (issue #21); absent in reports written before it. */
  measurement?: Measurement;
  /** `--against`: the old model. */
  against?: { name: string; path: string; sha256: string; bytes: number };
  rows: BenchRow[];
  failed: FailedPair[];
  skipped: SkippedPair[];
  /** True when Ctrl-C (or a signal) cut the run short. */
  interrupted: boolean;
  gate?: GateResult;
  /** `--device auto`: the pair chosen and why. */
  auto?: AutoChoice;
  warnings: string[];
  elapsedMs: number;
}
