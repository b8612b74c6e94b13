/**
 * `quantize`: FP32 → INT8 (static QDQ with calibration, dynamic weight-only) or FP16, written
 * atomically, then judged: fidelity on held-back inputs, per-layer error, size and latency.
 */
import { basename, join, resolve } from 'node:path';
import type { RuntimeTarget } from '../backends/ep-map.js';
import type { LoadOptions, Session } from '../backends/types.js';
import { CancelledError, InferenceError, NotFoundError, UsageError, errorMessage } from '../errors.js';
import type { ShapeOverride } from '../bench/inputs.js';
import { correctBiases } from './bias-correction.js';
import { calibrate } from './calibrate.js';
import type { CalibrationMethod } from './calibrate.js';
import { quantizeDynamic } from './dynamic.js';
import { convertFp16 } from './fp16.js';
import { indexGraph, inferTypes } from '../onnx/graph.js';
import { floatToHalf } from '../half.js';
import type { ModelSpec } from '../onnx/model.js';
import { OnnxFormatError, readModelFile } from '../onnx/reader.js';
import { writeModelFile } from '../onnx/writer.js';
import { compareLatency, compareOutputs, layerErrors } from './report.js';
import type { Fidelity, LatencyComparison, LayerPair } from './report.js';
import { indexLimits, loadSamples, modelInputs, parseSampleSource, randomSamples, sampleShapes, splitSamples } from './samples.js';
import type { Feeds } from './samples.js';
import { openModel } from './session.js';
import { TensorSpill } from './spill.js';
import { checkDestination, createStaging, removeStale } from './staging.js';
import { planStatic, quantizeStatic } from './static.js';
import { CPU_TARGET } from '../backends/ep-map.js';

export type QuantizeMode = 'static' | 'dynamic' | 'fp16';

export interface QuantizeOptions {
  /** The float model (.onnx path). */
  model: string;
  /** Display name (alias or file name). */
  modelName?: string;
  /** Where to write; undefined: `<outputDir>/<name>.int8.onnx` (…`.int8-dynamic.onnx`, `.fp16.onnx`). */
  output?: string;
  outputDir?: string;
  /** Undefined: chosen from the model (static for conv nets, dynamic for MatMul-heavy models). */
  mode?: QuantizeMode;
  perChannel: boolean;
  /** `random:N`, a directory or a file; undefined: random:32 for static. */
  calibration?: string | undefined;
  method: CalibrationMethod;
  percentile?: number;
  exclude: readonly string[];
  /** Dims for inputs with dynamic dimensions (random calibration/evaluation data); others default to batch 1, sequence 16. */
  shapes?: readonly ShapeOverride[];
  keepIoTypes: boolean;
  quantizeOutputs?: boolean;
  /** Static: shift int32 biases by the mean output error measured on the calibration data (default on). */
  biasCorrection?: boolean;
  externalData?: 'auto' | 'always' | 'never';
  /** Where fidelity and latency are measured. */
  target: RuntimeTarget;
  device: { id: string; name: string; backend: string };
  /** Time for the side-by-side latency estimate; 0 skips it. */
  latencyMs: number;
  seed?: number;
  threads?: number;
  onEvent?: (e: QuantizeEvent) => void;
  /** Aborting rejects with CancelledError at the next inference, leaving the target untouched. */
  signal?: AbortSignal;
}

export type QuantizeStage = 'read' | 'calibrate' | 'quantize' | 'write' | 'evaluate' | 'latency';
export type QuantizeEvent = { kind: 'stage'; stage: QuantizeStage; detail?: string } | { kind: 'calibrate'; pass: number; passes: number; done: number; total: number };

