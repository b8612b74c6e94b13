/**
 * Continuous batching for text generation: the GenerationScheduler over the tiny Llama fixture's real
 * pipeline (onnxruntime-node), and the same through a real server (worker lane, loopback HTTP, streaming
 * chat). Interleaved sequences give the tokens sequential runs give (greedy and seeded sampling); a
 * request admitted while others run starts before they finish; a cancelled one frees its slot; and the
 * OpenAI routes record outcomes, TTFT and TPOT in /metrics.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { ConfigError } from '../../src/core/errors.js';
import { parseServeConfig } from '../../src/core/serve/config.js';
import { batchable, batchStepper } from '../../src/core/serve/batched-step.js';
import { GenerationScheduler, type TokenEvent } from '../../src/core/serve/generation-scheduler.js';
import { createServeMetrics } from '../../src/core/serve-metrics/index.js';
import type { Sampling } from '../../src/core/tasks/generate.js';
import { openPipeline, type GenerationPipeline } from '../../src/core/tasks/pipeline.js';
import { planTask } from '../../src/core/tasks/plan.js';
import { LaneExecutor, PIPELINE_JOB_MODULE } from '../../src/server/lane-executor.js';
import { PipelineService } from '../../src/server/pipelines.js';
import { parseExposition, type Family } from '../helpers/prom-text.js';
import { DECODER_TOKENIZER, DECODER_TOKENIZER_CONFIG, tinyDecoder } from '../helpers/tiny-decoder.js';
import { postJson, startTestServer, tmp, type TestServer } from './helpers.js';

const LLAMA = fileURLToPath(new URL('../fixtures/tiny-llama/model.onnx', import.meta.url));
let p: GenerationPipeline;

before(async () => {
  p = (await openPipeline(await planTask({ model: LLAMA, modelName: 'tiny-llama', task: 'text-generation' }), CPU_TARGET)) as GenerationPipeline;
});
after(async () => {
  await p.dispose();
});

const GREEDY: Sampling = { temperature: 0, seed: 1 };
const cases: { content: string; maxTokens: number; sampling: Sampling }[] = [
  { content: 'hello world', maxTokens: 24, sampling: GREEDY },
  { content: 'hello', maxTokens: 6, sampling: { temperature: 0.9, topK: 20, seed: 7 } },
  { content: 'world hello world', maxTokens: 30, sampling: { temperature: 0.7, topP: 0.9, seed: 3 } },
  { content: 'hi', maxTokens: 10, sampling: GREEDY },
  { content: 'hello hello', maxTokens: 16, sampling: { temperature: 1.2, seed: 11 } },
];

test('interleaved sequences give the sequential run\'s tokens and text (greedy and seeded sampling); new ones join as others finish', async () => {
  const want = [];
  const wantStream: string[] = [];
  for (const c of cases) {
    let s = '';
    want.push(await p.run([{ role: 'user', content: c.content }], { maxTokens: c.maxTokens, sampling: c.sampling, onText: (d) => (s += d) }));
    wantStream.push(s);
  }
  const sched = new GenerationScheduler(p, 2);
  const order: number[] = [];
  const streamed = cases.map(() => '');
  const firstAt: number[] = [];
  const doneAt: number[] = [];
  const got = await Promise.all(
    cases.map((c, k) =>
      sched
        .submit({
          promptIds: p.renderChat([{ role: 'user', content: c.content }]),
          maxTokens: c.maxTokens,
          sampling: c.sampling,
          onToken: (e: TokenEvent) => {
            order.push(k);
            streamed[k] += e.delta;
            firstAt[k] ??= order.length;
          },
        })
        .then((r) => {
          doneAt[k] = order.length;
          return r;
        }),
    ),
  );
  for (const [k, w] of want.entries()) {
    assert.equal(got[k]!.text, w.text, `request ${k}: the text of a sequential run`);
    assert.equal(got[k]!.tokens, w.tokens);
    assert.equal(got[k]!.finish, w.finish);
    assert.equal(got[k]!.promptTokens, w.promptTokens);
    assert.equal(streamed[k], wantStream[k], `request ${k}: the deltas a sequential run streams`);
  }
  assert.ok(want.every((w) => w.tokens > 0));
  assert.equal(sched.stats.peakActive, 2, 'never more than max_sequences at once');
  assert.deepEqual([sched.stats.active, sched.stats.waiting], [0, 0]);
  // Round-robin: the first two alternate token by token.
  assert.deepEqual(order.slice(0, 4), [0, 1, 0, 1]);
  // Request 2 takes request 1's slot when it ends (6 tokens), while request 0 (24) still runs.
  assert.ok(firstAt[2]! < doneAt[0]!, `request 2 started (event ${firstAt[2]}) before request 0 ended (event ${doneAt[0]})`);
});

test('a cancelled sequence ends with what it has and frees its slot for a waiting one', async () => {
  const sched = new GenerationScheduler(p, 1);
  const ac = new AbortController();
  const ids = p.renderChat([{ role: 'user', content: 'hello world' }]);
  let seen = 0;
  const a = sched.submit({ promptIds: ids, maxTokens: 60, sampling: GREEDY, signal: ac.signal, onToken: () => ++seen === 3 && ac.abort() });
  const b = sched.submit({ promptIds: ids, maxTokens: 5, sampling: GREEDY });
  const ra = await a;
  assert.equal(ra.finish, 'interrupted');
  assert.equal(ra.tokens, 3);
  const rb = await b;
  assert.equal(rb.tokens, 5);
  assert.equal(rb.finish, 'length');
  assert.ok(rb.queueMs >= 0);
  // aborted before it was admitted: no tokens, no prefill
  const gone = new AbortController();
  gone.abort();
  const rc = await sched.submit({ promptIds: ids, maxTokens: 5, signal: gone.signal });
  assert.deepEqual([rc.finish, rc.tokens], ['interrupted', 0]);
});

test('an error in one sequence fails that request only; closing fails what is left with a 503', async () => {
  const sched = new GenerationScheduler(p, 2);
  const ok = sched.submit({ promptIds: p.renderChat([{ role: 'user', content: 'hi' }]), maxTokens: 4 });
  const tooLong = sched.submit({ promptIds: new Array<number>(200).fill(5), maxTokens: 4 });
  await assert.rejects(tooLong, /the prompt is 200 tokens; the model's context is 128/);
  assert.equal((await ok).tokens, 4);
  const long = sched.submit({ promptIds: p.renderChat([{ role: 'user', content: 'hi' }]), maxTokens: 100 });
  const waiting = sched.submit({ promptIds: p.renderChat([{ role: 'user', content: 'hi' }]), maxTokens: 100 });
  const third = sched.submit({ promptIds: p.renderChat([{ role: 'user', content: 'hi' }]), maxTokens: 100 });
  await new Promise((r) => setTimeout(r, 20));
  sched.close();
  for (const r of [long, waiting, third]) await assert.rejects(r, (e: unknown) => (e as { status?: number }).status === 503);
  await assert.rejects(sched.submit({ promptIds: [1, 2], maxTokens: 1 }), (e: unknown) => (e as { status?: number }).status === 503);
});

/** Streams one chat completion; the time (ms since `t0`) of its first and last content chunks. */
async function streamChat(url: string, body: Record<string, unknown>, t0: number): Promise<{ text: string; first: number; last: number; usage?: { completion_tokens: number } }> {
  const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }) });
  assert.equal(r.status, 200);
  let text = '';
  let first = -1;
  let last = -1;
  let usage: { completion_tokens: number } | undefined;
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of r.body!) {
    buf += decoder.decode(chunk as Uint8Array, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      const ev = JSON.parse(line.slice(6)) as { choices: { delta?: { content?: string } }[]; usage?: { completion_tokens: number } | null; error?: unknown };
      assert.equal(ev.error, undefined);
      const d = ev.choices[0]?.delta?.content;
      if (d) {
        text += d;
        if (first < 0) first = performance.now() - t0;
        last = performance.now() - t0;
      }
      if (ev.usage) usage = ev.usage;
    }
  }
  return { text, first, last, ...(usage ? { usage } : {}) };
}

