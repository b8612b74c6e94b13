/**
 * A tiny random-weight Llama exported by transformers itself (scripts/fixtures/export_tiny_llama.py, run
 * on the GPU machine: torch 2.11, transformers 5.17) with its BPE tokenizer: aivmm's tokenizer must give
 * the ids Python's tokenizers gave, and aivmm's KV-cache loop the tokens transformers' generate() gave.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ortBackend } from '../../src/core/backends/ort.js';
import { generate } from '../../src/core/tasks/generate.js';
import { loadTokenizer } from '../../src/core/tasks/text.js';
import { runCli } from '../helpers/run-cli.js';
import { CPU_TARGET } from '../../src/core/backends/ep-map.js';

const DIR = fileURLToPath(new URL('../fixtures/tiny-llama/', import.meta.url));
const REF = JSON.parse(readFileSync(`${DIR}reference.json`, 'utf8')) as { prompt: string; prompt_ids: number[]; generated: number[] };
const cpu = CPU_TARGET;

test('the tokenizer gives the ids Python tokenizers gave for the reference prompt', async () => {
  const tok = await loadTokenizer(`${DIR}tokenizer.json`);
  assert.deepEqual(tok.encode(REF.prompt, false).ids, REF.prompt_ids);
  assert.equal(tok.decode(REF.prompt_ids, false), REF.prompt);
});

test('decoding no ids is the empty text (a generation whose first token is EOS), not a tokenizers error', async () => {
  const tok = await loadTokenizer(`${DIR}tokenizer.json`);
  assert.equal(tok.decode([]), '');
  assert.equal(tok.decode([], false), '');
});

test('greedy decoding with the KV cache reproduces transformers generate(), and so does full recomputation', async () => {
  const session = await ortBackend.load(`${DIR}model.onnx`, cpu);
  const stop = new Set([1]);
  const cached = await generate(session, REF.prompt_ids, { maxTokens: REF.generated.length, sampling: { temperature: 0, seed: 1 }, stop });
  const full = await generate(session, REF.prompt_ids, { maxTokens: REF.generated.length, sampling: { temperature: 0, seed: 1 }, stop, noCache: true });
  const want = REF.generated.includes(1) ? REF.generated.slice(0, REF.generated.indexOf(1)) : REF.generated;
  assert.deepEqual(cached.ids, want);
  assert.deepEqual(full.ids, want);
  await session.dispose();
});

test('run on the exported model: chat template, grouped-query KV cache, streaming', async () => {
  const r = await runCli(['run', `${DIR}model.onnx`, '--input', 'hello world', '--max-tokens', '8', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { data: { task: string; results: { tokens: number; promptTokens: number }[] } };
  assert.equal(doc.data.task, 'text-generation');
  assert.ok(doc.data.results[0]!.promptTokens > 5);
  assert.ok(doc.data.results[0]!.tokens <= 8);
});
