/**
 * Text inputs and tokenizers: texts given literally or as .txt files (one text a line); tokenizer.json
 * (+ tokenizer_config.json) read with @huggingface/tokenizers, found beside the model or above it (a Hub
 * snapshot keeps the model in onnx/ and the tokenizer at the root).
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { NotFoundError, UsageError } from '../errors.js';

export interface TextTokenizer {
  /** `addSpecial` false: no [CLS]/<s> added (a chat template writes its own). */
  encode(text: string, addSpecial?: boolean): { ids: number[]; attentionMask: number[]; tokenTypeIds: number[] };
  /** The id of a token given by its text (special tokens and the vocabulary). */
  tokenId(content: string): number | undefined;
  /** tokenizer_config.json (chat_template, bos_token, eos_token, …); {} when absent. */
  config: Readonly<Record<string, unknown>>;
  decode(ids: readonly number[], skipSpecial?: boolean): string;
  padId: number;
  /** The longest input the tokenizer's config allows (model_max_length), if it says. */
  maxLength?: number;
}

/** Texts: a .txt file gives one per non-empty line; anything else is the text itself. */
export async function readTexts(inputs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    if (extname(input).toLowerCase() === '.txt') {
      const st = await stat(input).catch(() => undefined);
      if (!st) throw new NotFoundError(`input ${input} not found`);
      out.push(...(await readFile(input, 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter(Boolean));
    } else out.push(input);
  }
  if (out.length === 0) throw new UsageError('no text to run', 'give --input "some text" or a .txt file with one text a line');
  return out;
}

/** tokenizer.json in the model's directory or up to two levels above it; or the path given. */
export async function findTokenizer(modelPath: string, explicit?: string): Promise<string> {
  if (explicit) {
    const st = await stat(explicit).catch(() => undefined);
    if (!st) throw new NotFoundError(`tokenizer ${explicit} not found`);
    return st.isDirectory() ? join(explicit, 'tokenizer.json') : explicit;
  }
  let dir = dirname(modelPath);
  for (let i = 0; i < 3; i++) {
    const candidate = join(dir, 'tokenizer.json');
    if (await stat(candidate).catch(() => undefined)) return candidate;
    dir = dirname(dir);
  }
  throw new NotFoundError(`no tokenizer.json beside ${modelPath}`, 'give one with --tokenizer <tokenizer.json or its directory> (pull the model with its tokenizer files)');
}

export async function loadTokenizer(path: string): Promise<TextTokenizer> {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  let json: Record<string, unknown>;
  let config: Record<string, unknown> = {};
  try {
    json = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`cannot read tokenizer ${path}: ${(err as Error).message.split('\n')[0] ?? ''}`, 'give a Hugging Face tokenizer.json');
  }
  const configPath = join(dirname(path), 'tokenizer_config.json');
  if (await stat(configPath).catch(() => undefined)) {
    try {
      config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
    } catch {
      config = {};
    }
  }
  let tok: InstanceType<typeof Tokenizer>;
  try {
    tok = new Tokenizer(json, config);
  } catch (err) {
    throw new UsageError(`tokenizer ${path} is not usable: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
  const padding = json['padding'] as { pad_id?: number } | null | undefined;
  const padToken = typeof config['pad_token'] === 'string' ? (config['pad_token'] as string) : undefined;
  const added = (json['added_tokens'] as { id: number; content: string }[] | undefined) ?? [];
  const padId = padding?.pad_id ?? added.find((t) => t.content === padToken || t.content === '[PAD]' || t.content === '<pad>')?.id ?? 0;
  const maxLength = typeof config['model_max_length'] === 'number' && config['model_max_length'] < 1e9 ? (config['model_max_length'] as number) : undefined;
  return {
    encode: (text, addSpecial = true) => {
      const e = tok.encode(text, { return_token_type_ids: true, add_special_tokens: addSpecial });
      return { ids: e.ids, attentionMask: e.attention_mask, tokenTypeIds: e.token_type_ids ?? e.ids.map(() => 0) };
    },
    // tokenizers' decode throws on []: a generation whose first token ends it (EOS) has no ids to decode
    decode: (ids, skipSpecial = true) => (ids.length ? tok.decode([...ids], { skip_special_tokens: skipSpecial }) : ''),
    tokenId: (content) => added.find((t) => t.content === content)?.id ?? ((json['model'] as { vocab?: Record<string, number> } | undefined)?.vocab?.[content] ?? undefined),
    config,
    padId,
    ...(maxLength ? { maxLength } : {}),
  };
}
