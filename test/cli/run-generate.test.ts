/**
 * Text generation: the KV-cache loop against full recomputation on a tiny decoder, sampling maths, the
 * chat template through @huggingface/jinja, streaming to stdout, and bad input.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { ortBackend } from '../../src/core/backends/ort.js';
import { generate, pickToken } from '../../src/core/tasks/generate.js';
import { seededRandom } from '../../src/core/random.js';
import { runCli } from '../helpers/run-cli.js';
import { DECODER_TOKENIZER, DECODER_TOKENIZER_CONFIG, tinyDecoder } from '../helpers/tiny-decoder.js';
import { CPU_TARGET } from '../../src/core/backends/ep-map.js';

const ajv = new Ajv({ allErrors: true, strict: false });
const validateRun = ajv.compile(JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/schemas/run-1.schema.json', import.meta.url)), 'utf8')) as object);
const cpu = CPU_TARGET;

const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-generate-'));
after(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'onnx'));
writeFileSync(join(dir, 'onnx', 'model.onnx'), tinyDecoder());
writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(DECODER_TOKENIZER));
writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(DECODER_TOKENIZER_CONFIG));
writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 2 }));
const model = join(dir, 'onnx', 'model.onnx');
const env = { AIVMM_CACHE_DIR: join(dir, 'cache') };

test('the KV-cache loop produces the tokens a full recomputation produces, greedy and sampled', async () => {
  const session = await ortBackend.load(model, cpu);
  const prompt = [1, 8, 3, 4, 9];
  for (const sampling of [{ temperature: 0, seed: 1 }, { temperature: 0.8, topK: 5, topP: 0.9, seed: 7 }]) {
    const cached = await generate(session, prompt, { maxTokens: 12, sampling, stop: new Set() });
    const full = await generate(session, prompt, { maxTokens: 12, sampling, stop: new Set(), noCache: true });
    assert.equal(cached.ids.length, 12);
    assert.deepEqual(cached.ids, full.ids);
  }
  const stopped = await generate(session, prompt, { maxTokens: 12, sampling: { temperature: 0, seed: 1 }, stop: new Set([(await generate(session, prompt, { maxTokens: 3, sampling: { temperature: 0, seed: 1 }, stop: new Set() })).ids[2]!]) });
  assert.equal(stopped.finish, 'stop');
  assert.ok(stopped.ids.length <= 2);
  await session.dispose();
});

test('sampling: greedy argmax; top-k 1 and a tiny top-p are greedy; draws follow the softmax; a seed repeats', () => {
  const logits = Float32Array.of(0.1, 2, Math.log(3) + 2, -1);
  assert.equal(pickToken(logits, { temperature: 0, seed: 1 }, Math.random), 2);
  assert.equal(pickToken(logits, { temperature: 1, topK: 1, seed: 1 }, Math.random), 2);
  assert.equal(pickToken(logits, { temperature: 1, topP: 0.01, seed: 1 }, Math.random), 2);
  const rand = seededRandom(5);
  const counts = [0, 0, 0, 0];
  const s = { temperature: 1, topK: 2, seed: 5 };
  for (let i = 0; i < 4000; i++) counts[pickToken(logits, s, rand)]! += 1;
  assert.equal(counts[0]! + counts[3]!, 0, 'outside the top 2');
  assert.ok(Math.abs(counts[2]! / 4000 - 0.75) < 0.03, `p(2) ${counts[2]! / 4000}`); // e^(x+ln3) / (e^x + e^(x+ln3)) = 3/4
  const a = [seededRandom(9), seededRandom(9)].map((r) => Array.from({ length: 20 }, () => pickToken(logits, { temperature: 1, seed: 9 }, r)));
  assert.deepEqual(a[0], a[1]);
});

test('run: chat template, tokens streamed to stdout, a summary; --json aivmm/run@1', async () => {
  const r = await runCli(['run', model, '--input', 'hello world', '--max-tokens', '6'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\n\(\d tokens, (end of answer|max tokens reached); prompt 5 tokens in .*tokens\/s\)\n/);
  const j = await runCli(['run', model, '--input', 'hello world', '--max-tokens', '6', '--json'], { env });
  const doc = JSON.parse(j.stdout) as { data: { task: string; results: { text: string; promptTokens: number; tokens: number }[] } };
  assert.ok(validateRun(doc), ajv.errorsText(validateRun.errors));
  assert.equal(doc.data.task, 'text-generation');
  assert.equal(doc.data.results[0]?.promptTokens, 5); // <s> <|user|> hello world <|assistant|>, rendered by the template
  assert.ok(r.stdout.startsWith(doc.data.results[0]!.text), 'the streamed text is the result');
  const raw = await runCli(['run', model, '--input', 'hello world', '--max-tokens', '2', '--no-chat-template', '--json'], { env });
  assert.equal((JSON.parse(raw.stdout) as typeof doc).data.results[0]?.promptTokens, 2);
});

test('bad input: a prompt over the context, a model that is no decoder, bad sampling flags', async () => {
  const long = Array.from({ length: 40 }, () => 'hello').join(' ');
  const r = await runCli(['run', model, '--input', long], { env });
  assert.equal(r.code, EXIT_CODES.USAGE);
  assert.match(r.stderr, /the prompt is \d+ tokens; the model's context is 32/);
  assert.equal((await runCli(['run', model, '--input', 'x', '--temperature', '-1'], { env })).code, EXIT_CODES.USAGE);
  assert.equal((await runCli(['run', model, '--input', 'x', '--top-p', '1.5'], { env })).code, EXIT_CODES.USAGE);
  const conv = await runCli(['run', 'tiny-convnet', '--task', 'text-generation', '--input', 'x'], { env });
  assert.equal(conv.code, EXIT_CODES.USAGE);
  assert.match(conv.stderr, /inputs do not fit text-generation/);
});

test('--interactive: each line is a turn with the history kept; EOF ends; one stats line per reply', async () => {
  const { spawnSync } = await import('node:child_process');
  const { BIN } = await import('../helpers/run-cli.js');
  const r = spawnSync(process.execPath, [BIN, 'run', model, '--interactive', '--max-tokens', '4'], { input: 'hello world\n\nhow are you\n', encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.match(/^\(\d+ tokens?, [\d.]+ tokens\/s/gm)?.length, 2, r.stderr);
  const bad = spawnSync(process.execPath, [BIN, 'run', model, '--interactive', '--input', 'x'], { input: '', encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(bad.status, EXIT_CODES.USAGE);
});
