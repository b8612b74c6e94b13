/**
 * The timing loop: warm up, then time each request until the iteration count or the duration is
 * reached (at least `minIterations`), with `concurrency` requests in flight. The clock is injected.
 * An abort signal ends the loop early; what was measured so far is returned, marked interrupted.
 */

export interface MeasureOptions {
  /** Warm-up: stop after this many runs or this many ms, whichever comes first (at least 1 run). */
  warmup: { iterations?: number; ms?: number };
  /** Measured runs; with durationMs too, whichever is reached first. */
  iterations?: number;
  durationMs?: number;
  /** With a duration: keep going until at least this many samples exist (bounded by maxMs). */
  minIterations?: number;
  /** Hard cap on the measured phase, so a very slow model still ends. */
  maxMs?: number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** Samples kept (the loop stops there). */
  maxSamples?: number;
  signal?: AbortSignal;
  now?: () => number;
  onProgress?: (p: MeasureProgress) => void;
  /** Minimum ms between progress callbacks. */
  progressEveryMs?: number;
  /**
   * A reference workload run between requests (one at a time, never overlapping a timed request), taking
   * about `share` of the timed phase; its own times are returned in `referenceSamples`. Lets a later
   * comparison cancel machine-speed drift (frequency, noisy neighbours) between two runs.
   */
  reference?: { run: () => Promise<unknown>; share: number; warmup: number; burst?: number };
}

export interface MeasureProgress {
  phase: 'warmup' | 'measure';
  done: number;
  elapsedMs: number;
  /** Fraction of the phase done, 0..1 (by count or time, whichever is further). */
  fraction: number;
  lastMs: number;
}

export interface Measurement {
  /** Milliseconds per request, in completion order. */
  samples: number[];
  /** First request to last completion of the measured phase, reference runs excluded. */
  wallMs: number;
  warmupIterations: number;
  warmupMs: number;
  interrupted: boolean;
  referenceSamples?: number[];
  /** For each reference run, how many requests had completed before it. */
  referenceAt?: number[];
}

export async function measure(run: () => Promise<unknown>, opts: MeasureOptions): Promise<Measurement> {
  const now = opts.now ?? (() => performance.now());
  const signal = opts.signal;
  const every = opts.progressEveryMs ?? 100;
  let lastReport = Number.NEGATIVE_INFINITY;
  const report = (p: MeasureProgress, force = false): void => {
    if (!opts.onProgress) return;
    const t = now();
    if (!force && t - lastReport < every) return;
    lastReport = t;
    opts.onProgress(p);
  };

  // Warm-up, one request at a time.
  const wIter = opts.warmup.iterations;
  const wMs = opts.warmup.ms;
  const w0 = now();
  let warmupIterations = 0;
  let last = 0;
  while (!signal?.aborted) {
    const t0 = now();
    await run();
    last = now() - t0;
    warmupIterations++;
    const elapsed = now() - w0;
    const byCount = wIter !== undefined ? warmupIterations / Math.max(1, wIter) : 0;
    const byTime = wMs !== undefined ? elapsed / Math.max(1, wMs) : 0;
    report({ phase: 'warmup', done: warmupIterations, elapsedMs: elapsed, fraction: Math.min(1, Math.max(byCount, byTime)), lastMs: last });
    if (byCount >= 1 || byTime >= 1 || (wIter === undefined && wMs === undefined)) break;
  }
  const ref = opts.reference;
  for (let i = 0; ref && i < ref.warmup && !signal?.aborted; i++) await ref.run();
  const warmupMs = now() - w0;

  const samples: number[] = [];
  const maxSamples = opts.maxSamples ?? 1_000_000;
  const duration = opts.durationMs;
  const target = opts.iterations;
  const minIter = duration !== undefined ? (opts.minIterations ?? 0) : 0;
  const maxMs = opts.maxMs ?? Number.POSITIVE_INFINITY;
  const m0 = now();
  let started = 0;
  let lastEnd = m0;
  const fraction = (): number => {
    const elapsed = now() - m0;
    const parts: number[] = [];
    if (target !== undefined) parts.push(samples.length / Math.max(1, target));
    if (duration !== undefined) parts.push(Math.min(elapsed / Math.max(1, duration), minIter > 0 ? Math.max(samples.length / minIter, 0) : 1));
    return parts.length ? Math.min(1, Math.max(...parts)) : 1;
  };
  const shouldStart = (): boolean => {
    if (signal?.aborted) return false;
    if (started >= maxSamples) return false;
    const elapsed = now() - m0;
    if (elapsed >= maxMs) return false;
    if (target !== undefined && started >= target) return false;
    if (duration !== undefined && elapsed >= duration && started >= minIter) return false;
    if (target === undefined && duration === undefined) return started < 1;
    return true;
  };
  const referenceSamples: number[] = [];
  const referenceAt: number[] = [];
  let sinceReference = 0; // ms of timed requests since the last reference burst
  let lastReference = 0; // ms the last burst took
  let referenceTotal = 0; // excluded from the wall time: no request is in flight meanwhile
  let inFlight = 0;
  let referenceRunning = false;
  const maybeReference = async (): Promise<void> => {
    if (!ref || referenceRunning || inFlight > 0 || signal?.aborted) return;
    if (sinceReference < ((1 - ref.share) / ref.share) * lastReference) return;
    referenceRunning = true;
    // A burst, so the model's first request after it (cold caches) is a small share of the samples.
    let burst = 0;
    for (let i = 0; i < (ref.burst ?? 1); i++) {
      const t0 = now();
      await ref.run();
      const took = now() - t0;
      burst += took;
      referenceSamples.push(took);
      referenceAt.push(samples.length);
    }
    lastReference = burst;
    referenceTotal += burst;
    sinceReference = 0;
    referenceRunning = false;
  };
  const worker = async (): Promise<void> => {
    while (shouldStart()) {
      while (referenceRunning) await new Promise((r) => setImmediate(r));
      started++;
      inFlight++;
      const t0 = now();
      await run();
      const t1 = now();
      inFlight--;
      samples.push(t1 - t0);
      sinceReference += t1 - t0;
      lastEnd = t1;
      await maybeReference();
      report({ phase: 'measure', done: samples.length, elapsedMs: t1 - m0, fraction: fraction(), lastMs: t1 - t0 });
    }
  };
  const n = Math.max(1, Math.floor(opts.concurrency ?? 1));
  await Promise.all(Array.from({ length: n }, () => worker()));
  report({ phase: 'measure', done: samples.length, elapsedMs: now() - m0, fraction: signal?.aborted ? fraction() : 1, lastMs: samples[samples.length - 1] ?? 0 }, true);
  const m: Measurement = { samples, wallMs: lastEnd - m0 - referenceTotal, warmupIterations, warmupMs, interrupted: Boolean(signal?.aborted) };
  if (ref) {
    m.referenceSamples = referenceSamples;
    m.referenceAt = referenceAt;
  }
  return m;
}

