/**
 * Bench inputs: concrete shapes from the model's input metadata plus --shape / --batch, filled with
 * seeded random data in valid ranges (token ids, masks, positions), or read from .npy / .json files.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ElementType, HostTensor, TensorSpec, TypedData } from '../backends/types.js';
import { ELEMENT_BYTES, typedArrayOf } from '../backends/tensor-data.js';
import { NotFoundError, UsageError, errorMessage } from '../errors.js';
import { seededRandom } from '../random.js';
import { floatToHalf } from '../half.js';
import type { ModelSpec, NodeSpec } from '../onnx/model.js';
import { checkAllocation } from '../memory-budget.js';

export interface InputPlan {
  /** name → full dims (batch included). */
  shapes: Record<string, number[]>;
  /** name → where the data comes from: "random", "file:<name>". */
  sources: Record<string, string>;
}

export interface ShapeOverride {
  /** Input name; undefined means "the only input". */
  name?: string;
  dims: number[];
}

/** Parses `--shape` values: `name=1x3x224x224`, `1x3x224x224` (single-input models), `name=1,3,224,224`. */
export function parseShape(value: string): ShapeOverride {
  const eq = value.lastIndexOf('=');
  const name = eq > 0 ? value.slice(0, eq) : undefined;
  const dimsText = eq > 0 ? value.slice(eq + 1) : value;
  const parts = dimsText.split(/[x,×]/i);
  const dims = parts.map((p) => Number(p.trim()));
  if (parts.length === 0 || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new UsageError(`invalid --shape '${value}'`, 'write it as name=1x3x224x224 (positive integers separated by x)');
  }
  return name === undefined ? { dims } : { name, dims };
}

const SUPPORTED: ReadonlySet<string> = new Set(['float32', 'float16', 'int64', 'int32', 'int8', 'uint8', 'bool']);

/**
 * Resolves every input's dims for one batch size. The first dimension is the batch when it is symbolic
 * (or equals the requested batch); other symbolic dimensions need --shape, except well-known sequence
 * names, which default to `defaultSequence`.
 */
export function planShapes(inputs: readonly TensorSpec[], overrides: readonly ShapeOverride[], batch: number | undefined, defaultSequence = 128): Record<string, number[]> {
  const byName = new Map<string, number[]>();
  for (const o of overrides) {
    const name = o.name ?? (inputs.length === 1 ? inputs[0]?.name : undefined);
    if (name === undefined) throw new UsageError(`--shape ${o.dims.join('x')} needs an input name: this model has inputs ${inputs.map((i) => i.name).join(', ')}`, 'write --shape name=1x3x224x224');
    const spec = inputs.find((i) => i.name === name);
    if (!spec) throw new UsageError(`--shape names input '${name}', which the model does not have`, `its inputs: ${inputs.map((i) => i.name).join(', ')}`);
    if (spec.shape.length !== o.dims.length) throw new UsageError(`--shape ${name}=${o.dims.join('x')} has ${o.dims.length} dimensions; input '${name}' has ${spec.shape.length} (${shapeText(spec.shape)})`);
    spec.shape.forEach((d, i) => {
      if (typeof d === 'number' && d > 0 && d !== o.dims[i] && !(i === 0 && batch !== undefined)) {
        throw new UsageError(`--shape ${name}=${o.dims.join('x')} changes fixed dimension ${i} of input '${name}' (${shapeText(spec.shape)})`);
      }
    });
    byName.set(name, [...o.dims]);
  }
  const shapes: Record<string, number[]> = {};
  for (const spec of inputs) {
    if (!SUPPORTED.has(spec.type)) throw new UsageError(`input '${spec.name}' has type ${spec.type}, which bench cannot generate`, 'give the data in a file with --input-data');
    const dims = byName.get(spec.name) ?? spec.shape.map((d, i) => {
      if (typeof d === 'number' && d > 0) return d;
      if (i === 0) return batch ?? 1;
      if (typeof d === 'string' && /seq|sequence|length|tokens|past/i.test(d)) return /past/i.test(d) ? 0 : defaultSequence;
      throw new UsageError(`input '${spec.name}' has a dynamic dimension '${String(d)}' (${shapeText(spec.shape)})`, `give it with --shape ${spec.name}=${spec.shape.map((x, k) => (k === 0 ? String(batch ?? 1) : typeof x === 'number' && x > 0 ? String(x) : 'N')).join('x')}`);
    });
    if (batch !== undefined && dims.length > 0) {
      const first = spec.shape[0];
      if (typeof first === 'number' && first > 0 && first !== batch) {
        throw new UsageError(`--batch ${batch}: input '${spec.name}' has a fixed batch of ${first} (${shapeText(spec.shape)})`, 'export the model with a dynamic batch dimension, or bench with --batch ' + String(first));
      }
      dims[0] = batch;
    }
    shapes[spec.name] = dims;
  }
  // Estimated from the dims before anything is allocated (typed arrays, plus the session's own copy).
  const bytes = inputs.reduce((n, spec) => n + (shapes[spec.name] ?? []).reduce((a, d) => a * d, 1) * (ELEMENT_BYTES[spec.type as ElementType] ?? 8), 0);
  const desc = Object.entries(shapes).map(([k, d]) => `${k} [${d.join(', ')}]`).join(', ');
  checkAllocation(`the inputs ${desc}`, bytes);
  return shapes;
}

