/** object-detection: letterbox; YOLOv8 or DETR-style decoding, class-aware NMS, boxes in the original image's pixels. */
import type { HostTensor } from '../backends/types.js';
import { decodeDetr, decodeYolo, type Detection } from './detection.js';
import { loadLabels } from './labels.js';
import type { OpenBase, Pipeline } from './pipeline.js';
import { checkDecoded, imageBytesLetterbox, imageDims, imageInput, isDecoded, type ImageInput, type PipelineTiming } from './shared.js';
import type { DetectionResult } from './types.js';

export interface DetectionOptions {
  /** Minimum score (default 0.25). */
  confidence?: number;
  /** NMS overlap threshold (default 0.45). */
  iou?: number;
  name?: string;
}

export type DetectionOutput = Omit<DetectionResult, 'input' | 'annotated'>;

export interface DetectionPipeline extends Pipeline<ImageInput, DetectionOutput, DetectionOptions> {
  readonly task: 'object-detection';
  /** The model's input size (a decoded image must have it). */
  readonly size: { width: number; height: number };
}

export async function openDetection({ session, sessionMs, plan }: OpenBase): Promise<DetectionPipeline> {
  const input = imageInput(session, 'object-detection');
  const side = plan.size ?? plan.preprocess?.letterbox ?? 640;
  const width = input.width || side;
  const height = input.height || side;
  const labels = plan.labels ? await loadLabels(plan.labels, plan.model) : undefined;
  const timing: PipelineTiming = { inferenceMs: 0 };
  return {
    task: 'object-detection',
    sessions: [session],
    sessionMs,
    timing,
    size: { width, height },
    async run(x, o = {}) {
      const { data, letterbox } = isDecoded(x)
        ? { data: checkDecoded(x, width, height), letterbox: x.letterbox ?? { scale: 1, padX: 0, padY: 0, width, height } }
        : await imageBytesLetterbox(x, { width, height }, input.layout, o.name);
      const r0 = performance.now();
      const out = await session.run({ [input.spec.name]: { type: 'float32', dims: imageDims(input.layout, 1, width, height), data } });
      timing.inferenceMs += performance.now() - r0;
      const decodeOpts = { confidence: o.confidence ?? 0.25, iou: o.iou ?? 0.45, ...(labels ? { labels } : {}) };
      const tensors = session.outputs.map((t) => out[t.name]!);
      const boxesAt = tensors.findIndex((t) => t.dims.length === 3 && t.dims[2] === 4);
      let detections: Detection[];
      if (tensors.length === 2 && boxesAt >= 0) {
        const logits = tensors[1 - boxesAt]! as HostTensor;
        detections = decodeDetr(logits.data as Float32Array, logits.dims, tensors[boxesAt]!.data as Float32Array, { width, height }, letterbox, decodeOpts);
      } else {
        detections = decodeYolo(tensors[0]!.data as Float32Array, tensors[0]!.dims, letterbox, decodeOpts);
      }
      return { width: letterbox.width, height: letterbox.height, detections };
    },
    dispose: () => session.dispose(),
  };
}
