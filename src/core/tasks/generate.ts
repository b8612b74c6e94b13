/**
 * Text generation with a KV cache, for decoder-only ONNX exports in Hugging Face's layout (optimum /
 * transformers.js): inputs input_ids [B, S], attention_mask [B, P+S], position_ids [B, S],
 * past_key_values.{i}.key|value [B, heads, P, head_dim]; outputs logits [B, S, V] and
 * present.{i}.key|value [B, heads, P+S, head_dim]. The prompt runs once with an empty cache; each new
 * token then runs alone against the cache the previous step returned.
 */
import type { ElementType, HostTensor, Session, TypedData } from '../backends/types.js';
import { seededRandom } from '../random.js';
import { UsageError } from '../errors.js';
import { halfToFloat } from '../half.js';

export interface Sampling {
  /** 0 (or below): greedy. */
  temperature: number;
  topK?: number;
  topP?: number;
  seed: number;
}

export interface GenerateOptions {
  maxTokens: number;
  sampling: Sampling;
  /** Token ids that end generation (not emitted). */
  stop: ReadonlySet<number>;
  /** Called with every new token id as it is produced. */
  onToken?: (id: number) => void;
  signal?: AbortSignal;
  /** Recompute the whole sequence every step instead of using the cache (to check the cache). */
  noCache?: boolean;
}

export interface GenerateResult {
  ids: number[];
  /** Why generation ended. */
  finish: 'stop' | 'length' | 'interrupted';
  promptTokens: number;
  /** Prompt processing (prefill) time and the mean per generated token afterwards. */
  prefillMs: number;
  decodeMs: number;
  tokensPerSec: number;
}

interface CacheLayout {
  names: { key: string; value: string; presentKey: string; presentValue: string }[];
  type: ElementType;
  heads: number;
  headDim: number;
}

/** The KV-cache inputs a session declares, or a clear error if it is not a cached decoder. */
export function cacheLayout(session: Session): CacheLayout {
  const past = session.inputs.filter((i) => /^past_key_values\.\d+\.(key|value)$/.test(i.name));
  const layers = past.filter((p) => p.name.endsWith('.key')).map((p) => Number(/\.(\d+)\./.exec(p.name)?.[1]));
  if (!session.inputs.some((i) => i.name === 'input_ids') || !session.outputs.some((o) => o.name === 'logits')) {
    throw new UsageError(`this model's inputs do not fit text-generation (${session.inputs.map((i) => i.name).join(', ')})`, 'a decoder takes input_ids and returns logits');
  }
  if (layers.length === 0) return { names: [], type: 'float32', heads: 0, headDim: 0 };
  const first = past[0]!;
  const heads = first.shape[1];
  const headDim = first.shape[3];
  if (typeof heads !== 'number' || typeof headDim !== 'number') throw new UsageError(`KV-cache input ${first.name} has shape [${first.shape.join(', ')}]: heads and head size must be fixed`);
  const names = layers.sort((a, b) => a - b).map((l) => ({ key: `past_key_values.${l}.key`, value: `past_key_values.${l}.value`, presentKey: `present.${l}.key`, presentValue: `present.${l}.value` }));
  for (const n of names) {
    if (!session.outputs.some((o) => o.name === n.presentKey) || !session.outputs.some((o) => o.name === n.presentValue)) {
      throw new UsageError(`the model takes ${n.key} but returns no ${n.presentKey}`, 'export it with its present.* outputs (use_cache=True)');
    }
  }
  return { names, type: first.type as ElementType, heads, headDim };
}

function emptyOf(type: ElementType): TypedData {
  return type === 'float16' ? new Uint16Array(0) : new Float32Array(0);
}

function int64(values: number[], dims: number[]): HostTensor {
  return { type: 'int64', dims, data: BigInt64Array.from(values, (v) => BigInt(v)) };
}

/** The last position's logits as float32. */
function lastLogits(t: HostTensor): Float32Array {
  const v = t.dims[t.dims.length - 1]!;
  const rows = t.data.length / v;
  const start = (rows - 1) * v;
  if (t.type === 'float16') return Float32Array.from((t.data as Uint16Array).subarray(start, start + v), halfToFloat);
  return (t.data as Float32Array).slice(start, start + v);
}

