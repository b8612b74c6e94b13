/**
 * Detection in the page: core's YOLOv8 decode and per-class NMS (src/core/tasks/detection.ts, pure TS,
 * bundled by Vite) over a KServe output, so the dashboard draws the same boxes `aivmm run` and
 * /v1/tasks give. The playground stretches the image to the model's input (no letterbox), so the boxes
 * stay in input pixels (an identity letterbox) and the page scales them to its canvas.
 */
import { decodeYolo as coreDecode, type Detection } from '../../src/core/tasks/detection.js';

export type { Detection };

/** Whether an output of this shape looks like YOLOv8's [1, 4 + C, N] (N anchors, more than rows). */
export function isYoloShape(shape: readonly number[]): boolean {
  return shape.length === 3 && shape[1]! >= 5 && (shape[2] === -1 || shape[2]! > shape[1]!);
}

/** Boxes (x1, y1, x2, y2 in the model's input pixels, `inputSize`) above `conf`, after NMS at `iou`. */
export function decodeYolo(data: ArrayLike<number>, shape: readonly number[], inputSize: { width: number; height: number }, conf: number, iou: number): Detection[] {
  const f = data instanceof Float32Array ? data : Float32Array.from(data);
  return coreDecode(f, shape, { scale: 1, padX: 0, padY: 0, ...inputSize }, { confidence: conf, iou });
}
