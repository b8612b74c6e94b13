/**
 * /v1/embeddings through the official `openai` client: a tiny WordPiece encoder (generated here, its
 * embedding table known) opened as a sentence-embeddings pipeline inside a real lane; the vectors are
 * the mean-pooled, L2-normalised rows computed by hand.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { planTask } from '../../src/core/tasks/plan.js';
import { LaneExecutor, PIPELINE_JOB_MODULE } from '../../src/server/lane-executor.js';
import { PipelineService } from '../../src/server/pipelines.js';
import { createServeMetrics } from '../../src/core/serve-metrics/index.js';
import { parseExposition, sampleValue } from '../helpers/prom-text.js';
import { startTestServer, tmp } from './helpers.js';
import { TOKENIZER, H, encoder } from '../helpers/wordpiece.js';


test('embeddings.create: one vector per input, mean-pooled and normalised, float and base64', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = await tmp();
  const lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, jobModules: [PIPELINE_JOB_MODULE] });
  try {
    const { bytes, table, types } = encoder();
    await mkdir(join(dir, 'onnx'));
    await writeFile(join(dir, 'onnx', 'model.onnx'), bytes);
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(TOKENIZER));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 12, pad_token: '[PAD]' }));
    const expected = (tokenIds: number[]): number[] => {
      const v = new Array<number>(H).fill(0);
      for (const id of tokenIds) for (let k = 0; k < H; k++) v[k]! += table[id * H + k]! + types[k]!;
      const mean = v.map((x) => x / tokenIds.length);
      const norm = Math.hypot(...mean);
      return mean.map((x) => x / norm);
    };
    const pipelines = new PipelineService(async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'test' } }));
    pipelines.add({ name: 'mini', plan: await planTask({ model: join(dir, 'onnx', 'model.onnx'), modelName: 'mini', task: 'sentence-embeddings' }), device: 'CPU', maxQueue: 4 });
    const metrics = createServeMetrics();
    const t = await startTestServer({ executor: lane, pipelines, server: { metrics } });
    try {
      const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const r = await client.embeddings.create({ model: 'mini', input: ['A cat sat.', 'the dogs ran'], encoding_format: 'float' });
      assert.equal(r.data.length, 2);
      const close = (a: number[], b: number[]): void => a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < 1e-5, `${x} vs ${b[i]}`));
      close(r.data[0]!.embedding, expected([2, 4, 5, 6, 13, 3]));
      close(r.data[1]!.embedding, expected([2, 10, 7, 12, 8, 3]));
      assert.equal(r.usage.prompt_tokens, 12);
      // the client's default asks for base64 and decodes it back to floats
      const r2 = await client.embeddings.create({ model: 'mini', input: 'A cat sat.' });
      close(r2.data[0]!.embedding, expected([2, 4, 5, 6, 13, 3]));
      // Outcomes in /metrics: two requests, three inputs (inferences); an empty input list is bad_input.
      await assert.rejects(client.embeddings.create({ model: 'mini', input: [] }), (e: unknown) => e instanceof OpenAI.BadRequestError);
      const fams = parseExposition(await (await fetch(`${t.url}/metrics`)).text());
      const mv = { model: 'mini', version: '1' };
      const count = (name: string, labels: Record<string, string>): number | undefined => sampleValue(fams, name, labels);
      assert.equal(count('aivmm_inference_request_success_total', mv), 2);
      assert.equal(count('aivmm_inference_count_total', mv), 3);
      assert.equal(count('aivmm_inference_request_failure_total', { ...mv, reason: 'bad_input' }), 1);
      assert.equal(count('aivmm_inference_request_duration_seconds_count', mv), 3);
    } finally {
      await t.close();
    }
  } finally {
    await lane.close();
    await cleanup();
  }
});
