/**
 * The in-memory form of an ONNX model that aivmm reads, rewrites and writes (a plain subset of
 * onnx.proto3). What aivmm does not interpret (subgraph attributes, functions, non-tensor types,
 * string tensors) travels through as the original encoded bytes, so a read → write round trip keeps it.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { halfToFloat } from '../half.js';

export type OnnxDataType =
  | 'float32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'bool'
  | 'float16'
  | 'float64'
  | 'uint32'
  | 'uint64'
  | 'bfloat16'
  /** Any other element type (string, float8…): kept as encoded bytes, never interpreted. */
  | 'other';

/** TensorProto.DataType enum values. */
export const ONNX_DATA_TYPE: Readonly<Record<Exclude<OnnxDataType, 'other'>, number>> = Object.freeze({
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
});

const BY_NUMBER = new Map<number, OnnxDataType>(Object.entries(ONNX_DATA_TYPE).map(([k, v]) => [v, k as OnnxDataType]));

export function dataTypeFromEnum(n: number): OnnxDataType {
  return BY_NUMBER.get(n) ?? 'other';
}

/** Bytes per element; 0 for types aivmm does not lay out itself. */
export function elementSize(t: OnnxDataType): number {
  switch (t) {
    case 'float64':
    case 'int64':
    case 'uint64':
      return 8;
    case 'float32':
    case 'int32':
    case 'uint32':
      return 4;
    case 'float16':
    case 'bfloat16':
    case 'int16':
    case 'uint16':
      return 2;
    case 'uint8':
    case 'int8':
    case 'bool':
      return 1;
    default:
      return 0;
  }
}

export type TensorData = Float32Array | Float64Array | Uint8Array | Int8Array | Uint16Array | Int16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/** Where a tensor's bytes live when they are not in the model file (ONNX external data). */
export interface ExternalRef {
  /** Absolute path of the data file. */
  path: string;
  offset: number;
  length: number;
}

export interface TensorInit {
  name: string;
  dataType: OnnxDataType;
  dims: readonly number[];
  /**
   * The values in the element type's little-endian layout. Any typed array may carry them
   * (a Uint8Array view of a file's bytes included); `dataType` says how to read them.
   * Empty when `external` is set.
   */
  data: TensorData;
  external?: ExternalRef;
  /** An encoded TensorProto kept as it was read (types aivmm does not lay out). */
  proto?: Uint8Array;
}

export interface ValueInfo {
  name: string;
  dataType: OnnxDataType;
  /**
   * A number is a fixed dimension, a string a symbolic one (e.g. 'batch_size'), '' an unknown one.
   * Undefined: unknown rank.
   */
  shape?: readonly (number | string)[];
  /** An encoded ValueInfoProto kept as it was read (sequence, map or optional types). */
  proto?: Uint8Array;
}

export type Attribute =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'floats'; value: readonly number[] }
  | { name: string; type: 'ints'; value: readonly number[] }
  | { name: string; type: 'tensor'; value: TensorInit }
  /** An encoded AttributeProto kept as it was read (subgraphs, string lists, type protos…). */
  | { name: string; type: 'raw'; value: Uint8Array };

export interface NodeSpec {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attributes?: readonly Attribute[];
}

/** Fields aivmm keeps but does not interpret: field number + encoded bytes. */
export interface OpaqueField {
  field: number;
  bytes: Uint8Array;
}

export interface GraphSpec {
  name: string;
  nodes: readonly NodeSpec[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  initializers: readonly TensorInit[];
  valueInfo?: readonly ValueInfo[];
  extra?: readonly OpaqueField[];
}

export interface ModelSpec {
  irVersion?: number;
  opsets?: readonly { domain: string; version: number }[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  metadata?: Readonly<Record<string, string>>;
  graph: GraphSpec;
  extra?: readonly OpaqueField[];
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 1);
}

/** A tensor's bytes: its in-memory view, or read from its external data file (one tensor at a time). */
export function tensorBytes(t: TensorInit): Uint8Array {
  if (!t.external) return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(t.external.length);
  const fd = openSync(t.external.path, 'r');
  try {
    let done = 0;
    while (done < out.length) {
      const n = readSync(fd, out, done, out.length - done, t.external.offset + done);
      if (n === 0) throw new Error(`external data file ${t.external.path} ends before ${t.name}'s bytes (offset ${t.external.offset}, ${t.external.length} bytes)`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

export function tensorByteLength(t: TensorInit): number {
  return t.external ? t.external.length : t.data.byteLength;
}

/** A float32 tensor's values as a Float32Array (a copy when the bytes are unaligned or external). */
export function tensorFloats(t: TensorInit): Float32Array {
  if (t.dataType === 'float32' && t.data instanceof Float32Array && !t.external) return t.data;
  const bytes = tensorBytes(t);
  if (t.dataType === 'float32') {
    // External bytes arrive in a fresh, aligned buffer: view them. Inline views may be unaligned: copy.
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    return new Float32Array(copy.buffer);
  }
  if (t.dataType === 'float16') {
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    const half = new Uint16Array(copy.buffer);
    const out = new Float32Array(half.length);
    for (let i = 0; i < half.length; i++) out[i] = halfToFloat(half[i]!);
    return out;
  }
  if (t.dataType === 'float64') {
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    return Float32Array.from(new Float64Array(copy.buffer));
  }
  throw new Error(`tensor ${t.name} is ${t.dataType}, not a float type`);
}

/** Integer tensor values as numbers (int64 folded to number). */
export function tensorInts(t: TensorInit): number[] {
  const bytes = tensorBytes(t);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = elementCount(t.dims);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    switch (t.dataType) {
      case 'int64':
        out.push(Number(view.getBigInt64(i * 8, true)));
        break;
      case 'int32':
        out.push(view.getInt32(i * 4, true));
        break;
      case 'int8':
        out.push(view.getInt8(i));
        break;
      case 'uint8':
      case 'bool':
        out.push(view.getUint8(i));
        break;
      default:
        throw new Error(`tensor ${t.name} is ${t.dataType}, not an integer type`);
    }
  }
  return out;
}
