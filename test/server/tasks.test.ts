/**
 * Task endpoints with real image bytes: raw body and multipart upload → classification top-k with
 * labels, computed in the lane, equal to the same pipeline run in-process on the same bytes.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
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
