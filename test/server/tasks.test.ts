/**
 * Task endpoints with real image bytes: raw body and multipart upload → classification top-k with
 * labels, computed in the lane, equal to the same pipeline run in-process on the same bytes; a detector's
 * boxes as JSON or drawn on the original image (a PNG decoded here and checked pixel by pixel).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
import { openPipeline, type ClassificationPipeline } from '../../src/core/tasks/pipeline.js';
import { planTask } from '../../src/core/tasks/plan.js';
import { LaneExecutor, PIPELINE_JOB_MODULE } from '../../src/server/lane-executor.js';
import { PipelineService } from '../../src/server/pipelines.js';
import { startTestServer, tmp, TINY } from './helpers.js';

test('POST /v1/tasks/{model}: image bytes or multipart → top-k with labels, as in-process', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = await tmp();
  const lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, jobModules: [PIPELINE_JOB_MODULE] });
  try {
    const model = join(dir, 'tiny.onnx');
    await writeFile(model, TINY);
    // tiny-convnet has a 10-class head: a labels file of 10 names (a 1000-name set is refused as not fitting).
    const labels = join(dir, 'labels.txt');
    await writeFile(labels, ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'].join('\n'));
    const plan = await planTask({ model, modelName: 'tiny', task: 'image-classification', flags: { labels } });
    const pipelines = new PipelineService(async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'test' } }));
    pipelines.add({ name: 'tiny', plan, device: 'CPU', maxQueue: 4 });
    const raw = Buffer.alloc(64 * 48 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) % 251;
    const png = await sharp(raw, { raw: { width: 64, height: 48, channels: 3 } }).png().toBuffer();
    const local = (await openPipeline(plan, CPU_TARGET)) as ClassificationPipeline;
    const want = await local.run(new Uint8Array(png), { topK: 3, name: 'upload' });
    await local.dispose();
    assert.equal((want as { top: { label: string }[] }).top.length, 3);
    assert.ok((want as { top: { label: string }[] }).top.every((c) => c.label.length > 0));
    const t = await startTestServer({ executor: lane, pipelines });
    try {
      let r = await fetch(`${t.url}/v1/tasks/tiny?top_k=3`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
      assert.equal(r.status, 200);
      const got = (await r.json()) as { model: string; task: string; top: unknown };
      assert.equal(got.task, 'image-classification');
      assert.deepEqual({ ...got, model: undefined, task: undefined }, { ...want, model: undefined, task: undefined });
      const form = new FormData();
      form.append('top_k', '3');
      form.append('image', new Blob([png], { type: 'image/png' }), 'x.png');
      r = await fetch(`${t.url}/v1/tasks/tiny`, { method: 'POST', body: form });
      assert.equal(r.status, 200);
      assert.deepEqual(((await r.json()) as { top: unknown }).top, (want as { top: unknown }).top);
      r = await fetch(`${t.url}/v1/tasks/tiny`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.from('not an image') });
      assert.equal(r.status, 400, await r.clone().text());
      assert.equal(typeof ((await r.json()) as { error: string }).error, 'string');
      r = await fetch(`${t.url}/v1/tasks/tiny?top_k=0`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
      assert.equal(r.status, 400);
      r = await fetch(`${t.url}/v1/tasks/nope`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
      assert.equal(r.status, 404);
    } finally {
      await t.close();
    }
  } finally {
    await lane.close();
    await cleanup();
  }
});

/** A detector-shaped model (as test/cli/run.test.ts's): images [1,3,64,64] → output0 [1, 6, 3], fixed boxes + 0 × mean(images). */
function detector(): Uint8Array {
  const b = new GraphBuilder(1);
  const x = b.input({ name: 'images', dataType: 'float32', shape: [1, 3, 64, 64] });
  const anchors = [
    [32, 32, 16, 8, 0.9, 0.1],
    [33, 32, 16, 8, 0.8, 0.05],
    [10, 20, 4, 4, 0.1, 0.2],
  ];
  const values = new Float32Array(18);
  anchors.forEach((a, n) => a.forEach((v, c) => (values[c * 3 + n] = v)));
  const mean = b.op('ReduceMean', [x], [{ name: 'axes', type: 'ints', value: [1, 2, 3] }, { name: 'keepdims', type: 'int', value: 0 }]);
  const zero = b.op('Mul', [mean, b.constant('zero', [], Float32Array.of(0))]);
  b.op('Add', [b.constant('boxes', [1, 6, 3], values), zero], [], 'output0');
  b.output({ name: 'output0', dataType: 'float32', shape: [1, 6, 3] });
  return encodeModel({ graph: b.graph('detector') });
}

