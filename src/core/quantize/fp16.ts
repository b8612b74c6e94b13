/**
 * FP16 conversion: float32 weights and tensors become float16; ops that must stay float32 (the
 * block list of onnxconverter-common's float16 converter: NMS, TopK, Resize, Range, ML ops, …)
 * run in float32 between Casts; with keepIoTypes the model's inputs and outputs stay float32.
 * Values beyond ±65504 saturate (counted), as onnxconverter-common clamps them.
 */
import { indexGraph, inferTypes, nameAllocator } from '../onnx/graph.js';
import { ONNX_DATA_TYPE, tensorFloats } from '../onnx/model.js';
import { floatToHalf } from '../half.js';
import type { Attribute, ModelSpec, NodeSpec, TensorInit, ValueInfo } from '../onnx/model.js';
import { keepInMemory } from './spill.js';
import type { TensorStore } from './spill.js';

/** onnxconverter-common's DEFAULT_OP_BLOCK_LIST (float16.py): ops with no or unsafe float16 kernels. */
export const FP16_BLOCKED_OPS: readonly string[] = [
  'ArrayFeatureExtractor', 'Binarizer', 'CastMap', 'CategoryMapper', 'DictVectorizer', 'FeatureVectorizer', 'Imputer',
  'LabelEncoder', 'LinearClassifier', 'LinearRegressor', 'Normalizer', 'OneHotEncoder', 'RandomUniformLike',
  'SVMClassifier', 'SVMRegressor', 'Scaler', 'TreeEnsembleClassifier', 'TreeEnsembleRegressor', 'ZipMap',
  'NonMaxSuppression', 'TopK', 'RoiAlign', 'Resize', 'Range', 'CumSum', 'Min', 'Max', 'Upsample',
];

export interface Fp16Options {
  keepIoTypes: boolean;
  /** Op types or node names kept in float32 (added to the block list). */
  exclude: ReadonlySet<string>;
  /** Where converted weights go (a spill file for models with external data). */
  store?: TensorStore;
}

export interface Fp16Result {
  model: ModelSpec;
  /** Nodes that now compute in float16. */
  convertedNodes: { name: string; opType: string }[];
  /** Nodes kept in float32 between Casts. */
  keptNodes: { name: string; opType: string; reason: string }[];
  /** Weight values beyond the float16 range, saturated to ±65504. */
  saturated: number;
  /** Non-zero weight values that underflowed to zero. */
  flushed: number;
}

const FLOAT = ONNX_DATA_TYPE.float32;
const HALF = ONNX_DATA_TYPE.float16;

function toHalfTensor(t: TensorInit, counts: { saturated: number; flushed: number }): TensorInit {
  const v = tensorFloats(t);
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    const h = floatToHalf(x);
    if (Math.abs(x) > 65504 && Number.isFinite(x)) counts.saturated++;
    else if (x !== 0 && (h & 0x7fff) === 0) counts.flushed++;
    out[i] = h;
  }
  return { name: t.name, dataType: 'float16', dims: t.dims, data: out };
}

