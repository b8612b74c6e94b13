/**
 * Benchmarks one (device, backend) pair on one model for each batch size: session creation (cold
 * start), first inference, warm-up, timed loop, memory. Meant to run in its own process
 * (the 'bench-pair' job of a src/runtime process lane) so the device's environment (VK_DRIVER_FILES, CUDA_DEVICE_ORDER) applies,
 * peak memory belongs to this pair alone, and a native crash cannot take the whole run down.
 */
import type { HostTensor, LoadOptions, Session, TensorSpec } from '../backends/types.js';
import { openSession } from '../backends/registry.js';
import { startPower } from './power.js';
import { embeddedModel } from '../models/embedded.js';
import { BackendUnavailableError, InferenceError, UsageError } from '../errors.js';
import { describeTarget } from '../backends/ep-map.js';
import { checkAgainstSpec, planShapes, randomTensor, readInputFiles, vocabularySizes } from './inputs.js';
import { measure, measurePaired, type MeasureProgress, type Measurement, type PairedMeasurement, type PairedOptions } from './measure.js';
import { PAIRS_PER_UNIT, evaluateLook, lookLevels, minUnits, pairUnits } from './gate-stats.js';
import type { RuntimeTarget } from '../backends/ep-map.js';
import { availableParallelism } from 'node:os';
import { describe, histogram, noiseVerdict } from './stats.js';
import type { BenchJob, BenchRow, PairedTrace } from './types.js';

/** The fixed workload interleaved with every row (docs/bench.md, "machine-speed drift"). */
export const REFERENCE_MODEL = 'mobilenetv2-seeded';
/** Share of the timed phase spent on the reference workload. */
const REFERENCE_SHARE = 0.2;

export type PairEvent =
  | { kind: 'session'; sessionMs: number; runtimeVersion: string }
  | { kind: 'progress'; batch: number; progress: MeasureProgress }
  | { kind: 'row'; row: BenchRow };

/** Opens `size` sessions of `model` that run concurrently (one per thread) behind one run(). */
/** N sessions on N threads behind one run(): feeds set once per shape, each run() one request on an idle thread. */
export interface SessionPool {
  readonly size: number;
  setFeeds(feeds: Record<string, HostTensor>): Promise<void>;
  /** Runs one request on an idle thread (queued while all are busy). */
  run(): Promise<void>;
  dispose(): Promise<void>;
}

export type PoolOpener = (model: string, target: RuntimeTarget, options: LoadOptions, size: number) => Promise<SessionPool>;

