/**
 * `aivmm run` sentence embeddings on a generated encoder and a hand-written WordPiece tokenizer.json,
 * read by @huggingface/tokenizers: token ids, round trips, mean pooling under the mask against a
 * hand computation, padding in batches, the context limit.
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
import { loadTokenizer } from '../../src/core/tasks/text.js';
import { runCli } from '../helpers/run-cli.js';
import { TOKENIZER, H, encoder } from '../helpers/wordpiece.js';

const ajv = new Ajv({ allErrors: true, strict: false });
const validateRun = ajv.compile(JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/schemas/run-1.schema.json', import.meta.url)), 'utf8')) as object);



const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-run-text-'));
after(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'onnx'));
const { bytes, table, types } = encoder();
writeFileSync(join(dir, 'onnx', 'model.onnx'), bytes); // a Hub snapshot's layout: tokenizer at the root
writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(TOKENIZER));
writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 12, pad_token: '[PAD]' }));
const env = { AIVMM_CACHE_DIR: join(dir, 'cache') };

function expected(ids: number[]): number[] {
  const v = new Array<number>(H).fill(0);
  for (const id of ids) for (let k = 0; k < H; k++) v[k]! += table[id * H + k]! + types[k]!;
  const mean = v.map((x) => x / ids.length);
  const norm = Math.hypot(...mean);
  return mean.map((x) => x / norm);
}

test('the tokenizer: WordPiece ids with [CLS]/[SEP], sub-words, unknown words, decode round trip', async () => {
  const tok = await loadTokenizer(join(dir, 'tokenizer.json'));
  assert.deepEqual(tok.encode('A cat sat.').ids, [2, 4, 5, 6, 13, 3]);
  assert.deepEqual(tok.encode('the dogs ran').ids, [2, 10, 7, 12, 8, 3]);
  assert.deepEqual(tok.encode('a zebra').ids, [2, 4, 1, 3]);
  assert.equal(tok.decode(tok.encode('The dogs ran on the mat.').ids), 'the dogs ran on the mat.');
  assert.equal(tok.padId, 0);
  assert.equal(tok.maxLength, 12);
});

test('sentence embeddings: mean pooling under the mask, unit length, padding does not change a vector, similarity matrix', async () => {
  const r = await runCli(['run', join(dir, 'onnx', 'model.onnx'), '--input', 'a cat sat', '--input', 'the dogs ran on the mat.', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { data: { task: string; results: { tokens: number; embedding: number[] }[]; similarity: number[][] } };
  assert.ok(validateRun(doc), ajv.errorsText(validateRun.errors));
  assert.equal(doc.data.task, 'sentence-embeddings');
  const [a, b] = doc.data.results;
  assert.equal(a?.tokens, 5);
  assert.equal(b?.tokens, 10);
  expected([2, 4, 5, 6, 3]).forEach((x, k) => assert.ok(Math.abs(x - a!.embedding[k]!) < 1e-5, `dim ${k}`));
  expected([2, 10, 7, 12, 8, 9, 10, 11, 13, 3]).forEach((x, k) => assert.ok(Math.abs(x - b!.embedding[k]!) < 1e-5, `dim ${k}`));
  assert.equal(doc.data.similarity[0]![0], 1);
  assert.ok(Math.abs(doc.data.similarity[0]![1]! - a!.embedding.reduce((s, x, k) => s + x * b!.embedding[k]!, 0)) < 1e-5);
  const plain = await runCli(['run', join(dir, 'onnx', 'model.onnx'), '--input', 'a cat sat'], { env });
  assert.match(plain.stdout, /^"a cat sat": 8 dims, 5 tokens \[/);
});

test('a text longer than the context is refused (exit 2) unless --truncate', async () => {
  const long = Array.from({ length: 20 }, () => 'cat').join(' ');
  const r = await runCli(['run', join(dir, 'onnx', 'model.onnx'), '--input', long], { env });
  assert.equal(r.code, EXIT_CODES.USAGE);
  assert.match(r.stderr, /text 1 is 22 tokens; the model's context is 12/);
  const cut = await runCli(['run', join(dir, 'onnx', 'model.onnx'), '--input', long, '--truncate', '--json'], { env });
  assert.equal(cut.code, 0, cut.stderr);
  assert.equal((JSON.parse(cut.stdout) as { data: { results: { tokens: number }[] } }).data.results[0]?.tokens, 12);
  const none = await runCli(['run', join(dir, 'onnx', 'model.onnx'), '--input', 'x', '--tokenizer', join(dir, 'missing.json')], { env });
  assert.equal(none.code, EXIT_CODES.NOT_FOUND);
});
