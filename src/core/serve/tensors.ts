/**
 * KServe v2 tensors ↔ host tensors, checked against the model's metadata before anything reaches a
 * runtime: the input's name, datatype, shape (fixed dims must match, symbolic/-1 dims are free) and
 * element count or byte size. JSON `data` may be flat (row-major) or nested; binary tensors follow
 * Triton's binary tensor extension (raw little-endian bytes, `binary_data_size` per tensor).
 */
import type { ElementType, HostTensor, TensorSpec, TypedData } from '../backends/types.js';
import { ELEMENT_BYTES, typedArrayOf } from '../backends/tensor-data.js';
import { floatToHalf, halfToFloat } from '../half.js';
import { BadRequestError, UnsupportedError } from './errors.js';

/** Every datatype of the protocol. */
export const KSERVE_DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BF16',
  'BYTES',
] as const;
export type KServeDatatype = (typeof KSERVE_DATATYPES)[number];

const TO_KSERVE: Readonly<Record<string, KServeDatatype>> = Object.freeze({
  float32: 'FP32',
  float16: 'FP16',
  float64: 'FP64',
  bfloat16: 'BF16',
  int64: 'INT64',
  int32: 'INT32',
  int16: 'INT16',
  int8: 'INT8',
  uint64: 'UINT64',
  uint32: 'UINT32',
  uint16: 'UINT16',
  uint8: 'UINT8',
  bool: 'BOOL',
  string: 'BYTES',
});

const FROM_KSERVE: Readonly<Partial<Record<KServeDatatype, ElementType>>> = Object.freeze({
  FP32: 'float32',
  FP16: 'float16',
  INT64: 'int64',
  INT32: 'int32',
  INT8: 'int8',
  UINT8: 'uint8',
  BOOL: 'bool',
});

/** The protocol's name of a runtime element type ('float32' → 'FP32'); unknown types pass through upper-cased. */
export function kserveDatatype(type: string): string {
  return TO_KSERVE[type] ?? type.toUpperCase();
}

/** A model tensor as the protocol's metadata shows it: symbolic dims as -1. */
export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export function tensorMetadata(spec: TensorSpec): TensorMetadata {
  return { name: spec.name, datatype: kserveDatatype(spec.type), shape: spec.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
}

/** One input tensor of a request, as parsed from JSON (before validation). */
export interface RequestInput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data?: unknown;
}

/** A requested output. */
export interface RequestOutput {
  name: string;
  parameters?: Record<string, unknown>;
}

export interface InferRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: RequestInput[];
  outputs?: RequestOutput[];
}

const fmtShape = (s: readonly number[]): string => `[${s.join(',')}]`;

function flatten(data: unknown, out: unknown[]): void {
  if (Array.isArray(data)) for (const d of data) flatten(d, out);
  else out.push(data);
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function typedFromJson(type: ElementType, values: unknown[], input: string): TypedData {
  const bad = (i: number, want: string): never => {
    throw new BadRequestError(`input '${input}': element ${i} is ${JSON.stringify(values[i])}, expected ${want}`);
  };
  switch (type) {
    case 'float32':
    case 'float16': {
      const arr = type === 'float32' ? new Float32Array(values.length) : new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== 'number') bad(i, 'a number');
        arr[i] = type === 'float32' ? (v as number) : floatToHalf(v as number);
      }
      return arr;
    }
    case 'int64': {
      const arr = new BigInt64Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v)) bad(i, 'an integer');
        arr[i] = BigInt(v as number);
      }
      return arr;
    }
    case 'int32':
    case 'int8':
    case 'uint8': {
      const [lo, hi, Ctor] = type === 'int32' ? [-(2 ** 31), 2 ** 31 - 1, Int32Array] : type === 'int8' ? [-128, 127, Int8Array] : [0, 255, Uint8Array];
      const arr = new Ctor(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) bad(i, `an integer in [${lo}, ${hi}]`);
        arr[i] = v as number;
      }
      return arr;
    }
    case 'bool': {
      const arr = new Uint8Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== 'boolean') bad(i, 'true or false');
        arr[i] = v ? 1 : 0;
      }
      return arr;
    }
  }
}