/** Parses "10s", "500ms", "2m", "1.5s" into ms; a bare number is seconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/i.exec(text);
  if (!m) return undefined;
  const v = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  return unit === 'ms' ? v : unit === 'm' ? v * 60_000 : v * 1000;
}

export interface PairedOptions {
  warmup: { iterations?: number; ms?: number };
  /** Requests per model (A's count; B gets as many). */
  iterations?: number;
  /** Both models together. */
  durationMs?: number;
  /** With a duration: at least this many block pairs (bounded by maxMs). */
  minBlocks?: number;
  maxMs?: number;
  /** Requests per block; absent: about 50 ms of the slower model, 3…25. */
  blockSize?: number;
  signal?: AbortSignal;
  now?: () => number;
  onProgress?: (p: MeasureProgress) => void;
  /** Minimum ms between progress callbacks (default 1000: see below). */
  progressEveryMs?: number;
  /**
   * The sequential rule (issue #21): with a duration, look k happens once k × durationMs have passed and
   * k × minBlocks block pairs exist (or k × maxMs have passed); `decide` sees the blocks so far and returns
   * true to stop. At most `maxLooks` looks; without this option, one look at the end.
   */
  looks?: {
    maxLooks: number;
    decide: (aBlocks: readonly number[], bBlocks: readonly number[]) => boolean;
    /** Block pairs the first look needs (the rule's fewest for a decision), and at least this many more for each later look. */
    firstPairs?: number;
    stepPairs?: number;
  };
}

export interface PairedMeasurement {
  a: number[];
  b: number[];
  /** Block medians, pair k = (aBlocks[k], bBlocks[k]). */
  aBlocks: number[];
  bBlocks: number[];
  blockSize: number;
  /** Block pairs seen at each look, in order. */
  looks: number[];
  /** Sum of A's request times (the pair's wall time is shared with B). */
  wallMs: number;
  warmupIterations: number;
  warmupMs: number;
  interrupted: boolean;
}

