/** A tiny WordPiece tokenizer (BERT-style: [CLS] … [SEP], lower-casing) and a matching encoder, for text-model tests. */
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
export const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a', 'cat', 'sat', 'dog', 'ran', 'on', 'the', 'mat', '##s', '.'];
const specialToken = (id: number, content: string): object => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
export const TOKENIZER = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [specialToken(0, '[PAD]'), specialToken(1, '[UNK]'), specialToken(2, '[CLS]'), specialToken(3, '[SEP]')],
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
    pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
    special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
  },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(VOCAB.map((t, i) => [t, i])) },
};

export const H = 8;

/** input_ids/attention_mask/token_type_ids [B, S] → last_hidden_state = E[input_ids] + T[token_type_ids] (seeded). */
export function encoder(): { bytes: Uint8Array; table: Float32Array; types: Float32Array } {
  const b = new GraphBuilder(9);
  const ids = b.input({ name: 'input_ids', dataType: 'int64', shape: ['B', 'S'] });
  b.input({ name: 'attention_mask', dataType: 'int64', shape: ['B', 'S'] });
  const tt = b.input({ name: 'token_type_ids', dataType: 'int64', shape: ['B', 'S'] });
  const table = b.normal(VOCAB.length * H, 1);
  const types = b.normal(2 * H, 0.1);
  const e = b.op('Gather', [b.constant('word_embeddings', [VOCAB.length, H], table), ids]);
  const t = b.op('Gather', [b.constant('type_embeddings', [2, H], types), tt]);
  b.op('Add', [e, t], [], 'last_hidden_state');
  b.output({ name: 'last_hidden_state', dataType: 'float32', shape: ['B', 'S', H] });
  return { bytes: encodeModel({ graph: b.graph('encoder') }), table, types };
}
