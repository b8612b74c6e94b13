/** A tiny WordPiece tokenizer (BERT-style: [CLS] … [SEP], lower-casing) for text-model tests. */
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
