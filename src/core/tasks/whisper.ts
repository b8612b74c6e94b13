/**
 * Whisper speech recognition over ONNX exports in Hugging Face's layout: encoder_model (input_features
 * [1, 80, 3000] → last_hidden_state) and decoder_model_merged (input_ids, encoder_hidden_states,
 * past_key_values.{i}.decoder|encoder.key|value, use_cache_branch → logits, present.*). The decoder
 * starts from <|startoftranscript|> <|lang|> <|transcribe|> (or <|translate|>) <|notimestamps|>, the
 * language detected from the first step's logits when not given, and decodes greedily with the KV cache
 * until <|endoftext|>. Audio longer than 30 s is transcribed window by window.
 */
import type { HostTensor, Session } from '../backends/types.js';
import { UsageError } from '../errors.js';
import { halfToFloat } from '../half.js';
import { CHUNK_SECONDS, SAMPLE_RATE, logMel } from './audio.js';
import type { TextTokenizer } from './text.js';

export interface TranscribeOptions {
  /** ISO code (en, de, …); undefined: detected. */
  language?: string;
  translate: boolean;
  maxTokens: number;
  /** Recompute every step without the cache (to check the cache). */
  noCache?: boolean;
  signal?: AbortSignal;
}

export interface Transcript {
  text: string;
  language: string;
  tokens: number;
  chunks: number;
}

interface Layout {
  layers: number[];
  heads: number;
  headDim: number;
  type: 'float32' | 'float16';
  merged: boolean;
}

function layout(decoder: Session): Layout {
  const names = decoder.inputs.map((i) => i.name);
  if (!names.includes('input_ids') || !names.includes('encoder_hidden_states')) {
    throw new UsageError(`the decoder's inputs do not fit speech recognition (${names.join(', ')})`, 'a Whisper decoder takes input_ids and encoder_hidden_states');
  }
  const past = decoder.inputs.filter((i) => /^past_key_values\.\d+\.decoder\.key$/.test(i.name));
  const layers = past.map((p) => Number(/\.(\d+)\./.exec(p.name)?.[1])).sort((a, b) => a - b);
  const first = past[0];
  const heads = first?.shape[1];
  const headDim = first?.shape[3];
  if (first && (typeof heads !== 'number' || typeof headDim !== 'number')) throw new UsageError(`KV-cache input ${first.name} has no fixed heads or head size`);
  return { layers, heads: (heads as number) ?? 0, headDim: (headDim as number) ?? 0, type: (first?.type as 'float32' | 'float16') ?? 'float32', merged: names.includes('use_cache_branch') };
}

function lastRow(t: HostTensor): Float32Array {
  const v = t.dims[t.dims.length - 1]!;
  const start = t.data.length - v;
  if (t.type === 'float16') return Float32Array.from((t.data as Uint16Array).subarray(start), halfToFloat);
  return (t.data as Float32Array).slice(start);
}

function argmax(v: Float32Array, among?: readonly number[]): number {
  const ids = among ?? Array.from(v.keys());
  let best = ids[0]!;
  for (const i of ids) if (v[i]! > v[best]!) best = i;
  return best;
}

function special(tokenizer: TextTokenizer, content: string): number {
  const id = tokenizer.tokenId(content);
  if (id === undefined) throw new UsageError(`the tokenizer has no ${content} token: is this a Whisper tokenizer?`);
  return id;
}

/** Language tokens (<|en|>, <|de|>, …) the tokenizer knows, by code. */
function languageTokens(tokenizer: TextTokenizer, codes: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of codes) {
    const id = tokenizer.tokenId(`<|${c}|>`);
    if (id !== undefined) out.set(c, id);
  }
  return out;
}

/** Whisper's 99 language codes, in its token order. */
const LANGUAGES = 'en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jw su yue'.split(' ');

