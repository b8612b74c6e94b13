/**
 * Dynamic INT8 quantization: weight-only int8 for MatMul and Gemm, activations quantized at run time.
 * Each eligible node becomes onnxruntime's DynamicQuantizeMatMul (com.microsoft), the op its own
 * optimizer produces from quantize_dynamic's DynamicQuantizeLinear + MatMulInteger pattern, so the
 * model runs the fused int8 kernel without depending on that fusion happening.
 */
import { floatAttr, indexGraph, inferTypes, intAttr, nameAllocator } from '../onnx/graph.js';
import { elementCount, tensorFloats } from '../onnx/model.js';
import type { ModelSpec, NodeSpec, TensorInit } from '../onnx/model.js';
import { quantizeWeightInt8 } from './static.js';
import { keepInMemory } from './spill.js';
import type { TensorStore } from './spill.js';

export interface DynamicOptions {
  perChannel: boolean;
  exclude: ReadonlySet<string>;
  /** Where int8 weights go (a spill file for models with external data). */
  store?: TensorStore;
}

export interface DynamicResult {
  model: ModelSpec;
  quantizedNodes: { name: string; opType: string }[];
  skipped: { name: string; opType: string; reason: string }[];
}

export const DYNAMIC_OP_TYPES: readonly string[] = ['MatMul', 'Gemm'];

/** Row-major [rows, cols] → [cols, rows]. */
function transpose2d(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c]!;
  return out;
}

export function quantizeDynamic(m: ModelSpec, opts: DynamicOptions): DynamicResult {
  const g = m.graph;
  const idx = indexGraph(g);
  const types = inferTypes(m);
  const fresh = nameAllocator([...g.initializers.map((t) => t.name), ...g.nodes.flatMap((n) => [...n.inputs, ...n.outputs])]);
  const newInits: TensorInit[] = [];
  const nodes: NodeSpec[] = [];
  const quantizedNodes: DynamicResult['quantizedNodes'] = [];
  const skipped: DynamicResult['skipped'] = [];
  const cache = new Map<string, { q: string; s: string; z: string }>();

  g.nodes.forEach((n, i) => {
    const name = n.name || `${n.opType}_${i}`;
    if (!DYNAMIC_OP_TYPES.includes(n.opType) || opts.exclude.has(n.opType) || opts.exclude.has(name)) {
      nodes.push(n);
      return;
    }
    const skip = (reason: string): void => {
      skipped.push({ name, opType: n.opType, reason });
      nodes.push(n);
    };
    const a = n.inputs[0];
    const w = idx.initializers.get(n.inputs[1] ?? '');
    if (!a || types.get(a) !== 'float32') return skip('input is not float32');
    if (!w) return skip('weight is not a constant');
    if (w.dataType !== 'float32' || w.dims.length !== 2) return skip(`weight ${w.name} is not a 2-D float32 tensor`);
    let transB = false;
    let bias: string | undefined;
    if (n.opType === 'Gemm') {
      if (intAttr(n, 'transA', 0) !== 0 || floatAttr(n, 'alpha', 1) !== 1) return skip('Gemm with transA or alpha ≠ 1');
      transB = intAttr(n, 'transB', 0) !== 0;
      const c = n.inputs[2];
      if (c) {
        const cInit = idx.initializers.get(c);
        const cols = transB ? w.dims[0]! : w.dims[1]!;
        if (!cInit || cInit.dataType !== 'float32' || elementCount(cInit.dims) !== cols || cInit.dims.length !== 1 || floatAttr(n, 'beta', 1) !== 1) {
          return skip('Gemm bias is not a constant vector over the output columns');
        }
        bias = c;
      }
    }
    const key = `${w.name}@${transB ? 't' : 'n'}`;
    let q = cache.get(key);
    if (!q) {
      const [r0, c0] = w.dims as [number, number];
      const values = transB ? transpose2d(tensorFloats(w), r0, c0) : tensorFloats(w);
      const dims = transB ? [c0, r0] : [r0, c0];
      const { q: data, scales } = quantizeWeightInt8(values, dims, opts.perChannel ? 1 : undefined);
      const perAxis = opts.perChannel;
      q = { q: fresh(`${w.name}_quantized`), s: fresh(`${w.name}_scale`), z: fresh(`${w.name}_zero_point`) };
      newInits.push((opts.store ?? keepInMemory)({ name: q.q, dataType: 'int8', dims, data }));
      newInits.push({ name: q.s, dataType: 'float32', dims: perAxis ? [scales.length] : [], data: perAxis ? scales : Float32Array.of(scales[0]!) });
      newInits.push({ name: q.z, dataType: 'int8', dims: perAxis ? [scales.length] : [], data: new Int8Array(perAxis ? scales.length : 1) });
      cache.set(key, q);
    }
    nodes.push({
      opType: 'DynamicQuantizeMatMul',
      domain: 'com.microsoft',
      inputs: [a, q.q, q.s, q.z, ...(bias ? [bias] : [])],
      outputs: [n.outputs[0] ?? ''],
      name: fresh(`${name}_quant`),
    });
    quantizedNodes.push({ name, opType: n.opType });
  });

  const read = new Set(nodes.flatMap((n) => n.inputs));
  for (const o of g.outputs) read.add(o.name);
  const initializers = [...g.initializers.filter((t) => read.has(t.name)), ...newInits];
  const opsets = [...(m.opsets ?? [])];
  if (quantizedNodes.length > 0 && !opsets.some((o) => o.domain === 'com.microsoft')) opsets.push({ domain: 'com.microsoft', version: 1 });
  return { model: { ...m, opsets, graph: { ...g, nodes, initializers } }, quantizedNodes, skipped };
}
