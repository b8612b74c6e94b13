/**
 * A one-layer, two-head decoder with a KV cache in Hugging Face's ONNX layout (input_ids, attention_mask,
 * position_ids, past_key_values.0.key/value → logits, present.0.key/value), seeded weights, and a
 * word-level tokenizer with a chat template: a real (if tiny) fixture for the generation loop.
 */
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';

export const DECODER_VOCAB = ['<unk>', '<s>', '</s>', 'hello', 'world', 'how', 'are', 'you', '<|user|>', '<|assistant|>', 'fine', 'thanks'];
const V = DECODER_VOCAB.length;
const H = 8;
const HEADS = 2;
const HD = 4;

/**
 * `batch`: a symbolic batch dimension (B) instead of 1, so several sequences can run in one call;
 * `positionCausal` keeps the causal mask from position ids then (wrong for a left-padded cache).
 */
export function tinyDecoder(seed = 3, opts: { batch?: boolean; positionCausal?: boolean } = {}): Uint8Array {
  const b = new GraphBuilder(seed);
  const N = opts.batch ? 'B' : 1;
  const ids = b.input({ name: 'input_ids', dataType: 'int64', shape: [N, 'S'] });
  const mask = b.input({ name: 'attention_mask', dataType: 'int64', shape: [N, 'T'] });
  const pos = b.input({ name: 'position_ids', dataType: 'int64', shape: [N, 'S'] });
  const pastK = b.input({ name: 'past_key_values.0.key', dataType: 'float32', shape: [N, HEADS, 'P', HD] });
  const pastV = b.input({ name: 'past_key_values.0.value', dataType: 'float32', shape: [N, HEADS, 'P', HD] });
  const i64 = (prefix: string, values: number[], dims: number[] = [values.length]): string => b.constant(prefix, dims, BigInt64Array.from(values, (v) => BigInt(v)), 'int64');
  const w = (prefix: string, r: number, c: number, std: number): string => b.constant(prefix, [r, c], b.normal(r * c, std));
  const h = b.op('Add', [b.op('Gather', [w('tok', V, H, 1), ids]), b.op('Gather', [w('pos', 64, H, 0.5), pos])]);
  const heads = (x: string): string => b.op('Transpose', [b.op('Reshape', [x, i64('shape', [0, -1, HEADS, HD])])], [{ name: 'perm', type: 'ints', value: [0, 2, 1, 3] }]);
  const q = heads(b.op('MatMul', [h, w('wq', H, H, 0.5)]));
  const k = heads(b.op('MatMul', [h, w('wk', H, H, 0.5)]));
  const v = heads(b.op('MatMul', [h, w('wv', H, H, 0.5)]));
  const presentK = b.op('Concat', [pastK, k], [{ name: 'axis', type: 'int', value: 2 }], 'present.0.key');
  const presentV = b.op('Concat', [pastV, v], [{ name: 'axis', type: 'int', value: 2 }], 'present.0.value');
  const kt = b.op('Transpose', [presentK], [{ name: 'perm', type: 'ints', value: [0, 1, 3, 2] }]);
  const scores = b.op('Mul', [b.op('MatMul', [q, kt]), b.constant('scale', [], Float32Array.of(1 / Math.sqrt(HD)))]);
  // Causal: key position ≤ query position; and the attention mask.
  const total = b.op('Gather', [b.op('Shape', [presentK]), i64('axis2', [2], [])], [{ name: 'axis', type: 'int', value: 0 }]);
  const keyPos = b.op('Reshape', [b.op('Range', [i64('zero', [0], []), total, i64('one', [1], [])]), i64('kshape', [1, 1, 1, -1])]);
  // Batched: the causal mask over cache positions (the last S of T, as Hugging Face's cache_position),
  // so that left-padded caches work; unbatched: the position ids (the same thing without padding).
  const seqLen = (): string => b.op('Gather', [b.op('Shape', [ids]), i64('axis1', [1], [])], [{ name: 'axis', type: 'int', value: 0 }]);
  const queryPos = opts.batch && !opts.positionCausal
    ? b.op('Reshape', [b.op('Range', [b.op('Sub', [total, seqLen()]), total, i64('one', [1], [])]), i64('qshape', [1, 1, -1, 1])])
    : b.op('Reshape', [pos, i64('qshape', [opts.batch ? 0 : 1, 1, -1, 1])]);
  const causal = b.op('LessOrEqual', [keyPos, queryPos]);
  const padded = b.op('Cast', [b.op('Reshape', [mask, i64('mshape', [opts.batch ? 0 : 1, 1, 1, -1])])], [{ name: 'to', type: 'int', value: 9 }]);
  const allowed = b.op('And', [causal, padded]);
  const masked = b.op('Where', [allowed, scores, b.constant('neg', [], Float32Array.of(-1e9))]);
  const attn = b.op('Softmax', [masked], [{ name: 'axis', type: 'int', value: -1 }]);
  const ctx = b.op('Reshape', [b.op('Transpose', [b.op('MatMul', [attn, presentV])], [{ name: 'perm', type: 'ints', value: [0, 2, 1, 3] }]), i64('oshape', [0, -1, H])]);
  const h2 = b.op('Add', [h, b.op('MatMul', [ctx, w('wo', H, H, 0.5)])]);
  b.op('MatMul', [h2, w('lm', H, V, 1)], [], 'logits');
  b.output({ name: 'logits', dataType: 'float32', shape: [N, 'S', V] });
  b.output({ name: 'present.0.key', dataType: 'float32', shape: [N, HEADS, 'T', HD] });
  b.output({ name: 'present.0.value', dataType: 'float32', shape: [N, HEADS, 'T', HD] });
  return encodeModel({ opsets: [{ domain: '', version: 17 }], graph: b.graph('tiny-decoder') });
}

const special = (id: number, content: string): object => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

export const DECODER_TOKENIZER = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>'), special(8, '<|user|>'), special(9, '<|assistant|>')],
  normalizer: null,
  pre_tokenizer: { type: 'Whitespace' },
  post_processor: null,
  decoder: null,
  model: { type: 'WordLevel', vocab: Object.fromEntries(DECODER_VOCAB.map((t, i) => [t, i])), unk_token: '<unk>' },
};

export const DECODER_TOKENIZER_CONFIG = {
  bos_token: '<s>',
  eos_token: '</s>',
  model_max_length: 32,
  chat_template: "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|> {{ m.content }} {% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}",
};
