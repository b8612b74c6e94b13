/** sentence-embeddings: tokenize, batch with padding, run, mean-pool under the mask, L2-normalise. */
import type { HostTensor } from '../backends/types.js';
import { UsageError } from '../errors.js';
import { meanPoolNormalize, normalize } from './embeddings.js';
import type { OpenBase, Pipeline } from './pipeline.js';
import type { PipelineTiming } from './shared.js';
import { findTokenizer, loadTokenizer, type TextTokenizer } from './text.js';
import type { EmbeddingResult } from './types.js';

export interface EmbeddingsOptions {
  /** Cut texts longer than the model's context instead of refusing them. */
  truncate?: boolean;
  /** runBatch: texts per inference (default 8). */
  batch?: number;
  /** runBatch: called after each inference with the texts done so far. */
  onProgress?: (done: number, total: number) => void;
}

export type EmbeddingOutput = Omit<EmbeddingResult, 'input'>;

export interface EmbeddingsPipeline extends Pipeline<string, EmbeddingOutput, EmbeddingsOptions> {
  readonly task: 'sentence-embeddings';
  readonly tokenizer: TextTokenizer;
  /** Every text checked (and tokenized) first, then `batch` texts per inference. */
  runBatch(texts: readonly string[], options?: EmbeddingsOptions, signal?: AbortSignal): Promise<EmbeddingOutput[]>;
}

export async function openEmbeddings({ session, sessionMs, plan }: OpenBase): Promise<EmbeddingsPipeline> {
  const names = session.inputs.map((i) => i.name);
  if (!names.includes('input_ids')) throw new UsageError(`this model's inputs do not fit sentence-embeddings: ${names.join(', ')}`, 'a text encoder takes input_ids (and attention_mask)');
  const tokenizer = await loadTokenizer(await findTokenizer(plan.model, plan.companions.tokenizer));
  const seqDim = session.inputs.find((i) => i.name === 'input_ids')?.shape[1];
  const context = typeof seqDim === 'number' && seqDim > 0 ? seqDim : tokenizer.maxLength ?? 512;
  const timing: PipelineTiming = { inferenceMs: 0 };
  const runBatch = async (texts: readonly string[], o: EmbeddingsOptions = {}, signal?: AbortSignal): Promise<EmbeddingOutput[]> => {
    const encoded = texts.map((text, i) => {
      const e = tokenizer.encode(text);
      if (e.ids.length > context) {
        if (!o.truncate) throw new UsageError(`text ${i + 1} is ${e.ids.length} tokens; the model's context is ${context}`, 'shorten it, or pass --truncate to cut it');
        return { ids: e.ids.slice(0, context), attentionMask: e.attentionMask.slice(0, context), tokenTypeIds: e.tokenTypeIds.slice(0, context) };
      }
      return e;
    });
    const batch = Math.max(1, o.batch ?? 8);
    const results: EmbeddingOutput[] = [];
    for (let s = 0; s < texts.length && !signal?.aborted; s += batch) {
      const group = encoded.slice(s, s + batch);
      const t = typeof seqDim === 'number' && seqDim > 0 ? seqDim : Math.max(...group.map((g) => g.ids.length));
      const n = group.length;
      const fill = (get: (g: (typeof group)[number]) => number[], pad: number): BigInt64Array => {
        const a = new BigInt64Array(n * t).fill(BigInt(pad));
        group.forEach((g, r) => get(g).forEach((v, c) => (a[r * t + c] = BigInt(v))));
        return a;
      };
      const mask = fill((g) => g.attentionMask, 0);
      const feeds: Record<string, HostTensor> = { input_ids: { type: 'int64', dims: [n, t], data: fill((g) => g.ids, tokenizer.padId) } };
      if (names.includes('attention_mask')) feeds['attention_mask'] = { type: 'int64', dims: [n, t], data: mask };
      if (names.includes('token_type_ids')) feeds['token_type_ids'] = { type: 'int64', dims: [n, t], data: fill((g) => g.tokenTypeIds, 0) };
      const r0 = performance.now();
      const out = await session.run(feeds);
      timing.inferenceMs += performance.now() - r0;
      // A pooled output ([N, H], e.g. sentence_embedding) is used as it is; token vectors [N, T, H] are pooled.
      const pooled = session.outputs.map((x) => out[x.name]!).find((x) => x.dims.length === 2 && x.type === 'float32');
      const tokensOut = session.outputs.map((x) => out[x.name]!).find((x) => x.dims.length === 3 && x.type === 'float32');
      let vectors: Float32Array[];
      if (pooled) {
        const h = pooled.dims[1]!;
        vectors = Array.from({ length: n }, (_, r) => normalize((pooled.data as Float32Array).slice(r * h, (r + 1) * h)));
      } else if (tokensOut) vectors = meanPoolNormalize(tokensOut.data as Float32Array, tokensOut.dims, mask);
      else throw new UsageError(`no float output of shape [N, T, H] or [N, H] to pool (${session.outputs.map((x) => x.name).join(', ')})`);
      group.forEach((g, r) => results.push({ tokens: g.ids.length, embedding: Array.from(vectors[r]!) }));
      o.onProgress?.(Math.min(texts.length, s + n), texts.length);
    }
    return results;
  };
  return {
    task: 'sentence-embeddings',
    sessions: [session],
    sessionMs,
    timing,
    tokenizer,
    async run(text, o = {}, signal) {
      const [r] = await runBatch([text], o, signal);
      if (!r) throw new UsageError('interrupted before the text ran');
      return r;
    },
    runBatch,
    dispose: () => session.dispose(),
  };
}
