/** Graph queries shared by the quantizers: producers, consumers, initializers, element types, opsets. */
import type { Attribute, GraphSpec, ModelSpec, NodeSpec, OnnxDataType, TensorInit } from './model.js';
import { dataTypeFromEnum } from './model.js';

export interface GraphIndex {
  initializers: Map<string, TensorInit>;
  /** Tensor name → index of the node that produces it. */
  producer: Map<string, number>;
  /** Tensor name → indices of the nodes that read it. */
  consumers: Map<string, number[]>;
  graphOutputs: Set<string>;
  graphInputs: Set<string>;
}

export function indexGraph(g: GraphSpec): GraphIndex {
  const initializers = new Map(g.initializers.map((t) => [t.name, t]));
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  g.nodes.forEach((n, i) => {
    for (const o of n.outputs) if (o) producer.set(o, i);
    for (const x of n.inputs) {
      if (!x) continue;
      const list = consumers.get(x);
      if (list) list.push(i);
      else consumers.set(x, [i]);
    }
  });
  return {
    initializers,
    producer,
    consumers,
    graphOutputs: new Set(g.outputs.map((o) => o.name)),
    graphInputs: new Set(g.inputs.map((i) => i.name).filter((n) => !initializers.has(n))),
  };
}

export function attr(n: NodeSpec, name: string): Attribute | undefined {
  return n.attributes?.find((a) => a.name === name);
}

export function intAttr(n: NodeSpec, name: string, fallback: number): number {
  const a = attr(n, name);
  return a && a.type === 'int' ? a.value : fallback;
}

export function floatAttr(n: NodeSpec, name: string, fallback: number): number {
  const a = attr(n, name);
  return a && a.type === 'float' ? a.value : fallback;
}

/** The default-domain opset version (ai.onnx). */
export function onnxOpset(m: ModelSpec): number {
  return m.opsets?.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
}

/** Ops whose outputs have a fixed element type, whatever their inputs are. */
const FIXED_OUTPUT: Readonly<Record<string, OnnxDataType>> = {
  Shape: 'int64',
  Size: 'int64',
  ArgMax: 'int64',
  ArgMin: 'int64',
  NonZero: 'int64',
  NonMaxSuppression: 'int64',
  Equal: 'bool',
  Greater: 'bool',
  GreaterOrEqual: 'bool',
  Less: 'bool',
  LessOrEqual: 'bool',
  And: 'bool',
  Or: 'bool',
  Xor: 'bool',
  Not: 'bool',
  IsNaN: 'bool',
  IsInf: 'bool',
  DynamicQuantizeLinear: 'uint8',
  MatMulInteger: 'int32',
  ConvInteger: 'int32',
  DequantizeLinear: 'float32',
};

/**
 * Element types of every tensor, propagated through the graph in node order (ONNX requires nodes in
 * topological order) from inputs, initializers, value_info and per-op rules. Unknown ops take the
 * type of their first input, which holds for the element-wise and data-movement ops that dominate.
 */
export function inferTypes(m: ModelSpec): Map<string, OnnxDataType> {
  const g = m.graph;
  const types = new Map<string, OnnxDataType>();
  for (const v of [...g.inputs, ...(g.valueInfo ?? []), ...g.outputs]) if (v.dataType !== 'other') types.set(v.name, v.dataType);
  for (const t of g.initializers) types.set(t.name, t.dataType);
  for (const n of g.nodes) {
    const first = n.inputs[0] ? types.get(n.inputs[0]) : undefined;
    n.outputs.forEach((o, k) => {
      if (!o || types.has(o)) return;
      const t = outputType(n, k, first, types);
      if (t) types.set(o, t);
    });
  }
  return types;
}