export function shapeText(shape: readonly (number | string)[]): string {
  return `[${shape.map((d) => (typeof d === 'number' && d < 0 ? '?' : String(d))).join(', ')}]`;
}

/**
 * Vocabulary sizes read from the model: for each integer input that indexes an embedding table (a
 * Gather whose data is an initializer, directly or through Cast / Identity / DequantizeLinear, with the
 * input as its indices, directly or through Cast / Unsqueeze / Reshape / Flatten / Squeeze), the table's
 * first dimension. Random token ids must stay below it: a small vocabulary fails Gather otherwise.
 */
export function vocabularySizes(model: ModelSpec): Record<string, number> {
  const { nodes, initializers, inputs } = model.graph;
  const inits = new Map(initializers.map((t) => [t.name, t]));
  const producer = new Map<string, NodeSpec>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const tableRows = (name: string): number | undefined => {
    const t = inits.get(name);
    if (t) return t.dims.length >= 1 ? t.dims[0] : undefined;
    const p = producer.get(name);
    if (p && ['Cast', 'Identity', 'DequantizeLinear'].includes(p.opType) && p.inputs[0]) {
      const q = inits.get(p.inputs[0]);
      return q && q.dims.length >= 1 ? q.dims[0] : undefined;
    }
    return undefined;
  };
  // Values each input flows into without changing what its elements mean.
  const consumers = new Map<string, NodeSpec[]>();
  for (const n of nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const out: Record<string, number> = {};
  for (const input of inputs) {
    if (inits.has(input.name)) continue;
    const seen = new Set<string>([input.name]);
    const queue = [input.name];
    let vocab: number | undefined;
    while (queue.length > 0) {
      const v = queue.shift() as string;
      for (const n of consumers.get(v) ?? []) {
        if (n.opType === 'Gather' && n.inputs[1] === v && n.inputs[0] !== undefined) {
          const rows = tableRows(n.inputs[0]);
          if (rows !== undefined && rows > 0) vocab = Math.min(vocab ?? rows, rows);
        } else if (['Cast', 'Unsqueeze', 'Reshape', 'Flatten', 'Squeeze', 'Identity'].includes(n.opType) && n.inputs[0] === v) {
          for (const o of n.outputs.filter((x) => !seen.has(x))) {
            seen.add(o);
            queue.push(o);
          }
        }
      }
    }
    if (vocab !== undefined) out[input.name] = vocab;
  }
  return out;
}

export interface RandomTensorOptions {
  /** Token ids are drawn below this (the model's embedding rows: vocabularySizes). */
  vocabSize?: number | undefined;
}

/** Seeded random data for one input, in a range that is valid for what its name says it is. */
export function randomTensor(spec: TensorSpec, dims: readonly number[], seed: number, opts: RandomTensorOptions = {}): HostTensor {
  const size = dims.reduce((n, d) => n * d, 1);
  const rand = seededRandom(seed);
  const name = spec.name.toLowerCase();
  const type = spec.type as ElementType;
  const ints = (lo: number, hi: number): number[] => Array.from({ length: size }, () => lo + Math.floor(rand() * (hi - lo)));
  const intValues = (): number[] => {
    if (/mask/.test(name)) return new Array<number>(size).fill(1);
    if (/token_type|segment/.test(name)) return new Array<number>(size).fill(0);
    if (/position/.test(name)) {
      const last = dims[dims.length - 1] ?? 1;
      return Array.from({ length: size }, (_, i) => i % last);
    }
    // Token ids and class indices: below 1000 (as before, so results stay comparable), and below the vocabulary the model has.
    return ints(0, Math.max(1, Math.min(1000, opts.vocabSize ?? 1000)));
  };
  let data: TypedData;
  switch (type) {
    case 'float32':
      data = Float32Array.from({ length: size }, () => rand() * 2 - 1);
      break;
    case 'float16':
      data = Uint16Array.from({ length: size }, () => floatToHalf(rand() * 2 - 1));
      break;
    case 'int64':
      data = BigInt64Array.from(intValues(), (v) => BigInt(v));
      break;
    case 'int32':
      data = Int32Array.from(intValues());
      break;
    case 'int8':
      data = Int8Array.from(ints(-128, 128));
      break;
    case 'uint8':
      data = Uint8Array.from(ints(0, 256));
      break;
    case 'bool':
      data = Uint8Array.from(/mask/.test(name) ? new Array<number>(size).fill(1) : ints(0, 2));
      break;
    default:
      throw new UsageError(`input '${spec.name}' has type ${spec.type}, which bench cannot generate`);
  }
  return { type, dims: [...dims], data };
}

/** Tensors from a .npy file (format 1.0–3.0, little-endian, C order). */
export function parseNpy(buf: Uint8Array, label: string): HostTensor {
  const bad = (why: string): never => {
    throw new UsageError(`${label} is not a readable .npy file: ${why}`, 'save it with numpy.save (C order, little-endian)');
  };
  if (buf.length < 10 || buf[0] !== 0x93 || new TextDecoder().decode(buf.subarray(1, 6)) !== 'NUMPY') bad('no NUMPY magic');
  const major = buf[6] as number;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(buf.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined) return bad('header without descr or shape');
  if (fortran) bad('Fortran order');
  const dims = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const size = dims.reduce((n, d) => n * d, 1);
  const body = buf.slice(start + headerLen); // copy: aligned for typed arrays
  const table: Record<string, ElementType> = {
    '<f4': 'float32', '<f2': 'float16', '<i8': 'int64', '<i4': 'int32', '|i1': 'int8', '|u1': 'uint8', '|b1': 'bool',
  };
  const type = table[descr];
  if (!type) return bad(`dtype ${descr} is not supported (float32, float16, int64, int32, int8, uint8, bool)`);
  if (body.byteLength < size * ELEMENT_BYTES[type]) bad(`${body.byteLength} data bytes for ${size} elements of ${descr}`);
  return { type, dims, data: typedArrayOf(type, body.buffer, size) };
}

/** A JSON file `{ "<input>": { "dims": [..], "data": [..], "type"?: "float32" } | nested arrays }`. */
export function parseJsonInputs(text: string, label: string, inputs: readonly TensorSpec[]): Record<string, HostTensor> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${label} is not valid JSON: ${errorMessage(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`${label} must be a JSON object mapping input names to tensors`);
  const out: Record<string, HostTensor> = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    const spec = inputs.find((i) => i.name === name);
    if (!spec) throw new UsageError(`${label} gives input '${name}', which the model does not have`, `its inputs: ${inputs.map((i) => i.name).join(', ')}`);
    let dims: number[];
    let flat: unknown[];
    if (Array.isArray(value)) {
      dims = [];
      let v: unknown = value;
      while (Array.isArray(v)) {
        dims.push(v.length);
        v = v[0];
      }
      flat = (value as unknown[]).flat(Infinity);
    } else if (typeof value === 'object' && value && Array.isArray((value as { data?: unknown }).data)) {
      flat = (value as { data: unknown[] }).data;
      dims = (value as { dims?: number[] }).dims ?? [flat.length];
    } else {
      throw new UsageError(`${label}: input '${name}' must be nested arrays or {"dims": [...], "data": [...]}`);
    }
    const size = dims.reduce((n, d) => n * d, 1);
    if (size !== flat.length || flat.some((x) => typeof x !== 'number' && typeof x !== 'boolean')) {
      throw new UsageError(`${label}: input '${name}' has ${flat.length} values for dims [${dims.join(', ')}] (${size} expected), or non-numbers`);
    }
    const nums = flat.map(Number);
    const type = (typeof value === 'object' && !Array.isArray(value) && (value as { type?: string }).type) || spec.type;
    const t = { name, type, shape: dims } satisfies TensorSpec;
    const filled = randomTensor(t, dims, 0);
    for (let i = 0; i < size; i++) {
      const x = nums[i] as number;
      if (filled.data instanceof BigInt64Array) filled.data[i] = BigInt(Math.trunc(x));
      else if (type === 'float16') (filled.data as Uint16Array)[i] = floatToHalf(x);
      else filled.data[i] = x;
    }
    out[name] = filled;
  }
  return out;
}