export function convertFp16(m: ModelSpec, opts: Fp16Options): Fp16Result {
  const g = m.graph;
  const idx = indexGraph(g);
  const types = inferTypes(m);
  const blocked = new Set([...FP16_BLOCKED_OPS, ...opts.exclude]);
  const isBlocked = (n: NodeSpec, i: number): boolean => blocked.has(n.opType) || blocked.has(n.name || `${n.opType}_${i}`);
  const fresh = nameAllocator([...g.initializers.map((t) => t.name), ...g.inputs.map((v) => v.name), ...g.nodes.flatMap((n) => [...n.inputs, ...n.outputs])]);
  const isFloat = (t: string): boolean => types.get(t) === 'float32';
  const counts = { saturated: 0, flushed: 0 };

  // Initializers read only by blocked nodes stay float32; all other float32 initializers become float16.
  const keepFloatInit = new Set<string>();
  for (const t of g.initializers) {
    if (t.dataType !== 'float32') continue;
    const readers = idx.consumers.get(t.name) ?? [];
    if (readers.length > 0 && readers.every((i) => isBlocked(g.nodes[i]!, i))) keepFloatInit.add(t.name);
  }
  const store = opts.store ?? keepInMemory;
  const initializers = g.initializers.map((t) => (t.dataType === 'float32' && !keepFloatInit.has(t.name) ? store(toHalfTensor(t, counts)) : t));

  const nodes: NodeSpec[] = [];
  const cast = (input: string, output: string, to: number): NodeSpec => ({
    opType: 'Cast',
    inputs: [input],
    outputs: [output],
    name: fresh(`${output}_Cast`),
    attributes: [{ name: 'to', type: 'int', value: to }],
  });

  // Graph inputs: with keepIoTypes, cast float32 inputs to float16 once, at the top.
  /** Tensor → the float16 tensor that stands for it (cast graph inputs, outputs kept float32). */
  const rename = new Map<string, string>();
  const inputs: ValueInfo[] = g.inputs.map((v) => {
    if (v.dataType !== 'float32' || idx.initializers.has(v.name)) return v;
    if (opts.keepIoTypes) {
      const half = fresh(`${v.name}_fp16`);
      rename.set(v.name, half);
      nodes.push(cast(v.name, half, HALF));
      return v;
    }
    return { ...v, dataType: 'float16' };
  });
  const outputNames = new Set(g.outputs.map((o) => o.name));

  const convertedNodes: Fp16Result['convertedNodes'] = [];
  const keptNodes: Fp16Result['keptNodes'] = [];
  g.nodes.forEach((n, i) => {
    const name = n.name || `${n.opType}_${i}`;
    let ins = n.inputs.map((x) => rename.get(x) ?? x);
    if (isBlocked(n, i)) {
      // Float inputs arrive as float16: cast each back to float32 for this node.
      ins = ins.map((x, k) => {
        const original = n.inputs[k] ?? '';
        if (!x || !isFloat(original) || keepFloatInit.has(original)) return x;
        if (outputNames.has(original) && !opts.keepIoTypes) return x;
        const f = fresh(`${original}_fp32`);
        nodes.push(cast(x, f, FLOAT));
        return f;
      });
      const outs = n.outputs.map((o) => (o && isFloat(o) ? fresh(`${o}_fp32`) : o));
      nodes.push({ ...n, inputs: ins, outputs: outs });
      n.outputs.forEach((o, k) => {
        if (!o || !isFloat(o)) return;
        if (outputNames.has(o) && opts.keepIoTypes) {
          nodes.push({ opType: 'Identity', inputs: [outs[k]!], outputs: [o], name: fresh(`${o}_Identity`) });
        } else nodes.push(cast(outs[k]!, o, HALF));
      });
      keptNodes.push({ name, opType: n.opType, reason: blocked.has(n.opType) ? 'no float16 kernel (block list)' : 'excluded' });
      return;
    }
    const attributes = n.attributes?.map((a) => convertAttribute(n, a, counts));
    // Outputs that are graph outputs kept float32: the node writes float16, a Cast restores float32.
    const outs = n.outputs.map((o) => {
      if (o && opts.keepIoTypes && outputNames.has(o) && isFloat(o)) {
        const half = fresh(`${o}_fp16`);
        rename.set(o, half);
        return half;
      }
      return o;
    });
    nodes.push({ ...n, inputs: ins, outputs: outs, ...(attributes ? { attributes } : {}) });
    n.outputs.forEach((o, k) => {
      if (o && outs[k] !== o) nodes.push(cast(outs[k]!, o, FLOAT));
    });
    if (n.outputs.some((o) => o && isFloat(o)) || n.inputs.some((x) => x && isFloat(x))) convertedNodes.push({ name, opType: n.opType });
  });

  const outputs = g.outputs.map((v) => (v.dataType === 'float32' && !opts.keepIoTypes ? { ...v, dataType: 'float16' as const } : v));
  const valueInfo = (g.valueInfo ?? []).map((v) => (v.dataType === 'float32' ? { ...v, dataType: 'float16' as const } : v));
  return {
    model: { ...m, graph: { ...g, nodes, initializers, inputs, outputs, valueInfo } },
    convertedNodes,
    keptNodes,
    ...counts,
  };
}

/** Float32 payloads inside attributes (Cast targets, Constant values, dtypes) follow the graph to float16. */
function convertAttribute(n: NodeSpec, a: Attribute, counts: { saturated: number; flushed: number }): Attribute {
  if (a.type === 'int' && a.value === FLOAT && ((n.opType === 'Cast' && a.name === 'to') || a.name === 'dtype')) return { ...a, value: HALF };
  if (a.type === 'tensor' && a.value.dataType === 'float32' && (n.opType === 'Constant' || n.opType === 'ConstantOfShape')) {
    return { ...a, value: toHalfTensor(a.value, counts) };
  }
  if (n.opType === 'Constant' && (a.name === 'value_float' || a.name === 'value_floats')) {
    const values = a.type === 'float' ? [a.value] : a.type === 'floats' ? [...a.value] : [];
    const data = Uint16Array.from(values, floatToHalf);
    return { name: 'value', type: 'tensor', value: { name: '', dataType: 'float16', dims: a.type === 'float' ? [] : [values.length], data } };
  }
  return a;
}
