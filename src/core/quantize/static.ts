/**
 * Static INT8 quantization in QDQ form, laid out the way onnxruntime's graph optimizer fuses it into
 * integer kernels (DQ → Conv → Q becomes QLinearConv, and so on):
 *  - weights: int8, symmetric ([-127, 127]), per output channel (or per tensor), each with a
 *    DequantizeLinear in front of its consumer;
 *  - biases of Conv/Gemm: int32 with scale = input scale × weight scale, zero point 0;
 *  - activations: uint8, asymmetric, a QuantizeLinear/DequantizeLinear pair after the producer, all
 *    consumers reading the dequantized value; ranges from calibration;
 *  - Relu/Clip after a quantized op are folded into its output's range (their output range starts at
 *    the clip point), as onnxruntime's quantizer does;
 *  - data-movement ops (Reshape, Transpose, MaxPool, …) keep their input's scale on their output;
 *  - graph outputs stay float (no Q/DQ) unless asked: onnxruntime still runs the producing Gemm/MatMul
 *    in int8 with a float result (QGemm, MatMulIntegerToFloat).
 *  - weight zero points (all 0) are written for Gemm/MatMul, whose QGemm fusion requires them, and left
 *    out for Conv (QLinearConv fuses without them): on MobileNetV2 that and short Q/DQ names take the
 *    file from 27.2% to 26.9% of FP32; bias zero points (int32) are left out, DequantizeLinear's default.
 */
import { UsageError } from '../errors.js';
import type { Range } from './calibrate.js';
import { floatAttr, hoistConstants, indexGraph, inferTypes, intAttr, onnxOpset, nameAllocator } from '../onnx/graph.js';
import { elementCount, tensorFloats } from '../onnx/model.js';
import type { Attribute, ModelSpec, NodeSpec, TensorInit } from '../onnx/model.js';
import { keepInMemory } from './spill.js';
import type { TensorStore } from './spill.js';

/** Op types quantized by default, and the input positions that carry data (the rest are shapes, axes…). */
const QUANTIZABLE: Readonly<Record<string, 'all' | readonly number[]>> = {
  Conv: [0, 1],
  MatMul: [0, 1],
  Gemm: [0, 1],
  Add: 'all',
  Mul: 'all',
  Concat: 'all',
  MaxPool: [0],
  AveragePool: [0],
  GlobalAveragePool: [0],
  Reshape: [0],
  Flatten: [0],
  Transpose: [0],
  Squeeze: [0],
  Unsqueeze: [0],
  Sigmoid: [0],
  LeakyRelu: [0],
  Resize: [0],
};

/** Ops whose output is a rearrangement of their input's values: the output keeps the input's scale. */
const SAME_SCALE = new Set(['Reshape', 'Flatten', 'Transpose', 'Squeeze', 'Unsqueeze', 'MaxPool', 'Resize']);
/** Ops onnxruntime fuses into integer kernels only when their output is quantized too. */
const INTEGER_OUTPUT = new Set(['Conv', 'MatMul', 'Gemm', 'Add', 'Mul']);
/** Activations folded into the range of a quantized producer's output. */
const REMOVABLE = new Set(['Relu', 'Clip']);

export const STATIC_OP_TYPES: readonly string[] = Object.keys(QUANTIZABLE);

export interface StaticOptions {
  perChannel: boolean;
  /**
   * Quantize graph outputs of Conv/MatMul/Gemm/Add too (as onnxruntime's quantizer does). Default: keep
   * them float — onnxruntime still fuses DQ → Gemm/MatMul into QGemm/MatMulIntegerToFloat with a float
   * result, so the last layer runs in int8 and the model's outputs skip one rounding to 8 bits.
   */
  quantizeOutputs?: boolean;
  /** Op types or node names to leave in float. */
  exclude: ReadonlySet<string>;
  /** Where int8 weights go (a spill file for models with external data). */
  store?: TensorStore;
}

export interface StaticPlan {
  /** Activation tensors whose ranges calibration must provide. */
  tensors: string[];
  /** Per-channel weights were asked for but the opset has no DequantizeLinear axis (< 13). */
  perChannelDowngraded: boolean;
}