const medianOf = (xs: number[]): number => {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/**
 * `--against`: A (current) and B (old) alternate in blocks in one process, ABBA order (pair k runs A
 * first when k is even, B first when odd, so neither model always follows the other). Machine drift
 * slower than a block pair moves both blocks of a pair alike and cancels in their ratio.
 */
export async function measurePaired(runA: () => Promise<unknown>, runB: () => Promise<unknown>, opts: PairedOptions): Promise<PairedMeasurement> {
  const now = opts.now ?? (() => performance.now());
  const signal = opts.signal;
  const timed = async (run: () => Promise<unknown>): Promise<number> => {
    const t0 = now();
    await run();
    return now() - t0;
  };
  const w0 = now();
  let warmupIterations = 0;
  let lastA = 0;
  let lastB = 0;
  while (!signal?.aborted) {
    lastA = await timed(runA);
    lastB = await timed(runB);
    warmupIterations++;
    const byCount = opts.warmup.iterations !== undefined && warmupIterations >= opts.warmup.iterations;
    const byTime = opts.warmup.ms !== undefined && now() - w0 >= opts.warmup.ms;
    if (byCount || byTime || (opts.warmup.iterations === undefined && opts.warmup.ms === undefined)) break;
  }
  const warmupMs = now() - w0;
  const blockSize = opts.blockSize ?? Math.min(25, Math.max(3, Math.round(50 / Math.max(lastA, lastB, 0.01))));
  const a: number[] = [];
  const b: number[] = [];
  const aBlocks: number[] = [];
  const bBlocks: number[] = [];
  const m0 = now();
  const minBlocks = opts.durationMs !== undefined ? (opts.minBlocks ?? 10) : 0;
  const maxMs = opts.maxMs ?? Number.POSITIVE_INFINITY;
  const maxLooks = opts.looks && opts.durationMs !== undefined ? Math.max(1, Math.floor(opts.looks.maxLooks)) : 1;
  const looks: number[] = [];
  let decided = false;
  /** Look number looks.length + 1 is due (duration mode). */
  const lookDue = (): boolean => {
    const k = looks.length + 1;
    const elapsed = now() - m0;
    const need = opts.looks?.firstPairs !== undefined ? Math.max(opts.looks.firstPairs + (k - 1) * (opts.looks.stepPairs ?? 1), k * minBlocks) : k * minBlocks;
    return (elapsed >= k * (opts.durationMs as number) && aBlocks.length >= need) || (elapsed >= k * maxMs && aBlocks.length >= 2);
  };
  const more = (): boolean => {
    if (signal?.aborted || decided) return false;
    if (opts.iterations !== undefined && a.length >= opts.iterations) return false;
    if (opts.durationMs !== undefined) return looks.length < maxLooks;
    if (opts.iterations === undefined) return aBlocks.length < 2;
    return now() - m0 < maxMs || aBlocks.length < 2;
  };
  const block = async (run: () => Promise<unknown>, into: number[]): Promise<number> => {
    const xs: number[] = [];
    for (let i = 0; i < blockSize; i++) xs.push(await timed(run));
    into.push(...xs);
    return medianOf(xs);
  };
  // Progress goes to the parent process over IPC and is drawn there: on a 2-core machine that work lands
  // in the next block (measured: pairs whose first block followed a progress message had ratios ±12–25%
  // off), so it is sent at most once a second, and right after a look.
  const every = opts.progressEveryMs ?? 1000;
  let lastProgress = m0;
  while (more()) {
    const k = aBlocks.length;
    let ma: number;
    let mb: number;
    if (k % 2 === 0) {
      ma = await block(runA, a);
      mb = await block(runB, b);
    } else {
      mb = await block(runB, b);
      ma = await block(runA, a);
    }
    aBlocks.push(ma);
    bBlocks.push(mb);
    let looked = false;
    if (opts.durationMs !== undefined && lookDue()) {
      looks.push(aBlocks.length);
      looked = true;
      if (opts.looks && looks.length < maxLooks && opts.looks.decide(aBlocks, bBlocks)) decided = true;
    }
    const elapsed = now() - m0;
    if (opts.onProgress && (looked || elapsed - (lastProgress - m0) >= every)) {
      lastProgress = now();
      const span = opts.durationMs !== undefined ? maxLooks * opts.durationMs : undefined;
      const parts = [opts.iterations !== undefined ? a.length / Math.max(1, opts.iterations) : 0, span !== undefined ? elapsed / Math.max(1, span) : 0];
      opts.onProgress({ phase: 'measure', done: a.length, elapsedMs: elapsed, fraction: decided ? 1 : Math.min(1, Math.max(...parts)), lastMs: a[a.length - 1] ?? 0 });
    }
  }
  if (looks.length === 0 || (looks[looks.length - 1] as number) < aBlocks.length) looks.push(aBlocks.length);
  return { a, b, aBlocks, bBlocks, blockSize, looks, wallMs: a.reduce((s, x) => s + x, 0), warmupIterations, warmupMs, interrupted: Boolean(signal?.aborted) };
}
