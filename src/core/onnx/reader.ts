/**
 * Decodes an ONNX ModelProto into the plain form of onnx-model.ts. Weights stay views into the
 * file's bytes (no copies); external data is referenced (path, offset, length) and read one tensor at
 * a time by whoever needs it, so a model of any size is decoded in the memory its graph needs.
 */
import { stat, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { ProtoDecodeError, ProtoReader, WIRE_LEN, fixedFloat, pushDoubles, pushFloats, pushInts, utf8 } from './proto-reader.js';
import { dataTypeFromEnum, elementCount, elementSize } from './model.js';
import { floatToHalf } from '../half.js';
import type { Attribute, GraphSpec, ModelSpec, NodeSpec, OnnxDataType, OpaqueField, TensorData, TensorInit, ValueInfo } from './model.js';

export class OnnxFormatError extends Error {}

export interface DecodeOptions {
  /** Directory that external data locations are relative to (the model file's directory). */
  baseDir?: string;
}

function decodeTensor(buf: Uint8Array, opts: DecodeOptions): TensorInit {
  const dims: number[] = [];
  let dataTypeNum = 0;
  let name = '';
  let raw: Uint8Array | undefined;
  let dataLocation = 0;
  const external: Record<string, string> = {};
  const floats: number[] = [];
  const int32s: number[] = [];
  const int64s: number[] = [];
  const doubles: number[] = [];
  let typed = false;
  for (const f of ProtoReader.fields(buf)) {
    switch (f.field) {
      case 1:
        pushInts(dims, f);
        break;
      case 2:
        dataTypeNum = f.int;
        break;
      case 3:
        throw new OnnxFormatError('segmented tensors are not supported');
      case 4:
        pushFloats(floats, f);
        typed = true;
        break;
      case 5:
        pushInts(int32s, f);
        typed = true;
        break;
      case 7:
        pushInts(int64s, f);
        typed = true;
        break;
      case 8:
        name = utf8(f.bytes);
        break;
      case 9:
        raw = f.bytes;
        break;
      case 10:
        pushDoubles(doubles, f);
        typed = true;
        break;
      case 13: {
        let key = '';
        let value = '';
        for (const e of ProtoReader.fields(f.bytes)) {
          if (e.field === 1) key = utf8(e.bytes);
          else if (e.field === 2) value = utf8(e.bytes);
        }
        external[key] = value;
        break;
      }
      case 14:
        dataLocation = f.int;
        break;
      default:
        break;
    }
  }
  const dataType = dataTypeFromEnum(dataTypeNum);
  if (dataType === 'other' || (elementSize(dataType) === 0 && dataLocation !== 1)) {
    return { name, dataType: 'other', dims, data: new Uint8Array(0), proto: buf };
  }
  if (dataLocation === 1) {
    const location = external.location;
    if (!location) throw new OnnxFormatError(`tensor ${name}: external data without a location`);
    if (isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
      throw new OnnxFormatError(`tensor ${name}: external data location '${location}' leaves the model's directory`);
    }
    const baseDir = opts.baseDir ?? '.';
    const path = resolve(baseDir, location);
    if (!path.startsWith(resolve(baseDir) + sep)) throw new OnnxFormatError(`tensor ${name}: external data location '${location}' leaves the model's directory`);
    const offset = Number(external.offset ?? 0);
    const length = external.length !== undefined ? Number(external.length) : elementCount(dims) * elementSize(dataType);
    return { name, dataType, dims, data: new Uint8Array(0), external: { path, offset, length } };
  }
  const expected = elementCount(dims) * elementSize(dataType);
  if (raw) {
    if (raw.byteLength !== expected) throw new OnnxFormatError(`tensor ${name}: ${raw.byteLength} bytes of raw data for ${dims.join('×') || 'scalar'} ${dataType} (${expected} expected)`);
    return { name, dataType, dims, data: raw };
  }
  const data = typed ? fromTypedFields(dataType, floats, int32s, int64s, doubles) : new Uint8Array(0);
  if (data.byteLength !== expected) throw new OnnxFormatError(`tensor ${name}: ${data.byteLength / Math.max(1, elementSize(dataType))} values for ${dims.join('×') || 'scalar'} (${elementCount(dims)} expected)`);
  return { name, dataType, dims, data };
}

/** Values stored in TensorProto's typed fields (float_data, int32_data, …) as raw little-endian bytes. */
function fromTypedFields(t: OnnxDataType, floats: number[], int32s: number[], int64s: number[], doubles: number[]): TensorData {
  switch (t) {
    case 'float32':
      return Float32Array.from(floats);
    case 'float64':
      return Float64Array.from(doubles);
    case 'int64':
      return BigInt64Array.from(int64s, (v) => BigInt(v));
    case 'uint64':
      return BigUint64Array.from(int64s, (v) => BigInt.asUintN(64, BigInt(v)));
    case 'uint32':
      return Uint32Array.from(int64s);
    case 'int32':
      return Int32Array.from(int32s);
    case 'int16':
      return Int16Array.from(int32s);
    case 'uint16':
    case 'bfloat16':
      return Uint16Array.from(int32s);
    case 'float16':
      // int32_data carries the half bits; float_data would be unusual but is converted.
      return int32s.length ? Uint16Array.from(int32s) : Uint16Array.from(floats, floatToHalf);
    case 'int8':
      return Int8Array.from(int32s);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(int32s);
    default:
      return new Uint8Array(0);
  }
}

function decodeValueInfo(buf: Uint8Array): ValueInfo {
  let name = '';
  let typeBytes: Uint8Array | undefined;
  for (const f of ProtoReader.fields(buf)) {
    if (f.field === 1) name = utf8(f.bytes);
    else if (f.field === 2) typeBytes = f.bytes;
  }
  let tensorType: Uint8Array | undefined;
  if (typeBytes) {
    for (const f of ProtoReader.fields(typeBytes)) if (f.field === 1) tensorType = f.bytes;
  }
  if (!tensorType) return { name, dataType: 'other', proto: buf };
  let elemType = 0;
  let shape: (number | string)[] | undefined;
  for (const f of ProtoReader.fields(tensorType)) {
    if (f.field === 1) elemType = f.int;
    else if (f.field === 2) {
      shape = [];
      for (const d of ProtoReader.fields(f.bytes)) {
        if (d.field !== 1) continue;
        let dim: number | string = '';
        for (const x of ProtoReader.fields(d.bytes)) {
          if (x.field === 1) dim = x.int;
          else if (x.field === 2) dim = utf8(x.bytes);
        }
        shape.push(dim);
      }
    }
  }
  const dataType = dataTypeFromEnum(elemType);
  if (dataType === 'other') return { name, dataType, proto: buf };
  return shape ? { name, dataType, shape } : { name, dataType };
}

function decodeAttribute(buf: Uint8Array, opts: DecodeOptions): Attribute {
  let name = '';
  let type = 0;
  let f32 = 0;
  let i64 = 0;
  let s: Uint8Array | undefined;
  let t: Uint8Array | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  let other = false;
  for (const f of ProtoReader.fields(buf)) {
    switch (f.field) {
      case 1:
        name = utf8(f.bytes);
        break;
      case 2:
        f32 = fixedFloat(f);
        break;
      case 3:
        i64 = f.int;
        break;
      case 4:
        s = f.bytes;
        break;
      case 5:
        t = f.bytes;
        break;
      case 7:
        pushFloats(floats, f);
        break;
      case 8:
        pushInts(ints, f);
        break;
      case 20:
        type = f.int;
        break;
      case 13: // doc_string
        break;
      default:
        other = true; // graphs, strings, type protos, ref_attr_name, sparse tensors
    }
  }
  if (!other) {
    switch (type) {
      case 1:
        return { name, type: 'float', value: f32 };
      case 2:
        return { name, type: 'int', value: i64 };
      case 3:
        return { name, type: 'string', value: utf8(s ?? new Uint8Array(0)) };
      case 4:
        if (t) {
          const value = decodeTensor(t, opts);
          if (!value.proto && !value.external) return { name, type: 'tensor', value };
        }
        break;
      case 6:
        return { name, type: 'floats', value: floats };
      case 7:
        return { name, type: 'ints', value: ints };
      default:
        break;
    }
  }
  return { name, type: 'raw', value: buf };
}

function decodeNode(buf: Uint8Array, opts: DecodeOptions): NodeSpec {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attributes: Attribute[] = [];
  let name: string | undefined;
  let opType = '';
  let domain: string | undefined;
  for (const f of ProtoReader.fields(buf)) {
    switch (f.field) {
      case 1:
        inputs.push(utf8(f.bytes));
        break;
      case 2:
        outputs.push(utf8(f.bytes));
        break;
      case 3:
        name = utf8(f.bytes);
        break;
      case 4:
        opType = utf8(f.bytes);
        break;
      case 5:
        attributes.push(decodeAttribute(f.bytes, opts));
        break;
      case 7:
        domain = utf8(f.bytes);
        break;
      default:
        break;
    }
  }
  return { opType, inputs, outputs, attributes, ...(name ? { name } : {}), ...(domain ? { domain } : {}) };
}

function decodeGraph(buf: Uint8Array, opts: DecodeOptions): GraphSpec {
  const nodes: NodeSpec[] = [];
  const initializers: TensorInit[] = [];
  const inputs: ValueInfo[] = [];
  const outputs: ValueInfo[] = [];
  const valueInfo: ValueInfo[] = [];
  const extra: OpaqueField[] = [];
  let name = '';
  for (const f of ProtoReader.fields(buf)) {
    switch (f.field) {
      case 1:
        nodes.push(decodeNode(f.bytes, opts));
        break;
      case 2:
        name = utf8(f.bytes);
        break;
      case 5:
        initializers.push(decodeTensor(f.bytes, opts));
        break;
      case 11:
        inputs.push(decodeValueInfo(f.bytes));
        break;
      case 12:
        outputs.push(decodeValueInfo(f.bytes));
        break;
      case 13:
        valueInfo.push(decodeValueInfo(f.bytes));
        break;
      case 10: // doc_string
        break;
      default:
        if (f.wire === WIRE_LEN) extra.push({ field: f.field, bytes: f.bytes });
    }
  }
  return { name, nodes, initializers, inputs, outputs, valueInfo, extra };
}

export function decodeModel(buf: Uint8Array, opts: DecodeOptions = {}): ModelSpec {
  let graph: GraphSpec | undefined;
  const opsets: { domain: string; version: number }[] = [];
  const metadata: Record<string, string> = {};
  const extra: OpaqueField[] = [];
  const model: Omit<ModelSpec, 'graph'> & { graph?: GraphSpec } = {};
  try {
    for (const f of ProtoReader.fields(buf)) {
      switch (f.field) {
        case 1:
          model.irVersion = f.int;
          break;
        case 2:
          model.producerName = utf8(f.bytes);
          break;
        case 3:
          model.producerVersion = utf8(f.bytes);
          break;
        case 4:
          model.domain = utf8(f.bytes);
          break;
        case 5:
          model.modelVersion = f.int;
          break;
        case 6:
          model.docString = utf8(f.bytes);
          break;
        case 7:
          graph = decodeGraph(f.bytes, opts);
          break;
        case 8: {
          let domain = '';
          let version = 0;
          for (const o of ProtoReader.fields(f.bytes)) {
            if (o.field === 1) domain = utf8(o.bytes);
            else if (o.field === 2) version = o.int;
          }
          opsets.push({ domain, version });
          break;
        }
        case 14: {
          let key = '';
          let value = '';
          for (const o of ProtoReader.fields(f.bytes)) {
            if (o.field === 1) key = utf8(o.bytes);
            else if (o.field === 2) value = utf8(o.bytes);
          }
          metadata[key] = value;
          break;
        }
        default:
          if (f.wire === WIRE_LEN) extra.push({ field: f.field, bytes: f.bytes });
      }
    }
  } catch (err) {
    if (err instanceof ProtoDecodeError || err instanceof RangeError) throw new OnnxFormatError(`not a valid ONNX protobuf (${err.message})`);
    throw err;
  }
  if (!graph || !model.irVersion || graph.nodes.length === 0) throw new OnnxFormatError('not an ONNX model (no ir_version or no graph)');
  if (graph.nodes.some((n) => !n.opType)) throw new OnnxFormatError('not an ONNX model (a node without an op type)');
  return { ...model, opsets, metadata, extra, graph };
}

export interface ReadModel {
  model: ModelSpec;
  /** Bytes on disk: the model file plus its external data files. */
  bytes: number;
}

/** Reads and decodes a model file; external data stays on disk, referenced by path. */
export async function readModelFile(path: string): Promise<ReadModel> {
  const buf = await readFile(path);
  const model = decodeModel(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), { baseDir: dirname(resolve(path)) });
  let bytes = buf.byteLength;
  const files = new Set(model.graph.initializers.flatMap((t) => (t.external ? [t.external.path] : [])));
  for (const f of files) bytes += (await stat(f)).size;
  return { model, bytes };
}