export interface QuantizeReport {
  model: { name: string; path: string; bytes: number; nodes: number };
  output: { path: string; dataPath?: string; bytes: number; nodes: number };
  mode: QuantizeMode;
  /** Why this mode, when it was chosen automatically. */
  modeReason?: string;
  settings: {
    perChannel: boolean;
    method?: CalibrationMethod;
    percentile?: number;
    exclude: string[];
    keepIoTypes?: boolean;
    quantizeOutputs?: boolean;
    biasCorrection?: boolean;
  };
  calibration?: { source: string; samples: number; tensors: number };
  evaluation: { source: string; samples: number };
  nodes: {
    /** Nodes now computing in int8 / float16, by op type. */
    quantized: number;
    byOpType: Record<string, number>;
    quantizeLinear: number;
    dequantizeLinear: number;
    foldedActivations?: number;
    /** Static: int32 biases shifted by bias correction. */
    biasCorrected?: number;
    /** Nodes left in float32 and why (first 20). */
    skipped: { name: string; opType: string; reason: string }[];
    skippedCount: number;
  };
  size: { referenceBytes: number; quantizedBytes: number; ratio: number };
  fidelity: Fidelity;
  latency?: LatencyComparison & { device: string; backend: string };
  warnings: string[];
  elapsedMs: number;
}

/** Fidelity below these is reported loudly, naming the worst layers. */
export const POOR_COSINE = 0.99;
export const POOR_TOP1 = 0.9;
const MIN_TOP1_ROWS = 16;

function countOps(m: ModelSpec): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of m.graph.nodes) c[n.opType] = (c[n.opType] ?? 0) + 1;
  return c;
}

/** Static for conv nets, dynamic for models whose weights sit in MatMul/Gemm (transformers). */
export function chooseMode(m: ModelSpec): { mode: QuantizeMode; reason: string } {
  const idx = indexGraph(m.graph);
  let convs = 0;
  let matmuls = 0;
  for (const n of m.graph.nodes) {
    if (n.opType === 'Conv' || n.opType === 'ConvTranspose') convs++;
    else if ((n.opType === 'MatMul' || n.opType === 'Gemm') && idx.initializers.has(n.inputs[1] ?? '')) matmuls++;
  }
  if (convs > 0 && convs >= matmuls) return { mode: 'static', reason: `${convs} Conv vs ${matmuls} MatMul/Gemm with weights: a conv net, static QDQ` };
  if (matmuls > 0) return { mode: 'dynamic', reason: `${matmuls} MatMul/Gemm with weights vs ${convs} Conv: transformer-like, dynamic int8 weights` };
  return { mode: 'static', reason: 'no Conv or weighted MatMul: static QDQ on what is quantizable' };
}

export function defaultOutput(modelPath: string, mode: QuantizeMode, dir: string): string {
  const base = basename(modelPath).replace(/\.onnx$/i, '');
  return join(dir, `${base}.${mode === 'fp16' ? 'fp16' : mode === 'dynamic' ? 'int8-dynamic' : 'int8'}.onnx`);
}

function checkOutput(output: string, model: string): void {
  if (resolve(output) === resolve(model)) throw new UsageError(`-o ${output} is the input model`, 'write the quantized model to another file');
  if (!/\.onnx$/i.test(output)) throw new UsageError(`-o ${output}: the output must end in .onnx`);
}

function toHalfFeeds(f: Feeds): Feeds {
  const out: Feeds = {};
  for (const [name, t] of Object.entries(f)) {
    out[name] = t.type === 'float32' ? { type: 'float16', dims: t.dims, data: Uint16Array.from(t.data as Float32Array, floatToHalf) } : t;
  }
  return out;
}

function cancelled(signal: AbortSignal): CancelledError {
  return signal.reason instanceof CancelledError ? signal.reason : new CancelledError('interrupted');
}

/** `p`, or a CancelledError as soon as `signal` aborts (the work behind `p` is dropped, not waited for). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(cancelled(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(cancelled(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

/** A session whose every run first checks `signal`: calibration, evaluation and latency loops all stop at Ctrl-C. */
function guarded(s: Session, signal: AbortSignal | undefined): Session {
  if (!signal) return s;
  return {
    target: s.target,
    inputs: s.inputs,
    outputs: s.outputs,
    run: (feeds) => abortable(s.run(feeds), signal),
    placement: () => s.placement(),
    dispose: () => s.dispose(),
  };
}