function typedFromBytes(type: ElementType, bytes: Uint8Array, inPlace: boolean): TypedData {
  // A body in a buffer of its own, aligned (the server's pooled reader): a view, no copy.
  if (inPlace && bytes.byteOffset % ELEMENT_BYTES[type] === 0)
    return typedArrayOf(type, bytes.buffer, bytes.byteLength / ELEMENT_BYTES[type], bytes.byteOffset);
  // Otherwise a copy into a fresh buffer: the body slice may be unaligned for 4- and 8-byte types, and a
  // Buffer may be a slice of Node's shared pool, which a transfer to a lane would detach.
  const buf = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buf).set(bytes);
  return typedArrayOf(type, buf);
}

/**
 * Checks `req` against the model's inputs and outputs and builds the feeds. `binary` is the part of the
 * body after the JSON header (binary tensor extension), consumed in input order. `inPlace`: `binary` lies in
 * a buffer owned by this request alone, so aligned tensors are views of it (and move with it to a lane).
 */
export function decodeInputs(
  req: InferRequest,
  inputs: readonly TensorSpec[],
  outputs: readonly TensorSpec[],
  binary?: Uint8Array,
  opts: { inPlace?: boolean } = {},
): Record<string, HostTensor> {
  if (!Array.isArray(req.inputs) || req.inputs.length === 0)
    throw new BadRequestError('the request has no inputs', `the model takes ${inputs.map((i) => `'${i.name}'`).join(', ')}`);
  const feeds: Record<string, HostTensor> = {};
  let offset = 0;
  for (const input of req.inputs) {
    const spec = inputs.find((s) => s.name === input.name);
    if (!spec) throw new BadRequestError(`unexpected input '${input.name}'`, `the model's inputs are ${inputs.map((i) => `'${i.name}'`).join(', ')}`);
    if (feeds[input.name]) throw new BadRequestError(`input '${input.name}' is given twice`);
    const want = kserveDatatype(spec.type);
    if (input.datatype !== want) throw new BadRequestError(`input '${input.name}' has datatype ${String(input.datatype)}; the model expects ${want}`);
    const type = FROM_KSERVE[want as KServeDatatype];
    if (!type) throw new UnsupportedError(`input '${input.name}': datatype ${want} is not supported by aivmm's runtime bridge`);
    const expected = tensorMetadata(spec).shape;
    const shape = input.shape;
    const shapeOk =
      Array.isArray(shape) &&
      shape.length === expected.length &&
      shape.every((d, i) => Number.isInteger(d) && d >= 0 && (expected[i] === -1 || expected[i] === d));
    if (!shapeOk)
      throw new BadRequestError(
        `input '${input.name}' has shape ${Array.isArray(shape) ? fmtShape(shape) : JSON.stringify(shape)}; the model expects ${fmtShape(expected)} (-1: any size)`,
      );
    const count = elements(shape);
    const binarySize = input.parameters?.['binary_data_size'];
    let data: TypedData;
    if (binarySize !== undefined) {
      if (typeof binarySize !== 'number' || !Number.isInteger(binarySize) || binarySize < 0)
        throw new BadRequestError(`input '${input.name}': binary_data_size must be a non-negative integer`);
      if (input.data !== undefined) throw new BadRequestError(`input '${input.name}' has both binary_data_size and data`);
      const bytes = count * ELEMENT_BYTES[type];
      if (binarySize !== bytes)
        throw new BadRequestError(`input '${input.name}': binary_data_size is ${binarySize} bytes; shape ${fmtShape(shape)} of ${want} needs ${bytes}`);
      if (!binary || offset + bytes > binary.byteLength)
        throw new BadRequestError(`input '${input.name}': the body holds ${(binary?.byteLength ?? 0) - offset} more binary bytes, ${bytes} announced`);
      data = typedFromBytes(type, binary.subarray(offset, offset + bytes), opts.inPlace === true);
      offset += bytes;
    } else {
      if (input.data === undefined)
        throw new BadRequestError(
          `input '${input.name}' has no data`,
          'give "data" (flat or nested) or parameters.binary_data_size with the binary tensor extension',
        );
      const flat: unknown[] = [];
      flatten(input.data, flat);
      if (flat.length !== count) throw new BadRequestError(`input '${input.name}' has ${flat.length} elements; shape ${fmtShape(shape)} needs ${count}`);
      data = typedFromJson(type, flat, input.name);
    }
    feeds[input.name] = { type, dims: shape, data };
  }
  if (binary && offset !== binary.byteLength) throw new BadRequestError(`the body has ${binary.byteLength - offset} binary bytes that no input claims`);
  const missing = inputs.filter((s) => !feeds[s.name]).map((s) => `'${s.name}'`);
  if (missing.length) throw new BadRequestError(`missing input${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  for (const o of req.outputs ?? []) {
    if (!outputs.some((s) => s.name === o.name))
      throw new BadRequestError(`unknown output '${o.name}'`, `the model's outputs are ${outputs.map((s) => `'${s.name}'`).join(', ')}`);
  }
  return feeds;
}

