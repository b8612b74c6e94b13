/** A model with one node the WebGPU EP cannot run (Mod with fmod=1), for CPU-fallback tests: x[1,16] → Mod → Relu → y. */
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';

export function cpuOnlyOpModel(): Uint8Array {
  const b = new GraphBuilder(3);
  const x = b.input({ name: 'x', dataType: 'float32', shape: [1, 16] });
  const m = b.op('Mod', [x, b.constant('c', [1], Float32Array.of(0.3))], [{ name: 'fmod', type: 'int', value: 1 }]);
  b.op('Relu', [m], [], 'y');
  b.output({ name: 'y', dataType: 'float32', shape: [1, 16] });
  return encodeModel({ graph: b.graph('mod') });
}