export async function transcribe(encoder: Session, decoder: Session, tokenizer: TextTokenizer, samples: Float32Array, opts: TranscribeOptions): Promise<Transcript> {
  const L = layout(decoder);
  const sot = special(tokenizer, '<|startoftranscript|>');
  const eot = special(tokenizer, '<|endoftext|>');
  const task = special(tokenizer, opts.translate ? '<|translate|>' : '<|transcribe|>');
  const noTimestamps = tokenizer.tokenId('<|notimestamps|>');
  const langs = languageTokens(tokenizer, LANGUAGES);
  if (opts.language && !langs.has(opts.language)) throw new UsageError(`unknown language '${opts.language}'`, `this tokenizer knows: ${[...langs.keys()].join(', ')}`);
  const chunk = CHUNK_SECONDS * SAMPLE_RATE;
  const texts: string[] = [];
  let tokens = 0;
  let language = opts.language ?? '';
  const chunks = Math.max(1, Math.ceil(samples.length / chunk));
  for (let c = 0; c < chunks && !opts.signal?.aborted; c++) {
    const features = logMel(samples.subarray(c * chunk, (c + 1) * chunk));
    const enc = await encoder.run({ [encoder.inputs[0]!.name]: { type: 'float32', dims: [1, 80, features.length / 80], data: features } });
    const hidden = enc[encoder.outputs[0]!.name]!;
    const empty = (): HostTensor => ({ type: L.type, dims: [1, L.heads, 0, L.headDim], data: L.type === 'float16' ? new Uint16Array(0) : new Float32Array(0) });
    let past: Record<string, HostTensor> = {};
    const emptyPast = (): Record<string, HostTensor> => {
      const p: Record<string, HostTensor> = {};
      for (const l of L.layers) for (const part of ['decoder', 'encoder']) for (const kv of ['key', 'value']) p[`past_key_values.${l}.${part}.${kv}`] = empty();
      return p;
    };
    past = emptyPast();
    let seen = 0;
    const ids: number[] = [sot];
    const step = async (): Promise<Float32Array> => {
      const cached = !opts.noCache && L.layers.length > 0 && seen > 0;
      const fresh = cached ? ids.slice(seen) : ids;
      const feeds: Record<string, HostTensor> = {
        input_ids: { type: 'int64', dims: [1, fresh.length], data: BigInt64Array.from(fresh, (v) => BigInt(v)) },
        encoder_hidden_states: hidden,
        ...(cached ? past : emptyPast()),
      };
      if (L.merged) feeds['use_cache_branch'] = { type: 'bool', dims: [1], data: Uint8Array.of(cached ? 1 : 0) };
      const out = await decoder.run(feeds);
      if (!opts.noCache && L.layers.length > 0) {
        const next: Record<string, HostTensor> = {};
        for (const l of L.layers) {
          for (const kv of ['key', 'value']) {
            next[`past_key_values.${l}.decoder.${kv}`] = out[`present.${l}.decoder.${kv}`]!;
            // Cross-attention keys come from the encoder once; later steps may return them empty.
            next[`past_key_values.${l}.encoder.${kv}`] = cached ? past[`past_key_values.${l}.encoder.${kv}`]! : out[`present.${l}.encoder.${kv}`]!;
          }
        }
        past = next;
        seen = ids.length;
      }
      const logits = out['logits'];
      if (!logits) throw new UsageError('the decoder returned no logits');
      return lastRow(logits);
    };
    if (!language) {
      const first = await step();
      const codes = [...langs.keys()];
      const best = argmax(first, codes.map((k) => langs.get(k)!));
      language = codes.find((k) => langs.get(k) === best) ?? 'en';
    }
    ids.push(...(langs.has(language) ? [langs.get(language)!] : []), task, ...(noTimestamps !== undefined ? [noTimestamps] : []));
    const prompt = ids.length;
    for (let n = 0; n < opts.maxTokens && !opts.signal?.aborted; n++) {
      const next = argmax(await step());
      if (next === eot) break;
      ids.push(next);
    }
    tokens += ids.length - prompt;
    texts.push(tokenizer.decode(ids.slice(prompt)).trim());
  }
  return { text: texts.filter(Boolean).join(' '), language, tokens, chunks };
}
