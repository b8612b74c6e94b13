/**
 * The task route (/v1/tasks/{model}) is measured like the v2 route: outcomes by reason, stage times and
 * the execution count on /metrics, and (tracing on) queue and compute spans under the request's span.
 * `metrics: {public: true}` in the serve config file opens GET /metrics without the API key, as
 * --metrics-public does; without it the key is required.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { tracingSettings } from '../../src/core/config/tracing.js';
import { createServeMetrics } from '../../src/core/serve-metrics/index.js';
import { planTask } from '../../src/core/tasks/plan.js';
import { LaneExecutor, PIPELINE_JOB_MODULE } from '../../src/server/lane-executor.js';
import { PipelineService } from '../../src/server/pipelines.js';
import { startTracing } from '../../src/server/tracing.js';
import { attr, receiver } from '../helpers/otlp-receiver.js';
import { parseExposition, type Family } from '../helpers/prom-text.js';
import { BIN } from '../helpers/run-cli.js';
import { spawnServe, startTestServer, tmp, TINY, until } from './helpers.js';

const value = (f: Family | undefined, labels: Record<string, string>, name = f?.name): number | undefined =>
  f?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

test('POST /v1/tasks/{model}: successes and failures by reason on /metrics, queue and compute spans in the trace', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = await tmp();
  const lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, jobModules: [PIPELINE_JOB_MODULE] });
  const rx = await receiver();
  try {
    const model = join(dir, 'tiny.onnx');
    await writeFile(model, TINY);
    const labels = join(dir, 'labels.txt');
    await writeFile(labels, Array.from({ length: 10 }, (_, i) => `class${i}`).join('\n'));
    const plan = await planTask({ model, modelName: 'tiny', task: 'image-classification', flags: { labels } });
    const pipelines = new PipelineService(async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'test' } }));
    pipelines.add({ name: 'tiny', plan, device: 'CPU', maxQueue: 4 });
    const raw = Buffer.alloc(64 * 48 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) % 251;
    const png = await sharp(raw, { raw: { width: 64, height: 48, channels: 3 } }).png().toBuffer();
    const metrics = createServeMetrics();
    const tracing = await startTracing(tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${rx.url}/v1/traces` }), { serviceVersion: 't', scheduledDelayMs: 20 });
    const t = await startTestServer({ executor: lane, pipelines, server: { metrics, tracing } });
    try {
      const post = (path: string, body: Buffer, headers: Record<string, string> = {}) => fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': 'image/png', ...headers }, body });
      const trace = '0af7651916cd43dd8448eb211c80319c';
      for (let i = 0; i < 2; i++) assert.equal((await post('/v1/tasks/tiny?top_k=3', png, i ? {} : { traceparent: `00-${trace}-b7ad6b7169203331-01` })).status, 200);
      assert.equal((await post('/v1/tasks/tiny', Buffer.from('not an image'))).status, 400, 'fails in the lane');
      assert.equal((await post('/v1/tasks/tiny?top_k=0', png)).status, 400, 'fails before the lane');
      assert.equal((await post('/v1/tasks/nope', png)).status, 404);

      const fams = parseExposition(await (await fetch(`${t.url}/metrics`)).text());
      const mv = { model: 'tiny', version: '1' };
      assert.equal(value(fams.get('aivmm_inference_request_success_total'), mv), 2);
      assert.equal(value(fams.get('aivmm_inference_request_failure_total'), { ...mv, reason: 'bad_input' }), 2);
      assert.equal(fams.get('aivmm_inference_request_failure_total')!.samples.filter((s) => s.labels.model === 'nope').length, 0, 'an unknown model is not a series');
      assert.equal(value(fams.get('aivmm_inference_count_total'), mv), 2);
      assert.equal(value(fams.get('aivmm_inference_exec_count_total'), mv), 2);
      const req = fams.get('aivmm_inference_request_duration_seconds');
      assert.equal(value(req, mv, 'aivmm_inference_request_duration_seconds_count'), 4, 'successes and failures');
      const inferH = fams.get('aivmm_inference_compute_infer_duration_seconds');
      assert.equal(value(inferH, mv, 'aivmm_inference_compute_infer_duration_seconds_count'), 2, 'only requests that ran');
      assert.ok(value(inferH, mv, 'aivmm_inference_compute_infer_duration_seconds_sum')! > 0, 'the lane job took time');
      assert.equal(value(fams.get('aivmm_inference_queue_duration_seconds'), mv, 'aivmm_inference_queue_duration_seconds_count'), 4);

      await tracing.flush();
      await until(() => rx.spans.filter((s) => s.traceId === trace).length >= 3, 'the task request spans');
      const mine = rx.spans.filter((s) => s.traceId === trace);
      const server = mine.find((s) => s.kind === 2)!;
      assert.equal(server.name, 'POST /v1/tasks/:name');
      assert.equal(server.parentSpanId, 'b7ad6b7169203331');
      const compute = mine.find((s) => s.name === 'compute')!;
      assert.equal(compute.parentSpanId, server.spanId);
      assert.equal(mine.find((s) => s.name === 'queue')!.parentSpanId, server.spanId);
      assert.deepEqual([attr(compute, 'aivmm.model'), attr(compute, 'aivmm.device')], ['tiny', 'CPU']);
    } finally {
      await t.close();
    }
  } finally {
    await lane.close();
    await rx.close();
    await cleanup();
  }
});

test('metrics: {public: true} in the config file: GET /metrics without the key, everything else still needs it; absent: keyed', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tmp();
  const run = async (config: string): Promise<{ metrics: number; model: number; keyed: number }> => {
    const file = join(dir, 'aivmm.yaml');
    await writeFile(file, config);
    const serve = spawnServe(BIN, ['tiny-convnet', '--port', '0', '--json', '--api-key', 'k', '--config', file, '--telemetry-interval', '0'], { ...process.env, AIVMM_CACHE_DIR: dir });
    try {
      const url = (JSON.parse(await serve.ready) as { data: { url: string } }).data.url;
      return {
        metrics: (await fetch(`${url}/metrics`)).status,
        model: (await fetch(`${url}/v2/models/tiny-convnet`)).status,
        keyed: (await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer k' } })).status,
      };
    } finally {
      serve.child.kill('SIGTERM');
      assert.equal(await serve.exited, 0, serve.stderr());
    }
  };
  try {
    assert.deepEqual(await run('metrics: {public: true}\n'), { metrics: 200, model: 401, keyed: 200 });
    assert.deepEqual(await run('metrics: {public: false}\n'), { metrics: 401, model: 401, keyed: 200 });
    assert.deepEqual(await run('server: {max_queue: 8}\n'), { metrics: 401, model: 401, keyed: 200 });
  } finally {
    await cleanup();
  }
});