/** A JSON-safe array of a tensor's elements: float16 as numbers, int64 as numbers, bool as booleans. */
export function jsonData(t: HostTensor): (number | boolean)[] {
  switch (t.type) {
    case 'float16':
      return Array.from(t.data as Uint16Array, halfToFloat);
    case 'int64':
      return Array.from(t.data as BigInt64Array, (v) => Number(v));
    case 'bool':
      return Array.from(t.data as Uint8Array, (v) => v !== 0);
    default:
      return Array.from(t.data as Float32Array);
  }
}

/** The raw little-endian bytes of a tensor (a view, no copy). */
export function tensorBytes(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

export interface ResponseOutput {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Record<string, unknown>;
  data?: (number | boolean)[];
}

export interface EncodedResponse {
  /** The JSON document (the header, when `binary` has parts). */
  json: { model_name: string; model_version: string; id?: string; parameters?: Record<string, unknown>; outputs: ResponseOutput[] };
  /** Raw tensors following the header, in output order; empty for a plain JSON answer. */
  binary: Uint8Array[];
}

/**
 * The response for `results`: only the requested outputs (all when none are named), each as JSON data
 * or, with `binary_data: true` on the output (or `binary_data_output: true` on the request), as raw bytes.
 */
export function encodeOutputs(
  req: InferRequest,
  results: Readonly<Record<string, HostTensor>>,
  order: readonly TensorSpec[],
  model: { name: string; version: string },
): EncodedResponse {
  const wantAllBinary = req.parameters?.['binary_data_output'] === true;
  const names = req.outputs?.length ? req.outputs.map((o) => o.name) : order.map((s) => s.name).filter((n) => results[n]);
  const outputs: ResponseOutput[] = [];
  const binary: Uint8Array[] = [];
  for (const name of names) {
    const t = results[name];
    if (!t) continue;
    const asked = req.outputs?.find((o) => o.name === name)?.parameters?.['binary_data'];
    const bin = asked === true || (asked === undefined && wantAllBinary);
    const base = { name, datatype: kserveDatatype(t.type), shape: [...t.dims] };
    if (bin) {
      const bytes = tensorBytes(t);
      binary.push(bytes);
      outputs.push({ ...base, parameters: { binary_data_size: bytes.byteLength } });
    } else {
      outputs.push({ ...base, data: jsonData(t) });
    }
  }
  const json: EncodedResponse['json'] = { model_name: model.name, model_version: model.version, outputs };
  if (req.id !== undefined) json.id = req.id;
  return { json, binary };
}

/** Zero-filled feeds for a warm-up run: symbolic dims become 1. */
export function warmupFeeds(inputs: readonly TensorSpec[]): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  for (const spec of inputs) {
    const type = FROM_KSERVE[kserveDatatype(spec.type) as KServeDatatype];
    if (!type) throw new UnsupportedError(`input '${spec.name}': datatype ${kserveDatatype(spec.type)} is not supported by aivmm's runtime bridge`);
    const dims = spec.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    const n = elements(dims);
    feeds[spec.name] = { type, dims, data: typedFromBytes(type, new Uint8Array(n * ELEMENT_BYTES[type]), true) };
  }
  return feeds;
}