const value = (f: Family | undefined, labels: Record<string, string>, name = f?.name): number | undefined =>
  f?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

test('over HTTP: concurrent streaming chats interleave in the lane (a second request streams before the first ends), with the sequential texts; /metrics has outcomes, TTFT and TPOT', { timeout: 120_000 }, async () => {
  const lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, jobModules: [PIPELINE_JOB_MODULE] });
  const metrics = createServeMetrics();
  const pipelines = new PipelineService(async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'test' } }));
  const plan = await planTask({ model: LLAMA, modelName: 'tiny-llama' });
  pipelines.add({ name: 'tiny-llama', plan, device: 'CPU', maxQueue: 8, maxSequences: 4 });
  let t: TestServer | undefined;
  try {
    t = await startTestServer({ executor: lane, pipelines, server: { metrics } });
    const url = t.url;
    const reqs = [
      { content: 'hello world', max_tokens: 100, temperature: 0 },
      { content: 'hello', max_tokens: 8, temperature: 0.8, seed: 5 },
      { content: 'world', max_tokens: 8, temperature: 0 },
    ];
    const want = [];
    const wantStream: string[] = [];
    for (const q of reqs) {
      let s = '';
      want.push(await p.run([{ role: 'user', content: q.content }], { maxTokens: q.max_tokens, sampling: { temperature: q.temperature, seed: q.seed ?? 1 }, onText: (x) => (s += x) }));
      wantStream.push(s);
    }
    assert.ok(want[0]!.tokens >= 40, `the long request makes ${want[0]!.tokens} tokens`);
    await pipelines.task('tiny-llama'); // opened in the lane before the clock starts
    const t0 = performance.now();
    const first = streamChat(url, { model: 'tiny-llama', messages: [{ role: 'user', content: reqs[0]!.content }], max_tokens: reqs[0]!.max_tokens, temperature: 0 }, t0);
    await new Promise((r) => setTimeout(r, 30));
    const rest = reqs.slice(1).map((q) => streamChat(url, { model: 'tiny-llama', messages: [{ role: 'user', content: q.content }], max_tokens: q.max_tokens, temperature: q.temperature, ...(q.seed !== undefined ? { seed: q.seed } : {}) }, t0));
    const got = await Promise.all([first, ...rest]);
    for (const [k, w] of want.entries()) {
      assert.equal(got[k]!.text, wantStream[k], `request ${k}: the text a sequential run streams`);
      assert.equal(got[k]!.usage?.completion_tokens, w.tokens);
    }
    // One at a time, request 1 could not start before request 0's last token.
    assert.ok(got[1]!.first < got[0]!.last && got[2]!.first < got[0]!.last, `requests 1 and 2 streamed (from ${got[1]!.first.toFixed(0)} / ${got[2]!.first.toFixed(0)} ms) before request 0 ended (${got[0]!.last.toFixed(0)} ms)`);

    // A non-streaming one, one for a model that is not served (no series), and a bad body (bad_input).
    const plain = await postJson(`${url}/v1/chat/completions`, { model: 'tiny-llama', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    assert.equal(plain.status, 200);
    assert.equal((await postJson(`${url}/v1/chat/completions`, { model: 'nope', messages: [{ role: 'user', content: 'hi' }] })).status, 404);
    assert.equal((await postJson(`${url}/v1/chat/completions`, { model: 'tiny-llama', messages: [{ role: 'user', content: 'hi' }], temperature: 9 })).status, 400);
    const text = await postJson(`${url}/v1/completions`, { model: 'tiny-llama', prompt: 'hello', max_tokens: 4 });
    assert.equal(text.status, 200);
    const fams = parseExposition(await (await fetch(`${url}/metrics`)).text());
    const mv = { model: 'tiny-llama', version: '1' };
    assert.equal(value(fams.get('aivmm_inference_request_success_total'), mv), 5);
    assert.equal(value(fams.get('aivmm_inference_request_failure_total'), { ...mv, reason: 'bad_input' }), 1);
    assert.equal(fams.get('aivmm_inference_request_success_total')!.samples.filter((s) => s.labels.model === 'nope').length, 0);
    assert.equal(value(fams.get('aivmm_inference_request_duration_seconds'), mv, 'aivmm_inference_request_duration_seconds_count'), 6);
    const chat = { gen_ai_operation_name: 'chat', gen_ai_request_model: 'tiny-llama' };
    const ttft = fams.get('gen_ai_server_time_to_first_token_seconds');
    assert.equal(value(ttft, chat, 'gen_ai_server_time_to_first_token_seconds_count'), 4);
    assert.equal(value(ttft, { ...chat, gen_ai_operation_name: 'text_completion' }, 'gen_ai_server_time_to_first_token_seconds_count'), 1);
    const ttftSum = value(ttft, chat, 'gen_ai_server_time_to_first_token_seconds_sum')!;
    assert.ok(ttftSum > 0 && ttftSum < 60, `TTFT sum ${ttftSum} s`);
    assert.equal(value(fams.get('gen_ai_server_time_per_output_token_seconds'), chat, 'gen_ai_server_time_per_output_token_seconds_count'), 4);
    assert.equal(value(fams.get('aivmm_generation_time_to_first_token_seconds'), { model: 'tiny-llama' }, 'aivmm_generation_time_to_first_token_seconds_count'), 5);
    const tokens = want.reduce((a, w) => a + w.tokens, 0) + (plain.json.usage.completion_tokens as number) + (text.json.usage.completion_tokens as number);
    assert.equal(value(fams.get('aivmm_generation_output_tokens_total'), { model: 'tiny-llama' }), tokens);
    assert.equal(value(fams.get('gen_ai_server_request_duration_seconds'), chat, 'gen_ai_server_request_duration_seconds_count'), 4);
  } finally {
    await t?.close();
    await lane.close();
  }
});

