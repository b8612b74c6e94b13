/**
 * Calibration and evaluation inputs: seeded random tensors (`random:N`), a directory of images
 * (preprocessed for the model's image input), or .npy / .json tensor files. A share of file samples is
 * held back from calibration to judge fidelity on inputs the ranges were not fitted to.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { HostTensor, TensorSpec } from '../backends/types.js';
import { checkAgainstSpec, parseJsonInputs, parseNpy, planShapes, randomTensor, shapeText } from '../bench/inputs.js';
import type { ShapeOverride } from '../bench/inputs.js';
import { NotFoundError, UsageError } from '../errors.js';
import { IMAGE_EXTENSIONS, IMAGENET_MEAN, IMAGENET_STD, imageLayout, imageToTensor } from '../tasks/image.js';
import type { ModelSpec } from '../onnx/model.js';

export type Feeds = Record<string, HostTensor>;

export type SampleSource = { kind: 'random'; count: number } | { kind: 'files'; path: string };

export function parseSampleSource(value: string): SampleSource {
  const m = /^random(?::(\d+))?$/i.exec(value.trim());
  if (m) {
    const count = m[1] === undefined ? 32 : Number(m[1]);
    if (!Number.isInteger(count) || count < 1 || count > 100000) throw new UsageError(`--calibration ${value}: the count must be 1–100000`);
    return { kind: 'random', count };
  }
  return { kind: 'files', path: value };
}

/** The model's real inputs (graph inputs that are not initializers) as tensor specs. */
export function modelInputs(m: ModelSpec): TensorSpec[] {
  const inits = new Set(m.graph.initializers.map((t) => t.name));
  return m.graph.inputs.filter((v) => !inits.has(v.name)).map((v) => ({ name: v.name, type: v.dataType, shape: v.shape ?? [] }));
}

/** Sequence length for random samples of text models: short, so calibration and evaluation stay quick. */
export const DEFAULT_SEQUENCE = 16;

/**
 * Dims for random samples: `--shape` where given; otherwise a symbolic first dimension is the batch (1),
 * symbolic dimensions of `past*` inputs (a KV cache) are 0, and every other symbolic dimension takes the
 * sequence length — the first one given with `--shape`, else 16 — so that `input_ids [B, S]`,
 * `attention_mask [B, T]` and friends agree with each other.
 */
export function sampleShapes(inputs: readonly TensorSpec[], overrides: readonly ShapeOverride[]): Record<string, number[]> {
  const given = planShapes(
    inputs.filter((spec) => overrides.some((o) => (o.name ?? (inputs.length === 1 ? spec.name : undefined)) === spec.name)),
    overrides.map((o) => (o.name === undefined && inputs.length === 1 ? { ...o, name: inputs[0]!.name } : o)),
    undefined,
  );
  let sequence: number | undefined;
  for (const spec of inputs) {
    const dims = given[spec.name];
    if (!dims) continue;
    const k = spec.shape.findIndex((d, i) => i > 0 && !(typeof d === 'number' && d > 0));
    if (k > 0 && sequence === undefined && !/past/i.test(spec.name)) sequence = dims[k];
  }
  const full: ShapeOverride[] = inputs.map((spec) => ({
    name: spec.name,
    dims:
      given[spec.name] ??
      spec.shape.map((d, i) => {
        if (typeof d === 'number' && d > 0) return d;
        if (i === 0) return 1;
        return /past/i.test(spec.name) ? 0 : (sequence ?? DEFAULT_SEQUENCE);
      }),
  }));
  return planShapes(inputs, full, undefined);
}

/**
 * Integer inputs that index an embedding table directly (Gather on a weight): their values must stay
 * below the table's row count, which random token ids (0–999) can exceed in small vocabularies.
 */
export function indexLimits(m: ModelSpec): Map<string, number> {
  const tables = new Map(m.graph.initializers.map((t) => [t.name, t.dims[0] ?? 0]));
  const inputs = new Set(m.graph.inputs.map((v) => v.name));
  const limits = new Map<string, number>();
  for (const n of m.graph.nodes) {
    if (n.opType !== 'Gather') continue;
    const rows = tables.get(n.inputs[0] ?? '');
    const ids = n.inputs[1] ?? '';
    if (rows === undefined || !inputs.has(ids) || rows <= 0) continue;
    limits.set(ids, Math.min(rows, limits.get(ids) ?? Infinity));
  }
  return limits;
}

/** Random samples; `shapes` from sampleShapes(), `limits` from indexLimits() (values kept below them). */
export function randomSamples(inputs: readonly TensorSpec[], count: number, seed: number, shapes: Record<string, number[]> = planShapes(inputs, [], 1), limits?: ReadonlyMap<string, number>): Feeds[] {
  return Array.from({ length: count }, (_, k) =>
    Object.fromEntries(
      inputs.map((spec, i) => {
        const t = randomTensor(spec, shapes[spec.name] ?? [], seed + k * 101 + i);
        const limit = limits?.get(spec.name);
        if (limit !== undefined && t.data instanceof BigInt64Array) t.data.forEach((v, j, a) => (a[j] = v % BigInt(limit)));
        else if (limit !== undefined && t.data instanceof Int32Array) t.data.forEach((v, j, a) => (a[j] = v % limit));
        return [spec.name, t];
      }),
    ),
  );
}