function outputType(n: NodeSpec, k: number, first: OnnxDataType | undefined, types: Map<string, OnnxDataType>): OnnxDataType | undefined {
  const fixed = FIXED_OUTPUT[n.opType];
  if (fixed) return fixed;
  switch (n.opType) {
    case 'Cast':
    case 'RandomNormal':
    case 'RandomUniform':
    case 'RandomNormalLike':
    case 'RandomUniformLike':
    case 'EyeLike': {
      const a = attr(n, n.opType === 'Cast' ? 'to' : 'dtype');
      return a && a.type === 'int' ? dataTypeFromEnum(a.value) : n.opType === 'Cast' ? undefined : first ?? 'float32';
    }
    case 'CastLike':
      return n.inputs[1] ? types.get(n.inputs[1]) : undefined;
    case 'Constant': {
      const a = n.attributes?.[0];
      if (!a) return undefined;
      if (a.type === 'tensor') return a.value.dataType;
      if (a.name === 'value_float' || a.name === 'value_floats') return 'float32';
      if (a.name === 'value_int' || a.name === 'value_ints') return 'int64';
      return undefined;
    }
    case 'ConstantOfShape': {
      const a = attr(n, 'value');
      return a && a.type === 'tensor' ? a.value.dataType : 'float32';
    }
    case 'QuantizeLinear':
      return n.inputs[2] ? types.get(n.inputs[2]) ?? 'uint8' : 'uint8';
    case 'Where':
      return n.inputs[1] ? types.get(n.inputs[1]) : undefined;
    case 'TopK':
    case 'MaxPool':
      return k === 0 ? first : 'int64';
    case 'Unique':
      return k === 0 ? first : 'int64';
    case 'Range':
      return first;
    case 'If':
    case 'Loop':
    case 'Scan':
      return undefined; // typed by their subgraphs
    case 'OneHot':
      return n.inputs[2] ? types.get(n.inputs[2]) : undefined;
    default:
      return first;
  }
}

/** A generator of tensor/node names not yet taken: `base`, else `base_1`, `base_2`, … */
export function nameAllocator(taken: Iterable<string>): (base: string) => string {
  const used = new Set(taken);
  return (base) => {
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };
}

/**
 * Constant nodes as initializers. Exporters (torch.onnx among them) write Clip/ReLU6 bounds, Reshape
 * shapes and scalars as `Constant` nodes; as initializers they are what the quantizer reads when it
 * decides whether a Clip can fold into its producer's range. Constants that are graph outputs, or carry
 * values aivmm does not lay out (sparse, strings), stay nodes.
 */
export function hoistConstants(m: ModelSpec): ModelSpec {
  const g = m.graph;
  const outputs = new Set(g.outputs.map((o) => o.name));
  const taken = new Set(g.initializers.map((t) => t.name));
  const hoisted: TensorInit[] = [];
  const nodes = g.nodes.filter((n) => {
    if (n.opType !== 'Constant' || (n.domain && n.domain !== 'ai.onnx') || n.outputs.length !== 1) return true;
    const name = n.outputs[0]!;
    if (!name || outputs.has(name) || taken.has(name) || n.attributes?.length !== 1) return true;
    const a = n.attributes[0]!;
    let t: TensorInit | undefined;
    if (a.type === 'tensor' && a.name === 'value' && !a.value.proto && !a.value.external) t = { ...a.value, name };
    else if (a.type === 'float' && a.name === 'value_float') t = { name, dataType: 'float32', dims: [], data: Float32Array.of(a.value) };
    else if (a.type === 'floats' && a.name === 'value_floats') t = { name, dataType: 'float32', dims: [a.value.length], data: Float32Array.from(a.value) };
    else if (a.type === 'int' && a.name === 'value_int') t = { name, dataType: 'int64', dims: [], data: BigInt64Array.of(BigInt(a.value)) };
    else if (a.type === 'ints' && a.name === 'value_ints') t = { name, dataType: 'int64', dims: [a.value.length], data: BigInt64Array.from(a.value, (v) => BigInt(v)) };
    if (!t) return true;
    hoisted.push(t);
    taken.add(name);
    return false;
  });
  if (hoisted.length === 0) return m;
  return { ...m, graph: { ...g, nodes, initializers: [...g.initializers, ...hoisted] } };
}