test('POST /v1/tasks/{detector}?annotate=true (or Accept: image/png): the original image as a PNG with the JSON boxes drawn on it', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = await tmp();
  const lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, jobModules: [PIPELINE_JOB_MODULE] });
  try {
    const model = join(dir, 'detector.onnx');
    await writeFile(model, detector());
    await writeFile(join(dir, 'two.txt'), 'cat\ndog\n');
    await writeFile(join(dir, 'tiny.onnx'), TINY);
    const plan = await planTask({ model, modelName: 'det', flags: { labels: join(dir, 'two.txt') } });
    const pipelines = new PipelineService(async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'test' } }));
    pipelines.add({ name: 'det', plan, device: 'CPU', maxQueue: 4 });
    pipelines.add({ name: 'cls', plan: await planTask({ model: join(dir, 'tiny.onnx'), modelName: 'cls', task: 'image-classification' }), device: 'CPU', maxQueue: 4 });
    // A flat grey 128×64 image: every pixel (90, 90, 90) before drawing.
    const png = await sharp({ create: { width: 128, height: 64, channels: 3, background: { r: 90, g: 90, b: 90 } } }).png().toBuffer();
    const t = await startTestServer({ executor: lane, pipelines });
    try {
      let r = await fetch(`${t.url}/v1/tasks/det`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/);
      const json = (await r.json()) as { task: string; detections: { label: string; box: [number, number, number, number] }[] };
      assert.equal(json.task, 'object-detection');
      assert.deepEqual(json.detections.map((d) => [d.label, d.box]), [['cat', [48, 24, 80, 40]]]);
      const [x1, y1, x2, y2] = json.detections[0]!.box;
      for (const req of [
        { url: `${t.url}/v1/tasks/det?annotate=true`, headers: { 'content-type': 'image/png' } },
        { url: `${t.url}/v1/tasks/det`, headers: { 'content-type': 'image/png', accept: 'image/png' } },
      ]) {
        r = await fetch(req.url, { method: 'POST', headers: req.headers, body: png });
        assert.equal(r.status, 200, await r.clone().text());
        assert.equal(r.headers.get('content-type'), 'image/png');
        assert.equal(r.headers.get('x-aivmm-detections'), '1');
        const { data, info } = await sharp(Buffer.from(await r.arrayBuffer())).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
        assert.deepEqual([info.width, info.height], [128, 64], 'the original size, not the 64×64 model input');
        const at = (x: number, y: number): number[] => [...data.subarray((y * info.width + x) * 4, (y * info.width + x) * 4 + 3)];
        // On the border, left, right and bottom edges, inside the box: the class-0 colour, not the grey.
        for (const [x, y] of [[x1, Math.round((y1 + y2) / 2)], [x2 - 1, Math.round((y1 + y2) / 2)], [Math.round((x1 + x2) / 2), y2 - 1]] as const) {
          assert.notDeepEqual(at(x, y), [90, 90, 90], `border pixel (${x}, ${y}) changed colour`);
        }
        assert.deepEqual(at(x1, y2 - 1), at(x2 - 1, y1 + 1), 'one colour around the box');
        // Far from the box (and its label tab above it): untouched.
        for (const [x, y] of [[2, 2], [125, 61], [10, 60], [120, 5], [64, 32]] as const) assert.deepEqual(at(x, y), [90, 90, 90], `pixel (${x}, ${y}) untouched`);
      }
      r = await fetch(`${t.url}/v1/tasks/det`, { method: 'POST', headers: { 'content-type': 'image/png', accept: 'application/json, image/png;q=0.5' }, body: png });
      assert.match(r.headers.get('content-type') ?? '', /application\/json/, 'JSON preferred by the client stays JSON');
      r = await fetch(`${t.url}/v1/tasks/det?annotate=maybe`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
      assert.equal(r.status, 400);
      r = await fetch(`${t.url}/v1/tasks/cls?annotate=true`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
      assert.equal(r.status, 400, 'annotate on a classification model is refused');
      assert.match(((await r.json()) as { error: string }).error, /detection/);
    } finally {
      await t.close();
    }
  } finally {
    await lane.close();
    await cleanup();
  }
});
