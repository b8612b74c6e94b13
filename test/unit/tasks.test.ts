/** Task post-processing on hand-computed cases: top-k, YOLO decoding, class-aware NMS, letterbox undone, DETR decoding, labels. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { softmax, topK } from '../../src/core/tasks/classification.js';
import { decodeDetr, decodeYolo, iou, nms, unletterbox } from '../../src/core/tasks/detection.js';
import { loadLabels } from '../../src/core/tasks/labels.js';
import { NotFoundError } from '../../src/core/errors.js';

test('top-k: softmax of logits, probabilities passed through, labels attached, ties by index', () => {
  const logits = Float32Array.of(1, 3, 2, 3);
  const top = topK(logits, 2, ['a', 'b', 'c', 'd']);
  assert.deepEqual(top.map((t) => [t.index, t.label]), [[1, 'b'], [3, 'd']]);
  assert.ok(Math.abs(top[0]!.probability - softmax(logits)[1]!) < 1e-7);
  const probs = Float32Array.of(0.1, 0.7, 0.2);
  assert.deepEqual(topK(probs, 1).map((t) => [t.index, Number(t.probability.toFixed(6))]), [[1, 0.7]]);
});

test('IoU and NMS: overlapping boxes of one class collapse to the best; other classes survive', () => {
  assert.equal(iou([0, 0, 10, 10], [5, 0, 15, 10]), 50 / 150);
  assert.equal(iou([0, 0, 10, 10], [20, 20, 30, 30]), 0);
  const kept = nms(
    [
      { classId: 0, score: 0.8, box: [1, 0, 11, 10] },
      { classId: 0, score: 0.9, box: [0, 0, 10, 10] },
      { classId: 1, score: 0.7, box: [0, 0, 10, 10] },
      { classId: 0, score: 0.6, box: [50, 50, 60, 60] },
    ],
    0.45,
  );
  assert.deepEqual(kept.map((k) => [k.classId, k.score]), [[0, 0.9], [1, 0.7], [0, 0.6]]);
});

test('YOLOv8 decoding, channels-first and transposed, with the letterbox undone', () => {
  // 3 anchors, 2 classes: [cx, cy, w, h, s0, s1] in a 64×64 letterboxed input of a 128×64 image
  // (scale 0.5, padded 16 px top and bottom).
  const anchors = [
    [32, 32, 16, 8, 0.9, 0.1],
    [33, 32, 16, 8, 0.8, 0.05], // overlaps the first, same class: suppressed
    [10, 20, 4, 4, 0.1, 0.2], // below the threshold
  ];
  const lb = { scale: 0.5, padX: 0, padY: 16, width: 128, height: 64 };
  const first = new Float32Array(6 * 3);
  anchors.forEach((a, n) => a.forEach((v, c) => (first[c * 3 + n] = v)));
  const opts = { confidence: 0.25, iou: 0.45, labels: ['cat', 'dog'] };
  const want = [{ classId: 0, label: 'cat', score: Math.fround(0.9), box: [48, 24, 80, 40] }];
  assert.deepEqual(decodeYolo(first, [1, 6, 3], lb, opts), want);
  const transposed = Float32Array.from(anchors.flat());
  assert.deepEqual(decodeYolo(transposed, [1, 3, 6], lb, opts), want);
  assert.deepEqual(unletterbox([-10, 0, 300, 200], lb), [0, 0, 128, 64]); // clamped to the image
});

test('DETR-style decoding: sigmoid scores, normalised centre boxes', () => {
  const logits = Float32Array.of(3, -3, -5, -5); // query 0: class 0 (0.95); query 1: below threshold
  const boxes = Float32Array.of(0.5, 0.5, 0.25, 0.125, 0, 0, 0.1, 0.1);
  const d = decodeDetr(logits, [1, 2, 2], boxes, { width: 64, height: 64 }, { scale: 0.5, padX: 0, padY: 16, width: 128, height: 64 }, { confidence: 0.5, iou: 0.5 });
  assert.equal(d.length, 1);
  assert.deepEqual(d[0]!.box, [48, 24, 80, 40]);
  assert.ok(Math.abs(d[0]!.score - 1 / (1 + Math.exp(-3))) < 1e-9);
});

test('label sets: ImageNet-1k and COCO-80 ship; a missing file is NOT_FOUND', async () => {
  const imagenet = await loadLabels('imagenet-1k (synset.txt from onnx/models)');
  assert.equal(imagenet.length, 1000);
  assert.equal(imagenet[0], 'tench, Tinca tinca');
  const coco = await loadLabels('coco-80');
  assert.equal(coco.length, 80);
  assert.deepEqual([coco[0], coco[79]], ['person', 'toothbrush']);
  await assert.rejects(loadLabels('/nonexistent/labels.txt'), NotFoundError);
});

test('labels from the model\'s config.json id2label (transformers exports)', async () => {
  const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const os = await import('node:os');
  const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-id2label-'));
  mkdirSync(join(dir, 'onnx'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ id2label: { '0': 'person', '2': 'car' } }));
  assert.deepEqual(await loadLabels('config.json id2label', join(dir, 'onnx', 'model.onnx')), ['person', 'class 1', 'car']);
});
