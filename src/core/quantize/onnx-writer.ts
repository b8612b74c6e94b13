/**
 * Serialises an ONNX model (ModelProto) from a plain description. Field numbers follow onnx/onnx.proto3.
 * Used to generate the fixture and embedded models, and by the quantizer to write rewritten graphs.
 */
import { ProtoWriter } from './proto-writer.js';

export type OnnxDataType = 'float32' | 'uint8' | 'int8' | 'int32' | 'int64' | 'bool' | 'float16';

/** TensorProto.DataType enum values. */
export const ONNX_DATA_TYPE: Readonly<Record<OnnxDataType, number>> = Object.freeze({
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
});

export type TensorData = Float32Array | Uint8Array | Int8Array | Int32Array | BigInt64Array | Uint16Array;

export interface TensorInit {
  name: string;
  dataType: OnnxDataType;
  dims: readonly number[];
  /** Raw values in the element type's little-endian layout (Uint16Array carries float16 bits). */
  data: TensorData;
}

export interface ValueInfo {
  name: string;
  dataType: OnnxDataType;
  /** A number is a fixed dimension, a string a symbolic one (e.g. 'batch_size'). */
  shape: readonly (number | string)[];
}

export type Attribute =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'floats'; value: readonly number[] }
  | { name: string; type: 'ints'; value: readonly number[] }
  | { name: string; type: 'tensor'; value: TensorInit };

export interface NodeSpec {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attributes?: readonly Attribute[];
}

export interface GraphSpec {
  name: string;
  nodes: readonly NodeSpec[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  initializers: readonly TensorInit[];
}

export interface ModelSpec {
  irVersion?: number;
  opsets?: readonly { domain: string; version: number }[];
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  metadata?: Readonly<Record<string, string>>;
  graph: GraphSpec;
}

// AttributeProto.AttributeType
const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

function writeTensor(w: ProtoWriter, t: TensorInit): void {
  w.packedInts(1, t.dims); // dims
  w.int(2, ONNX_DATA_TYPE[t.dataType]); // data_type
  w.string(8, t.name); // name
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  w.bytes(9, raw); // raw_data (little-endian on every platform Node runs on)
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) => {
    type.message(1, (tensor) => {
      tensor.int(1, ONNX_DATA_TYPE[v.dataType]); // elem_type
      tensor.message(2, (shape) => {
        for (const d of v.shape) {
          shape.message(1, (dim) => {
            if (typeof d === 'number') dim.int(1, d);
            else dim.string(2, d);
          });
        }
      });
    });
  });
}

function writeAttribute(w: ProtoWriter, a: Attribute): void {
  w.string(1, a.name);
  switch (a.type) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, (t) => writeTensor(t, a.value));
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      break;
  }
  w.int(20, ATTR_TYPE[a.type]);
}

function writeNode(w: ProtoWriter, n: NodeSpec): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, (m) => writeAttribute(m, a));
  if (n.domain) w.string(7, n.domain);
}

export function encodeModel(model: ModelSpec): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, model.irVersion ?? 8); // ir_version
  w.string(2, model.producerName ?? 'aivmm');
  if (model.producerVersion) w.string(3, model.producerVersion);
  if (model.docString) w.string(6, model.docString);
  w.message(7, (g) => {
    for (const n of model.graph.nodes) g.message(1, (m) => writeNode(m, n));
    g.string(2, model.graph.name);
    for (const t of model.graph.initializers) g.message(5, (m) => writeTensor(m, t));
    for (const i of model.graph.inputs) g.message(11, (m) => writeValueInfo(m, i));
    for (const o of model.graph.outputs) g.message(12, (m) => writeValueInfo(m, o));
  });
  for (const op of model.opsets ?? [{ domain: '', version: 17 }]) {
    w.message(8, (m) => {
      if (op.domain) m.string(1, op.domain);
      m.int(2, op.version);
    });
  }
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    w.message(14, (m) => m.string(1, key).string(2, value)); // metadata_props
  }
  return w.finish();
}
