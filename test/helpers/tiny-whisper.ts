/**
 * A Whisper-shaped pair with seeded weights in Hugging Face's merged-decoder layout: encoder_model
 * (input_features [1, 80, 3000] → last_hidden_state [1, 2, D]) and decoder_model_merged (input_ids,
 * encoder_hidden_states, past_key_values.0.decoder|encoder.key|value, use_cache_branch → logits,
 * present.*). Positions come from the cache length, as in Whisper; the cross-attention keys are recomputed
 * from the encoder output each step (same values as cached ones), so one graph serves both branches.
 */
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';

export const WHISPER_VOCAB = ['<|endoftext|>', '<|startoftranscript|>', '<|en|>', '<|de|>', '<|transcribe|>', '<|translate|>', '<|notimestamps|>', 'the', 'cat', 'sat', 'hello', 'world'];
const V = WHISPER_VOCAB.length;
const D = 8;
const HEADS = 2;
const HD = 4;

export function tinyWhisperEncoder(): Uint8Array {
  const b = new GraphBuilder(31);
  const x = b.input({ name: 'input_features', dataType: 'float32', shape: [1, 80, 3000] });
  const pooled = b.op('ReduceMean', [x], [{ name: 'axes', type: 'ints', value: [2] }, { name: 'keepdims', type: 'int', value: 0 }]); // [1, 80]
  const a = b.op('MatMul', [pooled, b.constant('wa', [80, D], b.normal(80 * D, 1))]);
  const c = b.op('MatMul', [pooled, b.constant('wb', [80, D], b.normal(80 * D, 1))]);
  b.op('Concat', [b.op('Unsqueeze', [a, b.constant('ax', [1], BigInt64Array.of(1n), 'int64')]), b.op('Unsqueeze', [c, b.constant('ax2', [1], BigInt64Array.of(1n), 'int64')])], [{ name: 'axis', type: 'int', value: 1 }], 'last_hidden_state');
  b.output({ name: 'last_hidden_state', dataType: 'float32', shape: [1, 2, D] });
  return encodeModel({ graph: b.graph('encoder') });
}

export function tinyWhisperDecoder(): Uint8Array {
  const b = new GraphBuilder(32);
  const ids = b.input({ name: 'input_ids', dataType: 'int64', shape: [1, 'S'] });
  const enc = b.input({ name: 'encoder_hidden_states', dataType: 'float32', shape: [1, 2, D] });
  const pdk = b.input({ name: 'past_key_values.0.decoder.key', dataType: 'float32', shape: [1, HEADS, 'P', HD] });
  const pdv = b.input({ name: 'past_key_values.0.decoder.value', dataType: 'float32', shape: [1, HEADS, 'P', HD] });
  b.input({ name: 'past_key_values.0.encoder.key', dataType: 'float32', shape: [1, HEADS, 'E', HD] });
  b.input({ name: 'past_key_values.0.encoder.value', dataType: 'float32', shape: [1, HEADS, 'E', HD] });
  b.input({ name: 'use_cache_branch', dataType: 'bool', shape: [1] });
  const i64 = (p: string, v: number[], dims: number[] = [v.length]): string => b.constant(p, dims, BigInt64Array.from(v, (x) => BigInt(x)), 'int64');
  const w = (p: string, r: number, c: number, std: number): string => b.constant(p, [r, c], b.normal(r * c, std));
  const pastLen = b.op('Gather', [b.op('Shape', [pdk]), i64('two', [2], [])], [{ name: 'axis', type: 'int', value: 0 }]);
  const seq = b.op('Gather', [b.op('Shape', [ids]), i64('one1', [1], [])], [{ name: 'axis', type: 'int', value: 0 }]);
  const positions = b.op('Range', [pastLen, b.op('Add', [pastLen, seq]), i64('step', [1], [])]);
  const h = b.op('Add', [b.op('Gather', [w('tok', V, D, 1), ids]), b.op('Gather', [w('pos', 64, D, 0.5), positions])]);
  const heads = (x: string): string => b.op('Transpose', [b.op('Reshape', [x, i64('hs', [0, -1, HEADS, HD])])], [{ name: 'perm', type: 'ints', value: [0, 2, 1, 3] }]);
  const merge = (x: string): string => b.op('Reshape', [b.op('Transpose', [x], [{ name: 'perm', type: 'ints', value: [0, 2, 1, 3] }]), i64('ms', [0, -1, D])]);
  const q = heads(b.op('MatMul', [h, w('wq', D, D, 0.5)]));
  const k = b.op('Concat', [pdk, heads(b.op('MatMul', [h, w('wk', D, D, 0.5)]))], [{ name: 'axis', type: 'int', value: 2 }], 'present.0.decoder.key');
  const v = b.op('Concat', [pdv, heads(b.op('MatMul', [h, w('wv', D, D, 0.5)]))], [{ name: 'axis', type: 'int', value: 2 }], 'present.0.decoder.value');
  const scale = b.constant('scale', [], Float32Array.of(0.5));
  const scores = b.op('Mul', [b.op('MatMul', [q, b.op('Transpose', [k], [{ name: 'perm', type: 'ints', value: [0, 1, 3, 2] }])]), scale]);
  const total = b.op('Gather', [b.op('Shape', [k]), i64('two2', [2], [])], [{ name: 'axis', type: 'int', value: 0 }]);
  const keyPos = b.op('Reshape', [b.op('Range', [i64('zero', [0], []), total, i64('one', [1], [])]), i64('ks', [1, 1, 1, -1])]);
  const causal = b.op('LessOrEqual', [keyPos, b.op('Reshape', [positions, i64('qs', [1, 1, -1, 1])])]);
  const self = merge(b.op('MatMul', [b.op('Softmax', [b.op('Where', [causal, scores, b.constant('neg', [], Float32Array.of(-1e9))])], [{ name: 'axis', type: 'int', value: -1 }]), v]));
  const ek = heads(b.op('MatMul', [enc, w('wek', D, D, 0.5)]));
  const ev = heads(b.op('MatMul', [enc, w('wev', D, D, 0.5)]));
  b.op('Identity', [ek], [], 'present.0.encoder.key');
  b.op('Identity', [ev], [], 'present.0.encoder.value');
  const cross = merge(b.op('MatMul', [b.op('Softmax', [b.op('Mul', [b.op('MatMul', [q, b.op('Transpose', [ek], [{ name: 'perm', type: 'ints', value: [0, 1, 3, 2] }])]), scale])], [{ name: 'axis', type: 'int', value: -1 }]), ev]));
  const out = b.op('Add', [b.op('Add', [h, self]), b.op('Mul', [cross, b.constant('gain', [], Float32Array.of(3))])]);
  b.op('MatMul', [out, w('lm', D, V, 1)], [], 'logits');
  b.output({ name: 'logits', dataType: 'float32', shape: [1, 'S', V] });
  for (const part of ['decoder', 'encoder']) for (const kv of ['key', 'value']) b.output({ name: `present.0.${part}.${kv}`, dataType: 'float32', shape: [1, HEADS, part === 'decoder' ? 'T' : 2, HD] });
  return encodeModel({ graph: b.graph('decoder') });
}

const special = (id: number, content: string): object => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
export const WHISPER_TOKENIZER = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: WHISPER_VOCAB.slice(0, 7).map((t, i) => special(i, t)),
  normalizer: null,
  pre_tokenizer: { type: 'Whitespace' },
  post_processor: null,
  decoder: null,
  model: { type: 'WordLevel', vocab: Object.fromEntries(WHISPER_VOCAB.map((t, i) => [t, i])), unk_token: '<|endoftext|>' },
};
