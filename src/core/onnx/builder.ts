/**
 * A small imperative builder for float32 ONNX graphs with seeded weights, used to generate
 * deterministic models (fixtures, the embedded default model, probe models).
 */
import type { Attribute, GraphSpec, NodeSpec, TensorInit, ValueInfo } from './writer.js';
import { seededRandom } from '../random.js';

export class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorInit[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  private counter = 0;
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  /** A fresh tensor name with a readable prefix. */
  name(prefix: string): string {
    this.counter += 1;
    return `${prefix}_${this.counter}`;
  }

  /** Normally distributed values (Box–Muller) with the given standard deviation. */
  normal(count: number, std: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i += 2) {
      const u1 = Math.max(this.random(), 1e-12);
      const u2 = this.random();
      const r = Math.sqrt(-2 * Math.log(u1)) * std;
      out[i] = r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
    return out;
  }

  uniform(count: number, low: number, high: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = low + (high - low) * this.random();
    return out;
  }

  input(info: ValueInfo): string {
    this.inputs.push(info);
    return info.name;
  }

  output(info: ValueInfo): void {
    this.outputs.push(info);
  }

  constant(prefix: string, dims: readonly number[], data: TensorInit['data'], dataType: TensorInit['dataType'] = 'float32'): string {
    const name = this.name(prefix);
    this.initializers.push({ name, dims, data, dataType });
    return name;
  }

  op(opType: string, inputs: readonly string[], attributes: readonly Attribute[] = [], output?: string): string {
    const out = output ?? this.name(opType.toLowerCase());
    this.nodes.push({ opType, inputs, outputs: [out], name: `${opType}_${this.nodes.length}`, attributes });
    return out;
  }

  /**
   * Conv with a bias (batch norm folded in, as exported inference graphs have it).
   * Weights are He-initialised so activations keep their scale through deep stacks.
   */
  conv(x: string, cin: number, cout: number, kernel: number, opts: { stride?: number; group?: number; gain?: number; output?: string } = {}): string {
    const stride = opts.stride ?? 1;
    const group = opts.group ?? 1;
    const fanIn = (cin / group) * kernel * kernel;
    const w = this.constant('conv_w', [cout, cin / group, kernel, kernel], this.normal(cout * (cin / group) * kernel * kernel, Math.sqrt((opts.gain ?? 2) / fanIn)));
    const b = this.constant('conv_b', [cout], this.uniform(cout, -0.05, 0.05));
    const pad = Math.floor(kernel / 2);
    return this.op(
      'Conv',
      [x, w, b],
      [
        { name: 'dilations', type: 'ints', value: [1, 1] },
        { name: 'group', type: 'int', value: group },
        { name: 'kernel_shape', type: 'ints', value: [kernel, kernel] },
        { name: 'pads', type: 'ints', value: [pad, pad, pad, pad] },
        { name: 'strides', type: 'ints', value: [stride, stride] },
      ],
      opts.output,
    );
  }

  relu6(x: string): string {
    const min = this.constant('clip_min', [], Float32Array.of(0));
    const max = this.constant('clip_max', [], Float32Array.of(6));
    return this.op('Clip', [x, min, max]);
  }

  gemm(x: string, inFeatures: number, outFeatures: number, output?: string): string {
    const w = this.constant('fc_w', [outFeatures, inFeatures], this.normal(outFeatures * inFeatures, Math.sqrt(1 / inFeatures)));
    const b = this.constant('fc_b', [outFeatures], this.uniform(outFeatures, -0.05, 0.05));
    return this.op(
      'Gemm',
      [x, w, b],
      [
        { name: 'alpha', type: 'float', value: 1 },
        { name: 'beta', type: 'float', value: 1 },
        { name: 'transB', type: 'int', value: 1 },
      ],
      output,
    );
  }

  graph(name: string): GraphSpec {
    return { name, nodes: this.nodes, inputs: this.inputs, outputs: this.outputs, initializers: this.initializers };
  }
}