export async function quantizeModel(opts: QuantizeOptions): Promise<QuantizeReport> {
  const started = performance.now();
  const emit = opts.onEvent ?? (() => undefined);
  const seed = opts.seed ?? 1;
  const warnings: string[] = [];
  if (opts.output !== undefined) {
    checkOutput(opts.output, opts.model);
    await checkDestination(resolve(opts.output));
  }

  emit({ kind: 'stage', stage: 'read' });
  let source: Awaited<ReturnType<typeof readModelFile>>;
  try {
    source = await readModelFile(opts.model);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`model file ${opts.model} not found${(err as NodeJS.ErrnoException).path !== opts.model ? ` (${(err as NodeJS.ErrnoException).path ?? ''})` : ''}`);
    if (err instanceof OnnxFormatError) throw new UsageError(`${opts.model} is not an ONNX model: ${err.message}`, 'give an .onnx file (ModelProto)');
    throw err;
  }
  const model = source.model;
  const ops = countOps(model);
  if ((ops.QuantizeLinear ?? 0) + (ops.DynamicQuantizeLinear ?? 0) + (ops.DynamicQuantizeMatMul ?? 0) + (ops.MatMulNBits ?? 0) > 0) {
    throw new UsageError(`${opts.model} is already quantized (it has quantization nodes)`, 'quantize the float model it came from');
  }
  const floatWeights = model.graph.initializers.filter((t) => t.dataType === 'float32');
  if (floatWeights.length === 0) throw new UsageError(`${opts.model} has no float32 weights to quantize`, model.graph.initializers.some((t) => t.dataType === 'float16') ? 'it is already float16' : 'is it already quantized?');
  const chosen = opts.mode ? { mode: opts.mode, reason: undefined } : chooseMode(model);
  const mode = chosen.mode;
  const output = resolve(opts.output ?? defaultOutput(opts.model, mode, opts.outputDir ?? '.'));
  checkOutput(output, opts.model);
  if (opts.output === undefined) await checkDestination(output);
  const exclude = new Set(opts.exclude);
  // Everything this run writes stays in a staging directory beside the target until it has been judged.
  await removeStale(output);
  const staging = await createStaging(output);
  // Weights in external data: new weights go to a spill file in the staging directory as they are made.
  const sourceExternal = model.graph.initializers.some((t) => t.external);
  const spill = sourceExternal ? new TensorSpill(join(staging.dir, 'weights.spill')) : undefined;
  const store = spill?.store;
  try {
    return await run();
  } finally {
    spill?.dispose();
    await staging.discard();
  }
  async function run(): Promise<QuantizeReport> {
    const inputs = modelInputs(model);
    const shapes = sampleShapes(inputs, opts.shapes ?? []);
    const limits = indexLimits(model);
    const signal = opts.signal;
    const open = async (m: ModelSpec, target: RuntimeTarget, extra: LoadOptions): Promise<Session> => guarded(await abortable(openModel(m, target, extra), signal), signal);
    const load = (m: ModelSpec, extra: LoadOptions = {}): Promise<Session> => open(m, opts.target, { ...(opts.threads ? { threads: opts.threads } : {}), ...extra });
    const cpu: RuntimeTarget = CPU_TARGET;
    // A model that decodes but onnxruntime refuses (a malformed graph) is the input's fault: exit 2 as in
    // run and bench, before any calibration work (graph optimisation off: the cheapest load).
    try {
      await (await openModel(model, cpu, { graphOptimizationLevel: 'disabled' })).dispose();
    } catch (err) {
      if (err instanceof InferenceError) throw new UsageError(`${opts.model} does not load as an ONNX model: ${errorMessage(err).replace(/^could not create a session: /, '')}`, 'give an .onnx file');
      throw err;
    }

    // Samples: calibration (static) and held-back evaluation inputs.
    const sourceSpec = parseSampleSource(opts.calibration ?? 'random:32');
    let calibrationSet: Feeds[] = [];
    let evaluation: Feeds[];
    let evaluationSource: string;
    let calibrationDescription = '';
    if (mode === 'static') {
      const loaded = await loadSamples(sourceSpec, inputs, seed, shapes, limits);
      const split = splitSamples(loaded.samples, sourceSpec, inputs, seed, shapes, limits);
      calibrationSet = split.calibration;
      evaluation = split.heldBack;
      calibrationDescription = loaded.description;
      evaluationSource = split.heldBackRandom ? `random:${evaluation.length} (fresh seeds)` : `${evaluation.length} held-back sample${evaluation.length === 1 ? '' : 's'} of ${loaded.description}`;
      if (sourceSpec.kind === 'random') warnings.push('activation ranges come from random inputs: calibrate with real data (--calibration <dir of images | .npy/.json>) for production accuracy');
      else if (split.heldBackRandom) warnings.push('one calibration sample: fidelity was judged on random inputs');
    } else if (opts.calibration) {
      const loaded = await loadSamples(sourceSpec, inputs, seed, shapes, limits);
      evaluation = loaded.samples.slice(0, 64);
      evaluationSource = loaded.description;
    } else {
      evaluation = randomSamples(inputs, 16, seed + 1_000_003, shapes, limits);
      evaluationSource = 'random:16';
    }
    if (signal?.aborted) throw cancelled(signal);

    // Quantize.
    let quantized: ModelSpec;
    let quantizedNodes: { name: string; opType: string }[];
    let skipped: { name: string; opType: string; reason: string }[];
    let folded: number | undefined;
    let calibrationInfo: QuantizeReport['calibration'];
    let layerTensors: LayerPair[];
    let biasCorrected: number | undefined;
    if (mode === 'static') {
      const staticOpts = { perChannel: opts.perChannel, exclude, ...(opts.quantizeOutputs ? { quantizeOutputs: true } : {}), ...(store ? { store } : {}) };
      const plan = planStatic(model, staticOpts);
      if (plan.perChannelDowngraded) warnings.push('opset < 13 has no per-channel DequantizeLinear: weights quantized per tensor');
      emit({ kind: 'stage', stage: 'calibrate', detail: `${plan.tensors.length} tensors, ${calibrationSet.length} samples, ${opts.method}` });
      const passes = opts.method === 'minmax' ? 1 : 2;
      // Calibration runs on the CPU: exact float32, and every tensor readable.
      const ranges = await calibrate((m) => open(m, cpu, { graphOptimizationLevel: 'disabled', ...(opts.threads ? { threads: opts.threads } : {}) }), model, plan.tensors, inferTypes(model), calibrationSet, {
        method: opts.method,
        ...(opts.percentile !== undefined ? { percentile: opts.percentile } : {}),
        onSample: (pass, done, total) => emit({ kind: 'calibrate', pass, passes, done, total }),
      });
      calibrationInfo = { source: calibrationDescription, samples: calibrationSet.length, tensors: ranges.size };
      emit({ kind: 'stage', stage: 'quantize' });
      const r = quantizeStatic(model, ranges, staticOpts);
      if (opts.biasCorrection !== false && r.biases.length > 0) {
        emit({ kind: 'stage', stage: 'quantize', detail: `bias correction: ${r.biases.length} biases` });
        const bc = await correctBiases((m) => open(m, cpu, opts.threads ? { threads: opts.threads } : {}), model, r.model, r.biases, calibrationSet);
        biasCorrected = bc.corrected;
      }
      quantized = r.model;
      quantizedNodes = r.quantizedNodes;
      skipped = r.skipped;
      folded = r.foldedActivations;
      layerTensors = r.layers;
    } else if (mode === 'dynamic') {
      emit({ kind: 'stage', stage: 'quantize' });
      const r = quantizeDynamic(model, { perChannel: opts.perChannel, exclude, ...(store ? { store } : {}) });
      quantized = r.model;
      quantizedNodes = r.quantizedNodes;
      skipped = r.skipped;
      layerTensors = producedBy(model, new Set(quantizedNodes.map((n) => n.name)));
    } else {
      emit({ kind: 'stage', stage: 'quantize' });
      const r = convertFp16(model, { keepIoTypes: opts.keepIoTypes, exclude, ...(store ? { store } : {}) });
      quantized = r.model;
      quantizedNodes = r.convertedNodes;
      skipped = r.keptNodes;
      if (r.saturated > 0) warnings.push(`${r.saturated} weight value${r.saturated === 1 ? '' : 's'} beyond ±65504 saturated in float16`);
      if (r.flushed > 0) warnings.push(`${r.flushed} tiny weight value${r.flushed === 1 ? '' : 's'} (below 6e-8) became 0 in float16`);
      layerTensors = producedBy(model, new Set(quantizedNodes.map((n) => n.name)));
    }
    if (quantizedNodes.length === 0) {
      throw new UsageError(`nothing in ${opts.model} could be quantized in ${mode} mode${skipped.length ? ` (${skipped[0]?.opType} ${skipped[0]?.name}: ${skipped[0]?.reason})` : ''}`, mode === 'dynamic' ? 'dynamic mode quantizes MatMul/Gemm with constant weights; try --mode static' : 'check --exclude, or try another --mode');
    }
    if (signal?.aborted) throw cancelled(signal);

    // Written into the staging directory and judged there: only a model that loads and was measured
    // replaces the target (a failure, or Ctrl-C, leaves an existing target as it was).
    emit({ kind: 'stage', stage: 'write', detail: output });
    // A model that came with external data keeps its weights outside (it was big, or meant to be mapped).
    const externalData = opts.externalData === 'never' || opts.externalData === 'always' ? opts.externalData : sourceExternal ? 'always' : 'auto';
    const staged = await writeModelFile(staging.path, quantized, { externalData });
    const candidateFeeds = mode === 'fp16' && !opts.keepIoTypes ? toHalfFeeds : (f: Feeds): Feeds => f;
    // With external data, judge the file as written (its weights beside it), not the in-memory copy.
    const candidate = staged.dataPath ? (await readModelFile(staged.path)).model : quantized;
    let fidelity: Fidelity;
    let latency: QuantizeReport['latency'];
    try {
      emit({ kind: 'stage', stage: 'evaluate', detail: `${evaluation.length} samples` });
      const outputs = await compareOutputs((m) => load(m), model, candidate, evaluation, candidateFeeds);
      const worstLayers = await layerErrors((m) => load(m, { graphOptimizationLevel: 'basic' }), model, candidate, layerTensors, evaluation.slice(0, 2), candidateFeeds);
      fidelity = { ...outputs, worstLayers };
      if (opts.latencyMs > 0 && evaluation[0]) {
        emit({ kind: 'stage', stage: 'latency', detail: opts.device.id });
        // Alternating sessions: idle threads must not spin, or each steals the cores of the other.
        const a = await load(model, { spinning: false });
        const b = await load(candidate, { spinning: false });
        try {
          const feeds = evaluation[0];
          latency = { ...(await compareLatency(a, b, feeds, candidateFeeds(feeds), opts.latencyMs)), device: opts.device.id, backend: opts.device.backend };
        } finally {
          await a.dispose();
          await b.dispose();
        }
      }
    } catch (err) {
      if (err instanceof InferenceError && /could not create a session/.test(err.message)) {
        throw new InferenceError(`the ${mode} model does not load in onnxruntime: ${errorMessage(err).replace(/^could not create a session: /, '')}`, 'exclude the op named above with --exclude, or report it as a bug');
      }
      throw err;
    }

    if (signal?.aborted) throw cancelled(signal);
    const written = await staging.commit(staged);

    // Top-1 agreement over a handful of rows is mostly noise (6 of 8 agreeing is 35–97% at 95%): judged from 16 rows on.
    const top1Judged = fidelity.top1Agreement !== undefined && fidelity.outputs.some((o) => o.top1Agreement !== undefined) && evaluation.length >= MIN_TOP1_ROWS;
    if (fidelity.cosine < POOR_COSINE || (top1Judged && fidelity.top1Agreement! < POOR_TOP1)) {
      const layers = fidelity.worstLayers.slice(0, 3).map((l) => `${l.tensor} (rel. error ${l.relativeError.toFixed(3)})`);
      warnings.unshift(
        `POOR FIDELITY: cosine ${fidelity.cosine.toFixed(4)}${fidelity.top1Agreement !== undefined ? `, top-1 agreement ${(fidelity.top1Agreement * 100).toFixed(1)}%` : ''}` +
          (layers.length ? `; worst layers: ${layers.join(', ')} — try --exclude on them, --method percentile, or real --calibration data` : ''),
      );
    }
    const byOpType: Record<string, number> = {};
    for (const n of quantizedNodes) byOpType[n.opType] = (byOpType[n.opType] ?? 0) + 1;
    const qOps = countOps(quantized);
    return {
      model: { name: opts.modelName ?? opts.model, path: opts.model, bytes: source.bytes, nodes: model.graph.nodes.length },
      output: { path: written.path, ...(written.dataPath ? { dataPath: written.dataPath } : {}), bytes: written.bytes, nodes: quantized.graph.nodes.length },
      mode,
      ...(chosen.reason ? { modeReason: chosen.reason } : {}),
      settings: {
        perChannel: opts.perChannel,
        ...(mode === 'static' ? { method: opts.method, ...(opts.method === 'percentile' ? { percentile: opts.percentile ?? 99.999 } : {}), quantizeOutputs: opts.quantizeOutputs ?? false, biasCorrection: opts.biasCorrection !== false } : {}),
        exclude: [...opts.exclude],
        ...(mode === 'fp16' ? { keepIoTypes: opts.keepIoTypes } : {}),
      },
      ...(calibrationInfo ? { calibration: calibrationInfo } : {}),
      evaluation: { source: evaluationSource, samples: evaluation.length },
      nodes: {
        quantized: quantizedNodes.length,
        byOpType,
        quantizeLinear: qOps.QuantizeLinear ?? 0,
        dequantizeLinear: qOps.DequantizeLinear ?? 0,
        ...(folded !== undefined ? { foldedActivations: folded } : {}),
        ...(biasCorrected !== undefined ? { biasCorrected } : {}),
        skipped: skipped.slice(0, 20),
        skippedCount: skipped.length,
      },
      size: { referenceBytes: source.bytes, quantizedBytes: written.bytes, ratio: written.bytes / source.bytes },
      fidelity,
      ...(latency ? { latency } : {}),
      warnings,
      elapsedMs: Math.round(performance.now() - started),
    };
  }
}

/** Output tensors of the named nodes of the source model (same names in both models), at most 256. */
function producedBy(m: ModelSpec, names: ReadonlySet<string>): LayerPair[] {
  return m.graph.nodes
    .flatMap((n, i) => (names.has(n.name || `${n.opType}_${i}`) && n.outputs[0] ? [{ reference: n.outputs[0], candidate: n.outputs[0] }] : []))
    .slice(0, 256);
}

export type { Fidelity, LatencyComparison } from './report.js';
export type { CalibrationMethod } from './calibrate.js';
export { STATIC_OP_TYPES } from './static.js';
export { DYNAMIC_OP_TYPES } from './dynamic.js';
export { FP16_BLOCKED_OPS } from './fp16.js';
