/**
 * The OpenAI-compatible routes through the official `openai` client: a real server, the tiny Llama
 * fixture opened as a text-generation pipeline inside a real worker lane; answers compared with the same
 * pipeline run in-process.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { openPipeline, type GenerationPipeline } from '../../src/core/tasks/pipeline.js';
import { planTask } from '../../src/core/tasks/plan.js';
import { LaneExecutor, PIPELINE_JOB_MODULE } from '../../src/server/lane-executor.js';
import { PipelineService } from '../../src/server/pipelines.js';
import { startTestServer, tmp, TINY, type TestServer } from './helpers.js';

const LLAMA = fileURLToPath(new URL('../fixtures/tiny-llama/model.onnx', import.meta.url));
let t: TestServer;
let lane: LaneExecutor;
let client: OpenAI;
let local: GenerationPipeline;
let cleanup: () => Promise<void>;

before(async () => {
  const d = await tmp();
  cleanup = d.cleanup;
  await writeFile(join(d.dir, 'tiny.onnx'), TINY);
  lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, jobModules: [PIPELINE_JOB_MODULE] });
  const pipelines = new PipelineService(async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'test' } }));
  const plan = await planTask({ model: LLAMA, modelName: 'tiny-llama' });
  pipelines.add({ name: 'tiny-llama', plan, device: 'CPU', maxQueue: 8 });
  pipelines.add({ name: 'tiny', plan: await planTask({ model: join(d.dir, 'tiny.onnx'), modelName: 'tiny' }), device: 'CPU', maxQueue: 8 });
  t = await startTestServer({ executor: lane, pipelines, models: [{ name: 'tiny', path: join(d.dir, 'tiny.onnx') }] });
  client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  local = (await openPipeline(plan, CPU_TARGET)) as GenerationPipeline;
});
after(async () => {
  await t.close();
  await lane.close();
  await local.dispose();
  await cleanup();
});

test('models.list shows the served models', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids.sort(), ['tiny', 'tiny-llama']);
});

test('chat.completions: the same text as the pipeline in-process; streaming gives the same text and usage', { timeout: 60_000 }, async () => {
  const messages = [{ role: 'user' as const, content: 'hello world' }];
  const want = await local.run(messages, { maxTokens: 8 });
  assert.ok(want.text.length > 0 && want.tokens > 0);
  const r = await client.chat.completions.create({ model: 'tiny-llama', messages, max_tokens: 8, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0]?.message.content, want.text);
  assert.equal(r.choices[0]?.finish_reason, want.finish === 'length' ? 'length' : 'stop');
  assert.deepEqual(r.usage, { prompt_tokens: want.promptTokens, completion_tokens: want.tokens, total_tokens: want.promptTokens + want.tokens });

  const stream = await client.chat.completions.create({ model: 'tiny-llama', messages, max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let usage: unknown;
  let finish: string | null | undefined;
  let chunks = 0;
  for await (const c of stream) {
    chunks++;
    text += c.choices[0]?.delta.content ?? '';
    finish = c.choices[0]?.finish_reason ?? finish;
    if (c.usage) usage = c.usage;
  }
  assert.equal(text, want.text);
  assert.ok(chunks >= 3);
  assert.equal(finish, r.choices[0]?.finish_reason);
  assert.deepEqual(usage, r.usage);
});

test('completions: the prompt as given (no chat template), streaming too', { timeout: 60_000 }, async () => {
  const want = await local.run('hello world', { maxTokens: 6, chatTemplate: false });
  const r = await client.completions.create({ model: 'tiny-llama', prompt: 'hello world', max_tokens: 6, temperature: 0 });
  assert.equal(r.choices[0]?.text, want.text);
  let text = '';
  for await (const c of await client.completions.create({ model: 'tiny-llama', prompt: 'hello world', max_tokens: 6, temperature: 0, stream: true })) text += c.choices[0]?.text ?? '';
  assert.equal(text, want.text);
});

test('errors come back as OpenAI errors: unknown model 404, a non-generation model 400, bad parameters 400', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => e instanceof OpenAI.NotFoundError && /unknown model 'nope'/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => e instanceof OpenAI.BadRequestError && /image-classification model, not a text-generation model/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: 'tiny-llama', messages: [{ role: 'user', content: 'x' }], temperature: 9 }), (e: unknown) => e instanceof OpenAI.BadRequestError);
  await assert.rejects(client.embeddings.create({ model: 'tiny-llama', input: 'x' }), (e: unknown) => e instanceof OpenAI.BadRequestError && /not a sentence-embeddings model/.test(e.message));
});