/** Greedy, or temperature → top-k → top-p (nucleus) → a draw from the seeded generator. */
export function pickToken(logits: Float32Array, s: Sampling, rand: () => number): number {
  if (!(s.temperature > 0)) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  let idx = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!);
  if (s.topK && s.topK > 0) idx = idx.slice(0, s.topK);
  const max = logits[idx[0]!]!;
  let probs = idx.map((i) => Math.exp((logits[i]! - max) / s.temperature));
  let sum = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / sum);
  if (s.topP !== undefined && s.topP < 1) {
    let cum = 0;
    let keep = 0;
    while (keep < probs.length && cum < s.topP) cum += probs[keep++]!;
    idx = idx.slice(0, Math.max(1, keep));
    probs = probs.slice(0, Math.max(1, keep));
    sum = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / sum);
  }
  let r = rand();
  for (let k = 0; k < probs.length; k++) {
    r -= probs[k]!;
    if (r <= 0) return idx[k]!;
  }
  return idx[idx.length - 1]!;
}

export async function generate(session: Session, prompt: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
  if (prompt.length === 0) throw new UsageError('the prompt is empty after tokenization');
  const layout = cacheLayout(session);
  const wants = new Set(session.inputs.map((i) => i.name));
  const rand = seededRandom(opts.sampling.seed);
  const ids = [...prompt];
  const out: number[] = [];
  let past: Record<string, HostTensor> = {};
  const emptyPast = (): Record<string, HostTensor> => {
    const p: Record<string, HostTensor> = {};
    for (const n of layout.names) {
      p[n.key] = { type: layout.type, dims: [1, layout.heads, 0, layout.headDim], data: emptyOf(layout.type) };
      p[n.value] = { type: layout.type, dims: [1, layout.heads, 0, layout.headDim], data: emptyOf(layout.type) };
    }
    return p;
  };
  past = emptyPast();
  let pastLen = 0;
  let prefillMs = 0;
  const t0 = performance.now();
  let finish: GenerateResult['finish'] = 'length';
  for (let step = 0; step < opts.maxTokens; step++) {
    if (opts.signal?.aborted) {
      finish = 'interrupted';
      break;
    }
    // With the cache: only the tokens the cache has not seen. Without: everything, from position 0.
    const fresh = opts.noCache || layout.names.length === 0 ? ids : ids.slice(pastLen);
    const start = opts.noCache || layout.names.length === 0 ? 0 : pastLen;
    const feeds: Record<string, HostTensor> = { input_ids: int64(fresh, [1, fresh.length]) };
    if (wants.has('attention_mask')) feeds['attention_mask'] = int64(new Array<number>(start + fresh.length).fill(1), [1, start + fresh.length]);
    if (wants.has('position_ids')) feeds['position_ids'] = int64(fresh.map((_, i) => start + i), [1, fresh.length]);
    Object.assign(feeds, opts.noCache ? emptyPast() : past);
    const result = await session.run(feeds);
    if (step === 0) prefillMs = performance.now() - t0;
    const logits = result['logits'];
    if (!logits) throw new UsageError('the model returned no logits');
    const next = pickToken(lastLogits(logits), opts.sampling, rand);
    if (!opts.noCache && layout.names.length > 0) {
      const np: Record<string, HostTensor> = {};
      for (const n of layout.names) {
        np[n.key] = result[n.presentKey]!;
        np[n.value] = result[n.presentValue]!;
      }
      past = np;
      pastLen = start + fresh.length;
    }
    if (opts.stop.has(next)) {
      finish = 'stop';
      break;
    }
    ids.push(next);
    out.push(next);
    opts.onToken?.(next);
  }
  const total = performance.now() - t0;
  const decodeMs = out.length > 1 ? (total - prefillMs) / (out.length - 1) : 0;
  return { ids: out, finish, promptTokens: prompt.length, prefillMs, decodeMs, tokensPerSec: total > 0 ? (out.length * 1000) / total : 0 };
}

/**
 * One sequence decoded step by step over its own KV cache, so that a caller (a server) can interleave
 * several: `prefillSequence` runs the prompt and picks the first token; each `stepSequence` emits the
 * pending token and, unless that ends the sequence, runs it against the cache to pick the next. Greedy or
 * seeded sampling gives the tokens `generate()` gives for the same prompt and options.
 */