test('max_sequences: a model config key (an integer ≥ 1); with 1 the server runs one generation at a time, and a client that disconnects frees the slot', { timeout: 120_000 }, async () => {
  assert.equal(parseServeConfig('models:\n  llm:\n    model: x.onnx\n    max_sequences: 2\n', 'aivmm.yaml').models[0]?.maxSequences, 2);
  assert.throws(() => parseServeConfig('models:\n  llm:\n    max_sequences: 0\n', 'aivmm.yaml'), (e: unknown) => e instanceof ConfigError && /models\.llm\.max_sequences: '0' must be an integer ≥ 1/.test(e.message));
  const lane = new LaneExecutor({ name: 'CPU ort-cpu', target: CPU_TARGET, jobModules: [PIPELINE_JOB_MODULE] });
  const pipelines = new PipelineService(async () => ({ executor: lane, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'test' } }));
  pipelines.add({ name: 'tiny-llama', plan: await planTask({ model: LLAMA, modelName: 'tiny-llama' }), device: 'CPU', maxQueue: 8, maxSequences: 1 });
  let t: TestServer | undefined;
  try {
    const metrics = createServeMetrics();
    t = await startTestServer({ executor: lane, pipelines, server: { metrics } });
    await pipelines.task('tiny-llama');
    const t0 = performance.now();
    const first = streamChat(t.url, { model: 'tiny-llama', messages: [{ role: 'user', content: 'hello world' }], max_tokens: 60, temperature: 0 }, t0);
    await new Promise((r) => setTimeout(r, 30));
    const second = await streamChat(t.url, { model: 'tiny-llama', messages: [{ role: 'user', content: 'hello' }], max_tokens: 4, temperature: 0 }, t0);
    const a = await first;
    assert.ok(second.first > a.last, `one at a time: the second request's first token (${second.first.toFixed(0)} ms) after the first's last (${a.last.toFixed(0)} ms)`);
    // A client that goes away after its first chunk: its sequence ends and the next request gets the slot.
    const ac = new AbortController();
    const r = await fetch(`${t.url}/v1/chat/completions`, { method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-llama', messages: [{ role: 'user', content: 'hello world' }], max_tokens: 110, temperature: 0, stream: true }) });
    const reader = r.body!.getReader();
    await reader.read();
    ac.abort();
    await reader.read().catch(() => undefined);
    const next = await postJson(`${t.url}/v1/chat/completions`, { model: 'tiny-llama', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    assert.equal(next.status, 200);
    const fams = parseExposition(await (await fetch(`${t.url}/metrics`)).text());
    assert.equal(value(fams.get('aivmm_inference_request_failure_total'), { model: 'tiny-llama', version: '1', reason: 'cancelled' }), 1, 'the disconnected request counts as cancelled');
    assert.equal(value(fams.get('aivmm_inference_request_success_total'), { model: 'tiny-llama', version: '1' }), 3);
  } finally {
    await t?.close();
    await lane.close();
  }
});

test('a decoder with a batch dimension: each round is one batched run (caches left-padded, masked), with the tokens of sequential runs', async () => {
  const d = await tmp();
  try {
    await mkdir(join(d.dir, 'onnx'));
    await writeFile(join(d.dir, 'onnx', 'model.onnx'), tinyDecoder(5, { batch: true }));
    await writeFile(join(d.dir, 'tokenizer.json'), JSON.stringify(DECODER_TOKENIZER));
    await writeFile(join(d.dir, 'tokenizer_config.json'), JSON.stringify(DECODER_TOKENIZER_CONFIG));
    const bp = (await openPipeline(await planTask({ model: join(d.dir, 'onnx', 'model.onnx'), modelName: 'tiny-b', task: 'text-generation' }), CPU_TARGET)) as GenerationPipeline;
    try {
      assert.equal(batchable(bp.sessions[0]!), true);
      assert.equal(batchable(p.sessions[0]!), false, 'the tiny Llama export has batch 1: round-robin single steps');
      const reqs = [
        { content: 'hello world how are you', maxTokens: 20, sampling: GREEDY },
        { content: 'hello', maxTokens: 7, sampling: { temperature: 0.9, seed: 4 } },
        { content: 'you are fine thanks', maxTokens: 14, sampling: { temperature: 1.1, topK: 6, seed: 9 } },
        { content: 'world', maxTokens: 18, sampling: { temperature: 0.8, topP: 0.9, seed: 2 } },
        { content: 'how are', maxTokens: 11, sampling: GREEDY },
      ];
      const want = [];
      for (const r of reqs) want.push(await bp.run([{ role: 'user', content: r.content }], { maxTokens: r.maxTokens, sampling: r.sampling }));
      const session = bp.sessions[0]!;
      const b = batchStepper(session);
      const sched = new GenerationScheduler({ prefill: bp.prefill, step: bp.step, detokenize: bp.detokenize, stepBatch: b.stepBatch, batchEnabled: b.enabled }, 3);
      const got = await Promise.all(reqs.map((r) => sched.submit({ promptIds: bp.renderChat([{ role: 'user', content: r.content }]), maxTokens: r.maxTokens, sampling: r.sampling })));
      for (const [k, w] of want.entries()) {
        assert.equal(got[k]!.text, w.text, `request ${k}`);
        assert.equal(got[k]!.tokens, w.tokens, `request ${k}: tokens`);
        assert.equal(got[k]!.finish, w.finish);
      }
      // Prompts of different lengths: the caches in one run are padded to the longest.
      assert.ok(new Set(got.map((g) => g.promptTokens)).size >= 3, `prompt lengths ${got.map((g) => g.promptTokens).join(', ')}`);
      assert.ok(want.filter((w) => w.tokens >= 3).length >= 3, `tokens ${want.map((w) => w.tokens).join(', ')}`);
      assert.equal(sched.stats.peakActive, 3);
      assert.equal(b.verdict(), true, 'the first batched round matched the runs alone');
      assert.equal(b.enabled(), true);
      assert.ok(sched.stats.batchedSteps > 0 && sched.stats.batchedSequences / sched.stats.batchedSteps > 1.5, `batched rounds: ${JSON.stringify(sched.stats)}`);
    } finally {
      await bp.dispose();
    }
  } finally {
    await d.cleanup();
  }
});

test('a decoder that takes a batch but not a left-padded cache: the checked first round disagrees, and it steps alone with the sequential tokens', async () => {
  const d = await tmp();
  try {
    // The causal mask from position ids (the unbatched fixture's) with a batch dimension: padding breaks it.
    const bytes = tinyDecoder(5, { batch: true, positionCausal: true });
    await mkdir(join(d.dir, 'onnx'));
    await writeFile(join(d.dir, 'onnx', 'model.onnx'), bytes);
    await writeFile(join(d.dir, 'tokenizer.json'), JSON.stringify(DECODER_TOKENIZER));
    await writeFile(join(d.dir, 'tokenizer_config.json'), JSON.stringify(DECODER_TOKENIZER_CONFIG));
    const bp = (await openPipeline(await planTask({ model: join(d.dir, 'onnx', 'model.onnx'), modelName: 'tiny-b', task: 'text-generation' }), CPU_TARGET)) as GenerationPipeline;
    try {
      assert.equal(batchable(bp.sessions[0]!), true);
      const reqs = [
        { content: 'hello world how are you', maxTokens: 12, sampling: GREEDY },
        { content: 'hello', maxTokens: 12, sampling: { temperature: 0.9, seed: 4 } },
        { content: 'how are', maxTokens: 12, sampling: GREEDY },
      ];
      const want = [];
      for (const r of reqs) want.push(await bp.run([{ role: 'user', content: r.content }], { maxTokens: r.maxTokens, sampling: r.sampling }));
      const b = batchStepper(bp.sessions[0]!);
      const sched = new GenerationScheduler({ prefill: bp.prefill, step: bp.step, detokenize: bp.detokenize, stepBatch: b.stepBatch, batchEnabled: b.enabled }, 3);
      const got = await Promise.all(reqs.map((r) => sched.submit({ promptIds: bp.renderChat([{ role: 'user', content: r.content }]), maxTokens: r.maxTokens, sampling: r.sampling })));
      for (const [k, w] of want.entries()) assert.equal(got[k]!.text, w.text, `request ${k}`);
      assert.equal(b.verdict(), false);
      assert.equal(b.enabled(), false);
      assert.equal(sched.stats.batchedSteps, 1, 'only the checked round');
    } finally {
      await bp.dispose();
    }
  } finally {
    await d.cleanup();
  }
});