/** Splits a [N, …] tensor into N tensors of batch 1. */
function splitBatch(t: HostTensor): HostTensor[] {
  const n = t.dims[0] ?? 1;
  if (t.dims.length === 0 || n <= 1) return [t];
  const per = t.data.length / n;
  return Array.from({ length: n }, (_, i) => ({ type: t.type, dims: [1, ...t.dims.slice(1)], data: t.data.subarray(i * per, (i + 1) * per) as HostTensor['data'] }));
}

export interface LoadedSamples {
  samples: Feeds[];
  /** How the samples were made, for the report. */
  description: string;
}

/** Every sample the source holds, in a stable (sorted) order. */
export async function loadSamples(source: SampleSource, inputs: readonly TensorSpec[], seed: number, shapes?: Record<string, number[]>, limits?: ReadonlyMap<string, number>): Promise<LoadedSamples> {
  if (source.kind === 'random') return { samples: randomSamples(inputs, source.count, seed, shapes, limits), description: `random:${source.count}` };
  const st = await stat(source.path).catch(() => undefined);
  if (!st) throw new NotFoundError(`calibration data ${source.path} not found`, 'give a directory of images, .npy or .json files, or random:N');
  const files = st.isDirectory()
    ? (await readdir(source.path)).filter((f) => !f.startsWith('.')).sort().map((f) => join(source.path, f))
    : [source.path];
  const samples: Feeds[] = [];
  let images = 0;
  let tensors = 0;
  for (const file of files) {
    const ext = extname(file).toLowerCase();
    if (IMAGE_EXTENSIONS.includes(ext)) {
      samples.push(await imageSample(file, inputs));
      images++;
    } else if (ext === '.npy') {
      if (inputs.length !== 1) throw new UsageError(`${file}: a .npy file feeds a single-input model; this one has ${inputs.length} inputs`, 'use .json files naming each input');
      const spec = inputs[0]!;
      const t = parseNpy(new Uint8Array(await readFile(file)), file);
      for (const part of splitBatch(t)) {
        checkSample(part, spec, file);
        samples.push({ [spec.name]: part });
      }
      tensors++;
    } else if (ext === '.json') {
      const feeds = parseJsonInputs(await readFile(file, 'utf8'), file, inputs);
      for (const spec of inputs) {
        const t = feeds[spec.name];
        if (!t) throw new UsageError(`${file}: no data for input '${spec.name}'`);
        checkSample(t, spec, file);
      }
      samples.push(feeds);
      tensors++;
    }
  }
  if (samples.length === 0) throw new UsageError(`no calibration data in ${source.path}`, `expected images (${IMAGE_EXTENSIONS.join(' ')}), .npy or .json files`);
  const parts = [images ? `${images} image${images === 1 ? '' : 's'}` : '', tensors ? `${tensors} tensor file${tensors === 1 ? '' : 's'}` : ''].filter(Boolean);
  return { samples, description: `${source.path} (${parts.join(', ')})` };
}

function checkSample(t: HostTensor, spec: TensorSpec, file: string): void {
  if (t.type !== spec.type) throw new UsageError(`${file}: holds ${t.type} data; input '${spec.name}' takes ${spec.type}`);
  try {
    checkAgainstSpec(t, spec);
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message}`, `input '${spec.name}' expects ${spec.type} ${shapeText(spec.shape)}`);
  }
}

async function imageSample(file: string, inputs: readonly TensorSpec[]): Promise<Feeds> {
  const candidates = inputs.filter((s) => s.type === 'float32' && imageLayout(s.shape));
  const spec = candidates[0];
  if (!spec || inputs.length !== 1) {
    throw new UsageError(`${file}: images calibrate models with one float image input ([N,3,H,W] or [N,H,W,3] with fixed H and W); this model's inputs are ${inputs.map((s) => `${s.name} ${s.type} ${shapeText(s.shape)}`).join(', ')}`, 'give .npy or .json tensors instead');
  }
  const layout = imageLayout(spec.shape)!;
  const data = await imageToTensor(file, { ...layout, mean: IMAGENET_MEAN, std: IMAGENET_STD, resizeRatio: 256 / 224 });
  const dims = layout.layout === 'nchw' ? [1, 3, layout.height, layout.width] : [1, layout.height, layout.width, 3];
  return { [spec.name]: { type: 'float32', dims, data } };
}

/** Calibration and held-back evaluation sets. */
export interface SplitSamples {
  calibration: Feeds[];
  heldBack: Feeds[];
  /** True when the held-back set is random data because the source had too few samples. */
  heldBackRandom: boolean;
}

/**
 * Random sources: fresh seeds for the held-back set (half as many, at least 16). Files: the last
 * fifth (at least one) is held back; a single file calibrates and random data evaluates.
 */
export function splitSamples(loaded: Feeds[], source: SampleSource, inputs: readonly TensorSpec[], seed: number, shapes?: Record<string, number[]>, limits?: ReadonlyMap<string, number>): SplitSamples {
  if (source.kind === 'random') {
    return { calibration: loaded, heldBack: randomSamples(inputs, Math.max(16, Math.round(source.count / 2)), seed + 1_000_003, shapes, limits), heldBackRandom: true };
  }
  if (loaded.length < 2) return { calibration: loaded, heldBack: randomSamples(inputs, 16, seed + 1_000_003, shapes, limits), heldBackRandom: true };
  const held = Math.max(1, Math.round(loaded.length / 5));
  return { calibration: loaded.slice(0, loaded.length - held), heldBack: loaded.slice(loaded.length - held), heldBackRandom: false };
}