export interface Sequence {
  readonly promptTokens: number;
  /** Tokens emitted so far (a stop token is not emitted). */
  readonly generated: number[];
  done: boolean;
  finish?: GenerateResult['finish'];
  /** The prompt's forward pass, in ms. */
  readonly prefillMs: number;
  /** Internal decoding state. */
  readonly state: SequenceState;
}

interface SequenceState {
  layout: CacheLayout;
  wants: Set<string>;
  ids: number[];
  past: Record<string, HostTensor>;
  pastLen: number;
  pending: number | undefined;
  rand: () => number;
  sampling: Sampling;
  stop: ReadonlySet<number>;
  maxTokens: number;
}

function emptyCache(layout: CacheLayout): Record<string, HostTensor> {
  const p: Record<string, HostTensor> = {};
  for (const n of layout.names) {
    p[n.key] = { type: layout.type, dims: [1, layout.heads, 0, layout.headDim], data: emptyOf(layout.type) };
    p[n.value] = { type: layout.type, dims: [1, layout.heads, 0, layout.headDim], data: emptyOf(layout.type) };
  }
  return p;
}

/** Runs the tokens the cache has not seen and picks the next token. */
async function forward(session: Session, s: SequenceState): Promise<number> {
  const cached = s.layout.names.length > 0;
  const fresh = cached ? s.ids.slice(s.pastLen) : s.ids;
  const start = cached ? s.pastLen : 0;
  const feeds: Record<string, HostTensor> = { input_ids: int64(fresh, [1, fresh.length]) };
  if (s.wants.has('attention_mask')) feeds['attention_mask'] = int64(new Array<number>(start + fresh.length).fill(1), [1, start + fresh.length]);
  if (s.wants.has('position_ids')) feeds['position_ids'] = int64(fresh.map((_, i) => start + i), [1, fresh.length]);
  Object.assign(feeds, s.past);
  const result = await session.run(feeds);
  const logits = result['logits'];
  if (!logits) throw new UsageError('the model returned no logits');
  const next = pickToken(lastLogits(logits), s.sampling, s.rand);
  if (cached) {
    const np: Record<string, HostTensor> = {};
    for (const n of s.layout.names) {
      np[n.key] = result[n.presentKey]!;
      np[n.value] = result[n.presentValue]!;
    }
    s.past = np;
    s.pastLen = start + fresh.length;
  }
  return next;
}

export async function prefillSequence(session: Session, prompt: readonly number[], opts: { maxTokens: number; sampling: Sampling; stop: ReadonlySet<number> }): Promise<Sequence> {
  if (prompt.length === 0) throw new UsageError('the prompt is empty after tokenization');
  const layout = cacheLayout(session);
  const state: SequenceState = { layout, wants: new Set(session.inputs.map((i) => i.name)), ids: [...prompt], past: emptyCache(layout), pastLen: 0, pending: undefined, rand: seededRandom(opts.sampling.seed), sampling: opts.sampling, stop: opts.stop, maxTokens: opts.maxTokens };
  const t0 = performance.now();
  if (opts.maxTokens > 0) state.pending = await forward(session, state);
  const seq: Sequence = { promptTokens: prompt.length, generated: [], done: opts.maxTokens <= 0, prefillMs: performance.now() - t0, state };
  if (seq.done) seq.finish = 'length';
  return seq;
}

/** Emits the pending token (undefined when the sequence ends on a stop token) and computes the next. */
export async function stepSequence(session: Session, seq: Sequence): Promise<{ token: number | undefined; done: boolean }> {
  const s = seq.state;
  if (seq.done || s.pending === undefined) return { token: undefined, done: true };
  const token = s.pending;
  s.pending = undefined;
  if (s.stop.has(token)) {
    seq.done = true;
    seq.finish = 'stop';
    return { token: undefined, done: true };
  }
  s.ids.push(token);
  seq.generated.push(token);
  if (seq.generated.length >= s.maxTokens) {
    seq.done = true;
    seq.finish = 'length';
    return { token, done: true };
  }
  s.pending = await forward(session, s);
  return { token, done: false };
}