export interface QuantizedBias {
  opType: 'Conv' | 'Gemm';
  /** The int32 initializer in the quantized model. */
  initializer: string;
  /** Its scale per element (input scale × weight scale). */
  scales: Float32Array;
  /** The op's data input (a tensor of the float model). */
  input: string;
  /** The float weight (float model) and its int8 copy (quantized model) with its scales. */
  weight: string;
  weightQuantized: string;
  weightScales: Float32Array;
  /** Conv: group; Gemm: whether B is transposed. */
  group: number;
  transB: boolean;
}

interface QParams {
  scale: number;
  zeroPoint: number;
}

export interface StaticResult {
  model: ModelSpec;
  /** Nodes now computed in int8 (name or op type + index). */
  quantizedNodes: { name: string; opType: string }[];
  /**
   * For per-layer error: each quantized node's output in the float model and the tensor holding what
   * the quantized model passes on in its place (the dequantized value, after the Q/DQ pair).
   */
  layers: { reference: string; candidate: string }[];
  /** Conv/Gemm int32 biases, with the op's raw output in both models (for bias correction). */
  biases: QuantizedBias[];
  /** Relu/Clip nodes folded into their producer's range. */
  foldedActivations: number;
  skipped: { name: string; opType: string; reason: string }[];
}

function nodeName(n: NodeSpec, i: number): string {
  return n.name || `${n.opType}_${i}`;
}

function isExcluded(n: NodeSpec, i: number, opts: StaticOptions): boolean {
  return opts.exclude.has(n.opType) || opts.exclude.has(nodeName(n, i));
}

function dataInputs(n: NodeSpec): number[] {
  const spec = QUANTIZABLE[n.opType];
  if (!spec) return [];
  return spec === 'all' ? n.inputs.map((_, k) => k) : spec.filter((k) => k < n.inputs.length);
}

export function checkOpset(m: ModelSpec): number {
  const opset = onnxOpset(m);
  if (opset < 10) throw new UsageError(`the model uses opset ${opset}; QDQ quantization needs opset 10 or later`, 'convert it first (python -m onnx.version_converter or re-export with a newer opset)');
  return opset;
}

/** Which activation tensors need ranges (inputs and outputs of every op that will be quantized). */
export function planStatic(source: ModelSpec, opts: StaticOptions): StaticPlan {
  const m = hoistConstants(source);
  const opset = checkOpset(m);
  const g = m.graph;
  const idx = indexGraph(g);
  const types = inferTypes(m);
  const tensors = new Set<string>();
  g.nodes.forEach((n, i) => {
    if (!QUANTIZABLE[n.opType] || isExcluded(n, i, opts)) return;
    for (const k of dataInputs(n)) {
      const x = n.inputs[k];
      if (x && !idx.initializers.has(x) && types.get(x) === 'float32') tensors.add(x);
    }
    const out = n.outputs[0];
    if (out && types.get(out) === 'float32') tensors.add(out);
    // A following Relu/Clip may be folded: its output range is the one that will be used.
    const consumers = out ? idx.consumers.get(out) ?? [] : [];
    if (consumers.length === 1) {
      const c = g.nodes[consumers[0]!]!;
      if (REMOVABLE.has(c.opType) && c.outputs[0]) tensors.add(c.outputs[0]);
    }
  });
  return { tensors: [...tensors], perChannelDowngraded: opts.perChannel && opset < 13 };
}

function scalarInit(name: string, value: number, dataType: 'float32' | 'uint8' | 'int8' | 'int32'): TensorInit {
  const data = dataType === 'float32' ? Float32Array.of(value) : dataType === 'uint8' ? Uint8Array.of(value) : dataType === 'int8' ? Int8Array.of(value) : Int32Array.of(value);
  return { name, dataType, dims: [], data };
}

/** uint8 asymmetric parameters for a range (which always includes 0, so 0 is exact). */
export function uint8Params(r: Range): QParams {
  const min = Math.min(0, r.min);
  const max = Math.max(0, r.max);
  if (max === min) return { scale: 1, zeroPoint: 0 };
  const scale = (max - min) / 255;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-min / scale)));
  return { scale, zeroPoint };
}

