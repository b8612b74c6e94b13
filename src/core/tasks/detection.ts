/**
 * Object detection post-processing. YOLOv8-style output [1, 4 + classes, anchors] (or transposed):
 * boxes as centre x, centre y, width, height in input pixels, one score per class; a confidence
 * threshold, class-aware non-maximum suppression, and the letterbox undone so boxes land in the original
 * image's pixels. DETR-style outputs (RT-DETR, D-FINE: logits [1, queries, classes] and normalised
 * cx,cy,w,h boxes [1, queries, 4]) are decoded with a sigmoid per class and need no NMS.
 */
import { UsageError } from '../errors.js';

export interface Detection {
  classId: number;
  label?: string;
  score: number;
  /** x1, y1, x2, y2 in the original image's pixels. */
  box: [number, number, number, number];
}

export interface Letterbox {
  /** Resize factor applied to the original image. */
  scale: number;
  padX: number;
  padY: number;
  width: number;
  height: number;
}

export function iou(a: readonly number[], b: readonly number[]): number {
  const x1 = Math.max(a[0]!, b[0]!);
  const y1 = Math.max(a[1]!, b[1]!);
  const x2 = Math.min(a[2]!, b[2]!);
  const y2 = Math.min(a[3]!, b[3]!);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = (a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy NMS per class: highest score first, drop boxes of the same class overlapping a kept one above `iouThreshold`. */
export function nms(dets: readonly Detection[], iouThreshold: number, maxDetections = 300): Detection[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const kept: Detection[] = [];
  for (const d of sorted) {
    if (kept.length >= maxDetections) break;
    if (kept.some((k) => k.classId === d.classId && iou(k.box, d.box) > iouThreshold)) continue;
    kept.push(d);
  }
  return kept;
}

/** Letterboxed input pixels → original pixels, clamped to the image. */
export function unletterbox(box: readonly number[], lb: Letterbox): [number, number, number, number] {
  const clamp = (v: number, hi: number): number => Math.min(hi, Math.max(0, v));
  return [
    clamp((box[0]! - lb.padX) / lb.scale, lb.width),
    clamp((box[1]! - lb.padY) / lb.scale, lb.height),
    clamp((box[2]! - lb.padX) / lb.scale, lb.width),
    clamp((box[3]! - lb.padY) / lb.scale, lb.height),
  ];
}

export interface DecodeOptions {
  confidence: number;
  iou: number;
  labels?: readonly string[];
  maxDetections?: number;
}

/** Decodes one image's YOLOv8 output (`data` for dims [1, 4+C, N] or [1, N, 4+C]). */
export function decodeYolo(data: Float32Array, dims: readonly number[], lb: Letterbox, opts: DecodeOptions): Detection[] {
  const [, a, b] = dims as [number, number, number];
  // [1, 84, 8400] or [1, 8400, 84]: the labels say which axis holds 4 + classes; without them, the
  // shorter axis does (YOLO heads have thousands of anchors).
  const want = opts.labels ? 4 + opts.labels.length : undefined;
  if (want !== undefined && a !== want && b !== want) {
    throw new UsageError(`the labels name ${want - 4} classes, but the detection output [${dims.join(', ')}] has no axis of 4 + ${want - 4} = ${want}`, 'give the labels this model was trained with (--labels)');
  }
  const channelsFirst = want !== undefined && (a === want) !== (b === want) ? a === want : a < b;
  const channels = channelsFirst ? a : b;
  const anchors = channelsFirst ? b : a;
  const classes = channels - 4;
  if (classes < 1) throw new UsageError(`detection output [${dims.join(', ')}] has no class scores`, 'is this a YOLO-style detector? pass --task for another task');
  const at = channelsFirst ? (c: number, n: number): number => data[c * anchors + n]! : (c: number, n: number): number => data[n * channels + c]!;
  const out: Detection[] = [];
  for (let n = 0; n < anchors; n++) {
    let best = 0;
    let score = -Infinity;
    for (let c = 0; c < classes; c++) {
      const s = at(4 + c, n);
      if (s > score) [score, best] = [s, c];
    }
    if (score < opts.confidence) continue;
    const cx = at(0, n);
    const cy = at(1, n);
    const w = at(2, n);
    const h = at(3, n);
    out.push({ classId: best, ...(opts.labels?.[best] !== undefined ? { label: opts.labels[best] } : {}), score, box: unletterbox([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], lb) });
  }
  return nms(out, opts.iou, opts.maxDetections);
}

/** DETR-style outputs: logits [1, Q, C] and boxes [1, Q, 4] as normalised cx, cy, w, h of the network input. */
export function decodeDetr(logits: Float32Array, logitDims: readonly number[], boxes: Float32Array, inputSize: { width: number; height: number }, lb: Letterbox, opts: DecodeOptions): Detection[] {
  const queries = logitDims[1]!;
  const classes = logitDims[2]!;
  const out: Detection[] = [];
  for (let q = 0; q < queries; q++) {
    let best = 0;
    let logit = -Infinity;
    for (let c = 0; c < classes; c++) {
      const v = logits[q * classes + c]!;
      if (v > logit) [logit, best] = [v, c];
    }
    const score = 1 / (1 + Math.exp(-logit));
    if (score < opts.confidence) continue;
    const [cx, cy, w, h] = [boxes[q * 4]! * inputSize.width, boxes[q * 4 + 1]! * inputSize.height, boxes[q * 4 + 2]! * inputSize.width, boxes[q * 4 + 3]! * inputSize.height];
    out.push({ classId: best, ...(opts.labels?.[best] !== undefined ? { label: opts.labels[best] } : {}), score, box: unletterbox([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], lb) });
  }
  return out.sort((x, y) => y.score - x.score).slice(0, opts.maxDetections ?? 300);
}
