/** What the bench-pair tests share: a CPU device as discovery would report it, and quick bench settings. */
import type { BenchSettings } from '../../src/core/bench/types.js';
import type { Device } from '../../src/core/devices/types.js';

export const CPU_DEVICE: Device = { id: 'CPU', kind: 'cpu', name: 'test cpu', vendor: 'x', backends: [{ backend: 'ort-cpu', available: true, verified: false }] };

/** 3 warm-up and 25 timed runs, one session, seeded inputs, no reference workload; `over` wins. */
export const quickSettings = (over: Partial<BenchSettings> = {}): BenchSettings => ({
  batches: [],
  shapes: [],
  inputFiles: [],
  seed: 42,
  concurrency: 1,
  warmup: { iterations: 3 },
  iterations: 25,
  minIterations: 0,
  maxMs: 60_000,
  epOptions: {},
  reference: false,
  repeat: 1,
  ...over,
});