/** Number of channels and the stride pattern of `axis` in a tensor of shape `dims`. */
function axisLayout(dims: readonly number[], axis: number): { channels: number; inner: number } {
  const channels = dims[axis] ?? 1;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  return { channels, inner };
}

/** Symmetric int8 weights: per channel along `axis`, or one scale when axis is undefined. */
export function quantizeWeightInt8(values: Float32Array, dims: readonly number[], axis: number | undefined): { q: Int8Array; scales: Float32Array } {
  const { channels, inner } = axis === undefined ? { channels: 1, inner: values.length } : axisLayout(dims, axis);
  const absMax = new Float32Array(channels);
  const channelOf = (i: number): number => (axis === undefined ? 0 : Math.floor(i / inner) % channels);
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    const a = Math.abs(values[i]!);
    if (a > absMax[c]!) absMax[c] = a;
  }
  const scales = absMax.map((a) => (a === 0 ? 1 : a / 127));
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(values[i]! / scales[channelOf(i)]!);
    q[i] = v > 127 ? 127 : v < -127 ? -127 : v;
  }
  return { q, scales };
}

export function quantizeStatic(source: ModelSpec, ranges: ReadonlyMap<string, Range>, opts: StaticOptions): StaticResult {
  // Constant nodes (exporters write Clip bounds and shapes that way) become initializers first.
  const m = hoistConstants(source);
  const opset = checkOpset(m);
  const perChannel = opts.perChannel && opset >= 13;
  const types = inferTypes(m);
  const g0 = m.graph;
  const idx0 = indexGraph(g0);

  // 1. Fold Relu/Clip into quantized producers (rename the producer's output to the activation's).
  const nodes: NodeSpec[] = g0.nodes.map((n) => ({ ...n }));
  const drop = new Set<number>();
  let folded = 0;
  nodes.forEach((n, i) => {
    if (!REMOVABLE.has(n.opType) || !n.inputs[0] || !n.outputs[0]) return;
    const x = n.inputs[0];
    const p = idx0.producer.get(x);
    if (p === undefined) return;
    const producer = nodes[p]!;
    if (!['Conv', 'MatMul', 'Gemm', 'Add'].includes(producer.opType) || isExcluded(producer, p, opts)) return;
    if ((idx0.consumers.get(x) ?? []).length !== 1 || idx0.graphOutputs.has(x)) return;
    const y = n.outputs[0];
    const range = ranges.get(y);
    if (!range || idx0.graphOutputs.has(y)) return;
    if (n.opType === 'Clip') {
      const lo = clipBound(n, 1, 'min', idx0.initializers, -Infinity);
      const hi = clipBound(n, 2, 'max', idx0.initializers, Infinity);
      if (lo === undefined || hi === undefined || lo > 0 || hi < 0) return;
    }
    nodes[p] = { ...producer, outputs: [y, ...producer.outputs.slice(1)] };
    drop.add(i);
    folded++;
  });
  const kept = nodes.filter((_, i) => !drop.has(i));
  const g: ModelSpec['graph'] = { ...g0, nodes: kept };
  const idx = indexGraph(g);

  // 2. Parameters of every activation tensor (data-movement outputs share their input's).
  const params = new Map<string, QParams>();
  const sameAs = new Map<string, string>();
  kept.forEach((n, i) => {
    if (SAME_SCALE.has(n.opType) && !isExcluded(n, i, opts) && n.inputs[0] && n.outputs[0]) sameAs.set(n.outputs[0], n.inputs[0]);
  });
  const paramsFor = (t: string, depth = 0): QParams | undefined => {
    const cached = params.get(t);
    if (cached) return cached;
    const source = sameAs.get(t);
    let p: QParams | undefined;
    if (source && depth < 1000 && !idx.initializers.has(source)) p = paramsFor(source, depth + 1);
    if (!p) {
      const r = ranges.get(t);
      if (r) p = uint8Params(r);
    }
    if (p) params.set(t, p);
    return p;
  };

  // 3. Decide which nodes are quantized.
  const quantized = new Set<number>();
  const skipped: StaticResult['skipped'] = [];
  kept.forEach((n, i) => {
    if (!QUANTIZABLE[n.opType] || isExcluded(n, i, opts)) return;
    if (n.opType === 'MaxPool' && n.outputs.length > 1 && n.outputs[1]) return skip(n, i, 'MaxPool with an indices output');
    if (n.opType === 'Gemm' && (intAttr(n, 'transA', 0) !== 0 || floatAttr(n, 'alpha', 1) !== 1)) return skip(n, i, 'Gemm with transA or alpha ≠ 1');
    for (const k of dataInputs(n)) {
      const x = n.inputs[k];
      if (!x) continue;
      if (types.get(x) !== 'float32') return skip(n, i, `input ${x} is not float32`);
      const init = idx.initializers.get(x);
      if (init) {
        if (init.dataType !== 'float32') return skip(n, i, `initializer ${x} is ${init.dataType}`);
        continue;
      }
      if (!paramsFor(x)) return skip(n, i, `no calibrated range for ${x}`);
    }
    const out = n.outputs[0];
    if (out && types.get(out) !== 'float32') return skip(n, i, `output ${out} is not float32`);
    quantized.add(i);
  });
  function skip(n: NodeSpec, i: number, reason: string): void {
    skipped.push({ name: nodeName(n, i), opType: n.opType, reason });
  }

  // 4. Which activations get a Q/DQ pair: inputs and outputs of quantized nodes (not graph outputs).
  const qdq = new Set<string>();
  const outputQdq = new Set<string>();
  for (const i of quantized) {
    const n = kept[i]!;
    for (const k of dataInputs(n)) {
      const x = n.inputs[k];
      if (x && !idx.initializers.has(x)) qdq.add(x);
    }
    const out = n.outputs[0];
    if (!out || !paramsFor(out)) continue;
    if (!idx.graphOutputs.has(out)) qdq.add(out);
    else if (opts.quantizeOutputs && INTEGER_OUTPUT.has(n.opType)) outputQdq.add(out);
  }

  // 5. Rewrite.
  const fresh = nameAllocator([...g.initializers.map((t) => t.name), ...g.inputs.map((t) => t.name), ...kept.flatMap((n) => [...n.inputs, ...n.outputs])]);
  const newInits: TensorInit[] = [];
  const outNodes: NodeSpec[] = [];
  const dqName = new Map<string, string>();
  const qdqAxis = (axis: number | undefined): Attribute[] => (axis === undefined ? [] : [{ name: 'axis', type: 'int', value: axis }]);

  const emitActivationQdq = (t: string, source = t, dqOutput?: string): void => {
    const p = paramsFor(t)!;
    const scale = fresh(`${t}_scale`);
    const zp = fresh(`${t}_zp`);
    const q = fresh(`${t}_q`);
    const dq = dqOutput ?? fresh(`${t}_dq`);
    newInits.push(scalarInit(scale, p.scale, 'float32'), scalarInit(zp, p.zeroPoint, 'uint8'));
    outNodes.push({ opType: 'QuantizeLinear', inputs: [source, scale, zp], outputs: [q], name: fresh(`${t}_Q`) });
    outNodes.push({ opType: 'DequantizeLinear', inputs: [q, scale, zp], outputs: [dq], name: fresh(`${t}_DQ`) });
    dqName.set(t, dq);
  };

  /** A quantized copy of an initializer and the DequantizeLinear that reads it; cached per (name, axis). */
  const weightCache = new Map<string, { dq: string; scales: Float32Array; q?: string }>();
  const emitWeight = (w: TensorInit, axis: number | undefined, withZeroPoint: boolean): { dq: string; scales: Float32Array; q: string } => {
    const key = `${w.name}@${axis ?? 'tensor'}${withZeroPoint ? '' : '@nozp'}`;
    const hit = weightCache.get(key);
    if (hit?.q) return { dq: hit.dq, scales: hit.scales, q: hit.q };
    const { q, scales } = quantizeWeightInt8(tensorFloats(w), w.dims, axis);
    const qName = fresh(`${w.name}_q`);
    const sName = fresh(`${w.name}_scale`);
    const dq = fresh(`${w.name}_dq`);
    const perAxis = axis !== undefined;
    newInits.push((opts.store ?? keepInMemory)({ name: qName, dataType: 'int8', dims: w.dims, data: q }));
    newInits.push({ name: sName, dataType: 'float32', dims: perAxis ? [scales.length] : [], data: perAxis ? scales : Float32Array.of(scales[0]!) });
    const inputs = [qName, sName];
    if (withZeroPoint) {
      const zName = fresh(`${w.name}_zp`);
      newInits.push({ name: zName, dataType: 'int8', dims: perAxis ? [scales.length] : [], data: new Int8Array(perAxis ? scales.length : 1) });
      inputs.push(zName);
    }
    outNodes.push({ opType: 'DequantizeLinear', inputs, outputs: [dq], name: fresh(`${w.name}_DQ`), attributes: qdqAxis(axis) });
    const r = { dq, scales, q: qName };
    weightCache.set(key, r);
    return r;
  };

  const biases: QuantizedBias[] = [];
  let lastBias: { initializer: string; scales: Float32Array } | undefined;
  const emitBias = (b: TensorInit, inputScale: number, weightScales: Float32Array, perAxis: boolean): string => {
    const values = tensorFloats(b);
    const n = elementCount(b.dims);
    const scales = new Float32Array(perAxis ? n : 1);
    for (let c = 0; c < scales.length; c++) scales[c] = inputScale * (weightScales[perAxis ? c : 0] ?? 1);
    const q = new Int32Array(n);
    for (let c = 0; c < n; c++) {
      const v = Math.round(values[c]! / scales[perAxis ? c : 0]!);
      q[c] = Math.max(-2147483647, Math.min(2147483647, v));
    }
    const qName = fresh(`${b.name}_q`);
    const sName = fresh(`${b.name}_scale`);
    const dq = fresh(`${b.name}_dq`);
    newInits.push({ name: qName, dataType: 'int32', dims: b.dims, data: q });
    newInits.push({ name: sName, dataType: 'float32', dims: perAxis ? [n] : [], data: scales });
    lastBias = { initializer: qName, scales };
    outNodes.push({ opType: 'DequantizeLinear', inputs: [qName, sName], outputs: [dq], name: fresh(`${b.name}_DQ`), attributes: qdqAxis(perAxis ? 0 : undefined) });
    return dq;
  };

  /** Constant inputs of Add/Mul/Concat: uint8 with their own range, like activations. */
  const emitConstant = (c: TensorInit): string => {
    const key = `${c.name}@const`;
    const hit = weightCache.get(key);
    if (hit) return hit.dq;
    const v = tensorFloats(c);
    let lo = 0;
    let hi = 0;
    for (const x of v) {
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    const p = uint8Params({ min: lo, max: hi });
    const q = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) q[i] = Math.min(255, Math.max(0, Math.round(v[i]! / p.scale) + p.zeroPoint));
    const qName = fresh(`${c.name}_q`);
    const sName = fresh(`${c.name}_scale`);
    const zName = fresh(`${c.name}_zp`);
    const dq = fresh(`${c.name}_dq`);
    newInits.push({ name: qName, dataType: 'uint8', dims: c.dims, data: q }, scalarInit(sName, p.scale, 'float32'), scalarInit(zName, p.zeroPoint, 'uint8'));
    outNodes.push({ opType: 'DequantizeLinear', inputs: [qName, sName, zName], outputs: [dq], name: fresh(`${c.name}_DQ`) });
    weightCache.set(key, { dq, scales: Float32Array.of(p.scale) });
    return dq;
  };

  for (const input of g.inputs) if (qdq.has(input.name)) emitActivationQdq(input.name);
  const quantizedNodes: StaticResult['quantizedNodes'] = [];
  kept.forEach((n, i) => {
    let inputs = n.inputs.map((x) => dqName.get(x) ?? x);
    // A graph output computed in int8: the op writes a float copy, Q/DQ restores the output's name.
    const outputs = n.outputs.map((o) => (outputQdq.has(o) ? fresh(`${o}_float`) : o));
    if (quantized.has(i)) {
      quantizedNodes.push({ name: nodeName(n, i), opType: n.opType });
      const weightAxis = (w: TensorInit): number | undefined => {
        if (!perChannel || w.dims.length === 0) return undefined;
        if (n.opType === 'Conv') return 0;
        if (n.opType === 'Gemm') return intAttr(n, 'transB', 0) ? 0 : 1;
        if (n.opType === 'MatMul' && w.dims.length >= 2) return w.dims.length - 1;
        return undefined;
      };
      let weightScales: Float32Array | undefined;
      let weightQ: string | undefined;
      inputs = inputs.map((x, k) => {
        const init = idx.initializers.get(n.inputs[k] ?? '');
        if (!init || !dataInputs(n).includes(k)) return x;
        if (['Conv', 'Gemm', 'MatMul'].includes(n.opType) && k === 1) {
          const r = emitWeight(init, weightAxis(init), n.opType !== 'Conv');
          weightScales = r.scales;
          weightQ = r.q;
          return r.dq;
        }
        return emitConstant(init);
      });
      // Conv/Gemm bias: int32 at input scale × weight scale.
      const bias = idx.initializers.get(n.inputs[2] ?? '');
      const inScale = paramsFor(n.inputs[0] ?? '')?.scale;
      const hasBias = (n.opType === 'Conv' || (n.opType === 'Gemm' && floatAttr(n, 'beta', 1) === 1)) && bias && bias.dataType === 'float32' && bias.dims.length === 1;
      if (hasBias && weightScales && inScale !== undefined && !idx.initializers.has(n.inputs[0] ?? '')) {
        const perAxis = weightScales.length > 1 && weightScales.length === bias.dims[0];
        inputs[2] = emitBias(bias, inScale, weightScales, perAxis);
        if (lastBias && weightQ && (n.opType === 'Conv' || n.opType === 'Gemm')) {
          biases.push({
            opType: n.opType,
            ...lastBias,
            input: n.inputs[0]!,
            weight: n.inputs[1]!,
            weightQuantized: weightQ,
            weightScales,
            group: intAttr(n, 'group', 1),
            transB: intAttr(n, 'transB', 0) !== 0,
          });
        }
      }
    }
    outNodes.push({ ...n, inputs, outputs });
    n.outputs.forEach((o, k) => {
      if (!o) return;
      if (qdq.has(o)) emitActivationQdq(o);
      else if (outputQdq.has(o)) emitActivationQdq(o, outputs[k], o);
    });
  });

  // Float initializers that no node reads any more are dropped (their int8 copies replace them).
  const read = new Set(outNodes.flatMap((n) => n.inputs));
  for (const o of g.outputs) read.add(o.name);
  const initializers = [...g.initializers.filter((t) => read.has(t.name)), ...newInits];
  const present = new Set([...outNodes.flatMap((n) => n.outputs), ...g.inputs.map((v) => v.name)]);
  const valueInfo = (g.valueInfo ?? []).filter((v) => present.has(v.name));
  const model: ModelSpec = { ...m, graph: { ...g, nodes: outNodes, initializers, valueInfo } };
  const layers = [...quantized].flatMap((i) => {
    const o = kept[i]!.outputs[0];
    return o ? [{ reference: o, candidate: dqName.get(o) ?? o }] : [];
  });
  return { model, quantizedNodes, layers, biases, foldedActivations: folded, skipped };
}

function clipBound(n: NodeSpec, input: number, attrName: string, inits: ReadonlyMap<string, TensorInit>, unset: number): number | undefined {
  const name = n.inputs[input];
  if (name) {
    const t = inits.get(name);
    if (!t || t.dataType !== 'float32') return undefined;
    return tensorFloats(t)[0];
  }
  const a = n.attributes?.find((x) => x.name === attrName);
  return a && a.type === 'float' ? a.value : unset;
}
