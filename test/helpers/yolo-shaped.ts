/**
 * A detection model of YOLOv8's output layout: image [1,3,64,64] → [1, 4 + 2 classes, 8 anchors] (cx, cy,
 * w, h in input pixels, then the class scores). The boxes are constants (+ 0 × the image mean, so the
 * input flows through): anchor 0 (class 0, 0.9) and 1 (class 0, 0.8, overlapping it: suppressed by NMS),
 * anchor 2 (class 1, 0.7), the rest below any threshold. Used by the dashboard's playground and webcam
 * tests and the stream route's test.
 */
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';

export function yoloShapedModel(): Uint8Array {
  const n = 8;
  const rows = [
    [20, 21, 45, 5, 5, 5, 5, 5], // cx
    [20, 20, 44, 5, 5, 5, 5, 5], // cy
    [16, 16, 20, 2, 2, 2, 2, 2], // w
    [16, 16, 12, 2, 2, 2, 2, 2], // h
    [0.9, 0.8, 0.1, 0.01, 0.01, 0.01, 0.01, 0.01], // class 0
    [0.05, 0.05, 0.7, 0.01, 0.01, 0.01, 0.01, 0.01], // class 1
  ];
  const b = new GraphBuilder(1);
  const x = b.input({ name: 'images', dataType: 'float32', shape: [1, 3, 64, 64] });
  const mean = b.op(
    'ReduceMean',
    [x],
    [
      { name: 'axes', type: 'ints', value: [1, 2, 3] },
      { name: 'keepdims', type: 'int', value: 0 },
    ],
  );
  const zero = b.op('Mul', [mean, b.constant('zero', [1], new Float32Array([0]))]);
  b.op('Add', [b.constant('boxes', [1, 6, n], new Float32Array(rows.flat())), zero], [], 'output0');
  b.output({ name: 'output0', dataType: 'float32', shape: [1, 6, n] });
  return encodeModel({ producerName: 'aivmm-test', producerVersion: '1', graph: b.graph('yolo-shaped') });
}
