/**
 * gRPC ModelInferRequest ↔ the REST route's InferRequest, so both protocols share one validation
 * (core/serve/tensors.ts decodeInputs): raw_input_contents and typed contents both become the raw bytes
 * of the binary tensor extension, checked for size here with the gRPC field named in the message.
 */
import type { TensorSpec } from '../../core/backends/types.js';
import { BadRequestError } from '../../core/serve/errors.js';
import { kserveDatatype, tensorMetadata, type InferRequest } from '../../core/serve/tensors.js';

/** InferParameter as proto-loader decodes it (oneofs: true, longs: String). */
export interface GrpcParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
}

export interface GrpcContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: string[];
  uint_contents: number[];
  uint64_contents: string[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}

export interface GrpcInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, GrpcParameter>;
  inputs: { name: string; datatype: string; shape: string[]; parameters: Record<string, GrpcParameter>; contents: GrpcContents | null }[];
  outputs: { name: string; parameters: Record<string, GrpcParameter> }[];
  raw_input_contents: Buffer[];
}

/** A parameter's value: int64/uint64 as numbers (a timeout in µs fits), others as they are. */
export function parameterValue(p: GrpcParameter): unknown {
  switch (p.parameter_choice) {
    case 'bool_param':
      return p.bool_param;
    case 'int64_param':
      return Number(p.int64_param);
    case 'uint64_param':
      return Number(p.uint64_param);
    case 'double_param':
      return p.double_param;
    case 'string_param':
      return p.string_param;
    default:
      return undefined;
  }
}

export function parameters(map: Record<string, GrpcParameter> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(map ?? {})) {
    const v = parameterValue(p);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

const ELEMENT: Readonly<Record<string, number>> = { BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, BF16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8 };

/** The typed-contents field of each datatype (the protocol's InferTensorContents). */
export const CONTENTS_FIELD: Readonly<Record<string, keyof GrpcContents>> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

const RANGES: Readonly<Record<string, [number, number]>> = { INT8: [-128, 127], INT16: [-32768, 32767], UINT8: [0, 255], UINT16: [0, 65535] };

/** Typed contents as raw little-endian bytes (exact: int64 from decimal strings through BigInt). */
function contentsBytes(input: string, datatype: string, c: GrpcContents): Uint8Array {
  const field = CONTENTS_FIELD[datatype];
  if (!field) throw new BadRequestError(`input '${input}': ${datatype} has no typed contents in the protocol`, 'send it as raw_input_contents');
  const others = (Object.keys(CONTENTS_FIELD) as string[]).map((d) => CONTENTS_FIELD[d] as keyof GrpcContents).filter((f, i, a) => f !== field && a.indexOf(f) === i && (c[f]?.length ?? 0) > 0);
  if (others.length) throw new BadRequestError(`input '${input}' (${datatype}) has ${others.join(', ')}; ${datatype} goes in contents.${field}`);
  const values = c[field] as unknown[];
  const range = RANGES[datatype];
  if (range) {
    const i = (values as number[]).findIndex((v) => v < range[0] || v > range[1]);
    if (i >= 0) throw new BadRequestError(`input '${input}': element ${i} is ${String(values[i])}, expected an integer in [${range[0]}, ${range[1]}]`);
  }
  const view = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (datatype) {
    case 'FP32':
      return view(Float32Array.from(values as number[]));
    case 'FP64':
      return view(Float64Array.from(values as number[]));
    case 'INT32':
      return view(Int32Array.from(values as number[]));
    case 'INT16':
      return view(Int16Array.from(values as number[]));
    case 'INT8':
      return view(Int8Array.from(values as number[]));
    case 'UINT32':
      return view(Uint32Array.from(values as number[]));
    case 'UINT16':
      return view(Uint16Array.from(values as number[]));
    case 'UINT8':
      return view(Uint8Array.from(values as number[]));
    case 'INT64':
      return view(BigInt64Array.from(values as string[], (s) => BigInt(s)));
    case 'UINT64':
      return view(BigUint64Array.from(values as string[], (s) => BigInt(s)));
    case 'BOOL':
      return Uint8Array.from(values as boolean[], (b) => (b ? 1 : 0));
    default:
      // BYTES: not served (decodeInputs names it unsupported)
      return new Uint8Array(0);
  }
}

const fmt = (s: readonly number[]): string => `[${s.join(',')}]`;

/**
 * The request as the REST route's InferRequest plus the binary part its inputs point into. The size of
 * each tensor is checked here when its name, datatype and shape already match the model (otherwise
 * decodeInputs reports what does not), so the message names raw_input_contents or the contents field.
 */
export function toInferRequest(req: GrpcInferRequest, specs: readonly TensorSpec[]): { body: InferRequest; binary: Uint8Array | undefined } {
  const raw = req.raw_input_contents ?? [];
  const inputs = req.inputs ?? [];
  if (raw.length && raw.length !== inputs.length) throw new BadRequestError(`the request has ${raw.length} raw_input_contents for ${inputs.length} inputs`, 'give one raw_input_contents entry per input, in the order of inputs');
  const parts: Uint8Array[] = [];
  const body: InferRequest = {
    parameters: parameters(req.parameters),
    inputs: inputs.map((t, i) => {
      const shape = (t.shape ?? []).map(Number);
      let bytes: Uint8Array;
      let what: string;
      if (raw.length) {
        if (t.contents && Object.values(t.contents).some((a) => Array.isArray(a) && a.length > 0)) throw new BadRequestError(`input '${t.name}' has contents and the request has raw_input_contents`, 'use one or the other for every input');
        bytes = raw[i] as Buffer;
        what = `raw_input_contents[${i}] has ${bytes.byteLength} bytes`;
      } else {
        if (!t.contents) throw new BadRequestError(`input '${t.name}' has no contents`, `give contents.${CONTENTS_FIELD[t.datatype] ?? '<field>'} or raw_input_contents`);
        bytes = contentsBytes(t.name, t.datatype, t.contents);
        const field = CONTENTS_FIELD[t.datatype] as keyof GrpcContents;
        what = `contents.${field} has ${t.contents[field].length} elements`;
      }
      const spec = specs.find((s) => s.name === t.name);
      const size = ELEMENT[t.datatype];
      if (spec && size && t.datatype === kserveDatatype(spec.type)) {
        const expected = tensorMetadata(spec).shape;
        const ok = shape.length === expected.length && shape.every((d, k) => Number.isInteger(d) && d >= 0 && (expected[k] === -1 || expected[k] === d));
        const want = shape.reduce((a, b) => a * b, 1) * size;
        if (ok && bytes.byteLength !== want) throw new BadRequestError(`input '${t.name}': ${what}; shape ${fmt(shape)} of ${t.datatype} needs ${raw.length ? `${want} bytes` : `${want / size} elements`}`);
      }
      parts.push(bytes);
      return { name: t.name, datatype: t.datatype, shape, parameters: { binary_data_size: bytes.byteLength } };
    }),
  };
  if (req.id) body.id = req.id;
  if (req.outputs?.length) body.outputs = req.outputs.map((o) => ({ name: o.name }));
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  let binary: Uint8Array | undefined;
  if (parts.length === 1) binary = parts[0];
  else if (parts.length > 1) {
    binary = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      binary.set(p, off);
      off += p.byteLength;
    }
  }
  return { body, binary };
}
