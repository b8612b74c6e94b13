/**
 * YOLOv8-style detection output ([1, 4 + classes, anchors]: cx, cy, w, h in input pixels, then one score
 * per class) → boxes above a confidence, with per-class non-maximum suppression, as ultralytics does.
 */
export interface Detection {
  cls: number;
  score: number;
  /** x1, y1, x2, y2 in the model's input pixels. */
  box: [number, number, number, number];
}

/** Whether an output of this shape looks like YOLOv8's [1, 4 + C, N] (N anchors, more than rows). */
export function isYoloShape(shape: readonly number[]): boolean {
  return shape.length === 3 && shape[1]! >= 5 && (shape[2] === -1 || shape[2]! > shape[1]!);
}

function iou(a: Detection['box'], b: Detection['box']): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

export function decodeYolo(data: ArrayLike<number>, shape: readonly number[], conf: number, iouThreshold: number): Detection[] {
  const rows = shape[1]!;
  const n = shape[2]!;
  const found: Detection[] = [];
  for (let a = 0; a < n; a++) {
    let cls = 0;
    let score = -Infinity;
    for (let c = 4; c < rows; c++) {
      const s = data[c * n + a]!;
      if (s > score) {
        score = s;
        cls = c - 4;
      }
    }
    if (score < conf) continue;
    const cx = data[a]!;
    const cy = data[n + a]!;
    const w = data[2 * n + a]!;
    const h = data[3 * n + a]!;
    found.push({ cls, score, box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] });
  }
  found.sort((x, y) => y.score - x.score);
  const kept: Detection[] = [];
  for (const d of found) if (!kept.some((k) => k.cls === d.cls && iou(k.box, d.box) > iouThreshold)) kept.push(d);
  return kept;
}