export interface PairOptions {
  signal?: AbortSignal;
  onEvent?: (e: PairEvent) => void;
  now?: () => number;
  /**
   * How --concurrency's sessions are hosted: one session per thread (onnxruntime-node's run blocks the
   * thread it is called on). The CLI's worker passes the runtime's thread host
   * (src/runtime/session-pool.ts: threadPoolOpener); core cannot host threads itself.
   */
  openPool?: PoolOpener;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** Opens the session; an accelerator target is first tried with CPU fallback disabled, so a silent fallback is known. */
export function loadOptions(job: BenchJob): LoadOptions {
  return {
    ...(job.settings.threads !== undefined ? { threads: job.settings.threads } : {}),
    // --against: two sessions alternate on the same cores, and ORT's idle intra-op threads spin after a
    // run; the model that just ran would steal cores from the next block of the other (measured on the
    // H200 host's CPU, --threads 2 pinned to 2 cores: paired ratios alternating 2.0 / 0.5, an A/A median
    // of 1.38). Idle threads sleep at once instead, for both models alike (issue #21).
    ...(job.against ? { spinning: false } : {}),
    ...(job.settings.graphOptimizationLevel ? { graphOptimizationLevel: job.settings.graphOptimizationLevel } : {}),
    epOptions: job.settings.epOptions,
  };
}

/**
 * `--against` with a duration and more than one look: the worker applies the gate's sequential rule at
 * each look (on the rounded block medians the report carries, so the parent's verdict is the same) and
 * stops at the first clear one.
 */
function lookPlan(job: BenchJob): { looks: NonNullable<PairedOptions['looks']> } | undefined {
  const maxLooks = job.settings.maxLooks ?? 1;
  const limit = job.against?.maxRegression;
  if (maxLooks <= 1 || limit === undefined || job.settings.durationMs === undefined) return undefined;
  return {
    looks: {
      maxLooks,
      // A look before the rule has its fewest units could never be clear: the first waits for them.
      firstPairs: PAIRS_PER_UNIT * minUnits(lookLevels(maxLooks).level),
      stepPairs: PAIRS_PER_UNIT,
      decide: (aBlocks, bBlocks) => evaluateLook(pairUnits(aBlocks.map(round), bBlocks.map(round)), Math.floor(aBlocks.length / PAIRS_PER_UNIT), maxLooks, limit).clear,
    },
  };
}

/** Embedding sizes of the integer inputs, read from the model file only when it has such inputs (best effort: {} when it cannot be read). */
async function modelVocabulary(path: string, inputs: readonly TensorSpec[]): Promise<Record<string, number>> {
  if (!inputs.some((i) => (i.type === 'int64' || i.type === 'int32') && !/mask|position|token_type|segment/i.test(i.name))) return {};
  try {
    const { readModelFile } = await import('../onnx/reader.js');
    return vocabularySizes((await readModelFile(path)).model);
  } catch {
    return {};
  }
}

export async function benchPair(job: BenchJob, opts: PairOptions = {}): Promise<BenchRow[]> {
  const now = opts.now ?? (() => performance.now());
  const emit = opts.onEvent ?? (() => undefined);
  const s = job.settings;
  const t0 = now();
  // A model onnxruntime cannot load is the input's fault: exit 2, as in run and quantize (an EP failure stays BACKEND_UNAVAILABLE).
  const { session, fallback, runtimeVersion } = await openSession(job.target, job.model.path, { ...loadOptions(job), strict: 'prefer' }).catch((err: unknown) => {
    if (err instanceof InferenceError && /^could not create a session/.test(err.message)) throw new UsageError(`${job.model.path} does not load as an ONNX model: ${err.message.replace(/^could not create a session: /, '')}`, 'give an .onnx file');
    throw err;
  });
  const sessionMs = now() - t0;
  emit({ kind: 'session', sessionMs: round(sessionMs), runtimeVersion });
  const rows: BenchRow[] = [];
  let reference: { session: Session; feeds: Record<string, HostTensor> } | undefined;
  let pool: SessionPool | undefined;
  let old: Session | undefined;
  try {
    if (job.against) {
      // B in the same process, same options: the paired blocks then share the machine's state minute by minute.
      if (s.concurrency > 1) throw new UsageError('--against measures latency: it needs --concurrency 1');
      old = (await openSession(job.target, job.against.path, { ...loadOptions(job), strict: 'prefer' })).session;
      const names = (x: Session): string => x.inputs.map((i) => i.name).sort().join(', ');
      if (names(old) !== names(session)) {
        throw new UsageError(`--against ${job.against.name}: its inputs (${names(old)}) differ from ${job.model.name}'s (${names(session)})`, 'the paired mode feeds both models the same inputs: compare two versions of one model');
      }
    }
    if (s.concurrency > 1) {
      // One session per request in flight, each on its own thread; on the CPU the cores are split between them.
      const cpuThreads = job.target.runtime === 'onnxruntime' && job.target.provider === 'cpu' ? Math.max(1, Math.floor(availableParallelism() / s.concurrency)) : undefined;
      const threads = s.threads ?? cpuThreads;
      if (!opts.openPool) throw new UsageError(`--concurrency ${s.concurrency} needs a thread host`, 'pass openPool (src/runtime threadPoolOpener), as the bench worker does');
      pool = await opts.openPool(job.model.path, job.target, { ...loadOptions(job), ...(threads !== undefined ? { threads } : {}) }, s.concurrency);
    }
    if (s.reference && s.concurrency === 1 && !job.against) {
      // Its idle threads must not spin while the model runs (on a small machine they would steal its cores).
      const { session: refSession } = await openSession(job.target, embeddedModel(REFERENCE_MODEL).build(), { ...loadOptions(job), spinning: false });
      const refFeeds: Record<string, HostTensor> = {};
      const refShapes = planShapes(refSession.inputs, [], 1);
      for (const spec of refSession.inputs) refFeeds[spec.name] = randomTensor(spec, refShapes[spec.name] ?? [], 7);
      reference = { session: refSession, feeds: refFeeds };
    }
    const fileData = s.inputFiles.length > 0 ? await readInputFiles(s.inputFiles, session.inputs) : {};
    for (const [name, t] of Object.entries(fileData)) {
      const spec = session.inputs.find((i) => i.name === name);
      if (spec) checkAgainstSpec(t, spec);
    }
    const vocab = await modelVocabulary(job.model.path, session.inputs);
    const batches = s.batches.length > 0 ? s.batches : [undefined];
    for (const batch of batches) {
      if (opts.signal?.aborted) break;
      const shapes = planShapes(session.inputs, s.shapes, batch);
      const feeds: Record<string, HostTensor> = {};
      for (const [i, spec] of session.inputs.entries()) {
        const fromFile = fileData[spec.name];
        if (fromFile && batch !== undefined && fromFile.dims[0] !== batch) {
          throw new UsageError(`--batch ${batch}: the data for input '${spec.name}' has batch ${fromFile.dims[0] ?? '?'}`, 'with --input-data, leave --batch out or match it to the file');
        }
        feeds[spec.name] = fromFile ?? randomTensor(spec, shapes[spec.name] ?? [], s.seed + i, { vocabSize: vocab[spec.name] });
        if (fromFile) shapes[spec.name] = [...fromFile.dims];
      }
      const ref = reference;
      const effectiveBatch = batch ?? (Object.values(shapes)[0]?.[0] ?? 1);
      const f0 = now();
      await session.run(feeds); // the first request at this shape: allocations, kernel/shader compilation
      const firstMs = now() - f0;
      const p = pool;
      if (p) {
        await p.setFeeds(feeds);
        await Promise.all(Array.from({ length: p.size * 2 }, () => p.run())); // first runs on every thread
      }
      const meter = startPower(job.power);
      const b = old;
      let pm: PairedMeasurement | undefined;
      if (b) {
        await b.run(feeds); // B's first request at this shape, untimed
        pm = await measurePaired(() => session.run(feeds), () => b.run(feeds), {
          warmup: s.warmup,
          ...(s.iterations !== undefined ? { iterations: s.iterations } : {}),
          ...(s.durationMs !== undefined ? { durationMs: s.durationMs } : {}),
          ...(s.maxMs !== undefined ? { maxMs: s.maxMs } : {}),
          ...(s.blockSize !== undefined ? { blockSize: s.blockSize } : {}),
          ...(lookPlan(job) ?? {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
          now,
          onProgress: (p) => emit({ kind: 'progress', batch: effectiveBatch, progress: p }),
        });
      }
      const m: Measurement = pm
        ? { samples: pm.a, wallMs: pm.wallMs, warmupIterations: pm.warmupIterations, warmupMs: pm.warmupMs, interrupted: pm.interrupted }
        : await measure(p ? () => p.run() : () => session.run(feeds), {
            warmup: s.warmup,
            ...(s.iterations !== undefined ? { iterations: s.iterations } : {}),
            ...(s.durationMs !== undefined ? { durationMs: s.durationMs } : {}),
            minIterations: s.minIterations,
            ...(s.maxMs !== undefined ? { maxMs: s.maxMs } : {}),
            concurrency: s.concurrency,
            ...(opts.signal ? { signal: opts.signal } : {}),
            now,
            onProgress: (p) => emit({ kind: 'progress', batch: effectiveBatch, progress: p }),
            ...(ref ? { reference: { run: () => ref.session.run(ref.feeds), share: REFERENCE_SHARE, warmup: 3, burst: 3 } } : {}),
          });
      const energy = await meter.stop();
      if (m.samples.length === 0) break; // interrupted before the first measured request
      const stats = describe(m.samples);
      const mem = process.memoryUsage();
      const row: BenchRow = {
        model: job.model.name,
        device: job.device.id,
        deviceName: job.device.name,
        backend: job.backend,
        target: describeTarget(job.target),
        batch: effectiveBatch,
        concurrency: s.concurrency,
        mode: s.concurrency > 1 ? 'throughput' : 'latency',
        shapes,
        inputSource: Object.keys(fileData).length > 0 ? 'file' : 'random',
        sessionMs: round(sessionMs),
        firstRunMs: round(firstMs),
        warmup: { iterations: m.warmupIterations, ms: round(m.warmupMs) },
        stats,
        throughput: {
          itemsPerSec: m.wallMs > 0 ? (m.samples.length * effectiveBatch * 1000) / m.wallMs : 0,
          requestsPerSec: m.wallMs > 0 ? (m.samples.length * 1000) / m.wallMs : 0,
          wallMs: round(m.wallMs),
        },
        noise: noiseVerdict(stats),
        histogram: histogram(m.samples),
        memory: { rssBytes: mem.rss, peakRssBytes: process.resourceUsage().maxRSS * 1024 },
        interrupted: m.interrupted,
        samples: m.samples.map(round),
      };
      if (pm && job.against) {
        const trace: PairedTrace = { model: job.against.name, blockSize: pm.blockSize, current: pm.aBlocks.map(round), old: pm.bBlocks.map(round), looks: pm.looks, maxLooks: Math.max(pm.looks.length, lookPlan(job)?.looks.maxLooks ?? 1), oldP50: round(describe(pm.b).p50), oldSamples: pm.b.map(round) };
        row.paired = trace;
      }
      if (m.referenceSamples && m.referenceSamples.length > 0) {
        row.reference = { model: REFERENCE_MODEL, p50: round(describe(m.referenceSamples).p50), samples: m.referenceSamples.map(round), at: m.referenceAt ?? [] };
      }
      if (energy && row.throughput.itemsPerSec > 0) {
        row.power = { source: energy.source, scope: energy.scope, watts: round(energy.watts), joulesPerItem: Number((energy.watts / row.throughput.itemsPerSec).toPrecision(4)), samples: energy.samples };
      }
      if (fallback !== undefined) {
        row.placement = fallback
          ? { fallback: true, note: `some nodes ran on the CPU: ${describeTarget(job.target)} does not support every op of this model` }
          : { fallback: false, note: `every node ran on ${describeTarget(job.target)}` };
      }
      rows.push(row);
      emit({ kind: 'row', row });
    }
  } finally {
    await pool?.dispose();
    await old?.dispose();
    await reference?.session.dispose();
    await session.dispose();
  }
  if (rows.length === 0 && !opts.signal?.aborted) throw new BackendUnavailableError(`no measurement on ${job.device.id} ${job.backend}`);
  return rows;
}