export interface InputFile {
  /** Input name for a .npy file; undefined: the only input, or a .json file naming its inputs. */
  name?: string;
  path: string;
}

/** `--input-data name=path.npy`, `path.npy` (single input) or `path.json`. */
export function parseInputFileFlag(value: string): InputFile {
  const eq = value.indexOf('=');
  return eq > 0 ? { name: value.slice(0, eq), path: value.slice(eq + 1) } : { path: value };
}

export async function readInputFiles(files: readonly InputFile[], inputs: readonly TensorSpec[]): Promise<Record<string, HostTensor>> {
  const out: Record<string, HostTensor> = {};
  for (const f of files) {
    let buf: Uint8Array;
    try {
      buf = new Uint8Array(await readFile(f.path));
    } catch (err) {
      throw new NotFoundError(`cannot read input data ${f.path}: ${errorMessage(err)}`);
    }
    if (f.path.endsWith('.json')) {
      Object.assign(out, parseJsonInputs(new TextDecoder().decode(buf), basename(f.path), inputs));
      continue;
    }
    const name = f.name ?? (inputs.length === 1 ? inputs[0]?.name : undefined);
    if (!name) throw new UsageError(`--input-data ${f.path}: this model has several inputs (${inputs.map((i) => i.name).join(', ')})`, 'name it: --input-data name=path.npy');
    const spec = inputs.find((i) => i.name === name);
    if (!spec) throw new UsageError(`--input-data names input '${name}', which the model does not have`, `its inputs: ${inputs.map((i) => i.name).join(', ')}`);
    const t = parseNpy(buf, basename(f.path));
    if (t.type !== spec.type) throw new UsageError(`${basename(f.path)} holds ${t.type}; input '${name}' takes ${spec.type}`);
    out[name] = t;
  }
  return out;
}

/** Checks file data against the input's declared shape (fixed dims must match, rank too). */
export function checkAgainstSpec(t: HostTensor, spec: TensorSpec): void {
  const ok = t.dims.length === spec.shape.length && spec.shape.every((d, i) => typeof d !== 'number' || d <= 0 || d === t.dims[i]);
  if (!ok) throw new UsageError(`data for input '${spec.name}' has shape [${t.dims.join(', ')}]; the model expects ${shapeText(spec.shape)}`);
}
