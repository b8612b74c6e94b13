/**
 * One decoding step for several sequences in one session run, for decoders whose inputs take a batch
 * dimension above 1 (most Hugging Face exports: `batch_size` symbolic). Each sequence keeps its own KV
 * cache between steps; for the step, the caches are left-padded to the longest and stacked along the
 * batch dimension, the attention mask marks the padding 0, position_ids are each sequence's own, and the
 * returned present.* rows are cut back to each sequence's length. What each sequence emits, and its
 * sampler, are exactly stepSequence's (tasks/generate.ts); the logits match a single run's up to float
 * rounding (padded keys are masked, so they add exact zeros).
 */
import type { HostTensor, Session, TypedData } from '../backends/types.js';
import { halfToFloat } from '../half.js';
import { UsageError } from '../errors.js';
import { cacheLayout, pickToken, type Sequence } from '../tasks/generate.js';

/** Whether the session's decoder inputs take a batch dimension above 1 (a KV cache is needed too). */
export function batchable(session: Session): boolean {
  const layout = cacheLayout(session);
  if (layout.names.length === 0) return false;
  const batched = new Set(['input_ids', 'attention_mask', 'position_ids', ...layout.names.flatMap((n) => [n.key, n.value])]);
  return session.inputs.filter((i) => batched.has(i.name)).every((i) => i.shape[0] !== 1 && i.shape[0] !== undefined) && session.inputs.some((i) => i.name === 'attention_mask');
}

function int64(values: number[], dims: number[]): HostTensor {
  return { type: 'int64', dims, data: BigInt64Array.from(values, (v) => BigInt(v)) };
}

function alloc(like: TypedData, n: number): TypedData {
  return like instanceof Uint16Array ? new Uint16Array(n) : new Float32Array(n);
}

/** A forward pass's outcome for one sequence, not yet applied to it. */
interface Forwarded {
  row: Float32Array;
  past: Record<string, HostTensor>;
}

function logitsRow(logits: HostTensor, rowLen: number, i: number): Float32Array {
  const V = logits.dims[logits.dims.length - 1]!;
  const start = i * rowLen + rowLen - V;
  return logits.type === 'float16' ? Float32Array.from((logits.data as Uint16Array).subarray(start, start + V), halfToFloat) : (logits.data as Float32Array).slice(start, start + V);
}

/** The one unseen token of a sequence through the session alone (what stepSequence runs). */
async function forwardOne(session: Session, q: Sequence): Promise<Forwarded> {
  const s = q.state;
  const len = s.pastLen;
  const feeds: Record<string, HostTensor> = { input_ids: int64([s.ids[s.ids.length - 1]!], [1, 1]), attention_mask: int64(new Array<number>(len + 1).fill(1), [1, len + 1]), ...s.past };
  if (s.wants.has('position_ids')) feeds['position_ids'] = int64([len], [1, 1]);
  const result = await session.run(feeds);
  const logits = result['logits'];
  if (!logits) throw new UsageError('the model returned no logits');
  const past: Record<string, HostTensor> = {};
  for (const n of s.layout.names) {
    past[n.key] = result[n.presentKey]!;
    past[n.value] = result[n.presentValue]!;
  }
  return { row: logitsRow(logits, logits.data.length, 0), past };
}

/** The unseen token of every sequence in one run: caches left-padded to the longest, padding masked. */
async function forwardBatch(session: Session, go: readonly Sequence[]): Promise<Forwarded[]> {
  const layout = go[0]!.state.layout;
  const B = go.length;
  const lens = go.map((q) => q.state.pastLen);
  const P = Math.max(...lens);
  const mask: number[] = [];
  for (const len of lens) for (let t = 0; t <= P; t++) mask.push(t >= P - len ? 1 : 0);
  const feeds: Record<string, HostTensor> = {
    input_ids: int64(go.map((q) => q.state.ids[q.state.ids.length - 1]!), [B, 1]),
    attention_mask: int64(mask, [B, P + 1]),
  };
  if (go[0]!.state.wants.has('position_ids')) feeds['position_ids'] = int64(lens, [B, 1]);
  const { heads, headDim: hd } = layout;
  for (const n of layout.names) {
    for (const name of [n.key, n.value]) {
      const data = alloc(go[0]!.state.past[name]!.data, B * heads * P * hd);
      go.forEach((q, i) => {
        const src = q.state.past[name]!.data;
        const len = lens[i]!;
        for (let h = 0; h < heads; h++) data.set(src.subarray(h * len * hd, (h + 1) * len * hd) as never, ((i * heads + h) * P + (P - len)) * hd);
      });
      feeds[name] = { type: layout.type, dims: [B, heads, P, hd], data };
    }
  }
  const result = await session.run(feeds);
  const logits = result['logits'];
  if (!logits) throw new UsageError('the model returned no logits');
  const rowLen = logits.data.length / B; // [B, 1, V]: one row per sequence
  return go.map((_, i) => {
    const len = lens[i]!;
    const past: Record<string, HostTensor> = {};
    for (const n of layout.names) {
      for (const [name, present] of [[n.key, n.presentKey], [n.value, n.presentValue]] as const) {
        const all = result[present]!.data;
        const data = alloc(all, heads * (len + 1) * hd);
        // present row i: [heads, P + 1, hd]; this sequence's positions are the last len + 1.
        for (let h = 0; h < heads; h++) {
          const from = ((i * heads + h) * (P + 1) + (P - len)) * hd;
          data.set(all.subarray(from, from + (len + 1) * hd) as never, h * (len + 1) * hd);
        }
        past[name] = { type: layout.type, dims: [1, heads, len + 1, hd], data };
      }
    }
    return { row: logitsRow(logits, rowLen, i), past };
  });
}

/** Whether two logits rows agree up to float rounding (relative to the row's scale). */
function close(a: Float32Array, b: Float32Array): boolean {
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  const tol = 1e-4 + 1e-4 * scale;
  for (let k = 0; k < a.length; k++) if (!(Math.abs(a[k]! - b[k]!) <= tol)) return false;
  return a.length === b.length;
}

export interface BatchStep {
  results: { token: number | undefined; done: boolean }[];
  /**
   * With `check` (and two or more sequences going on, with caches of different lengths): whether the batched run's logits matched each sequence's own run (the sequences
   * advance on their own runs then, so a decoder that mishandles padding costs nothing but that round).
   */
  agreed?: boolean;
}

/**
 * Emits each sequence's pending token (as stepSequence does) and computes the next one for all that go
 * on: `batch` (default) in one run; `check` in one run and each alone, compared, advancing on the runs
 * alone; `alone` each in its own run.
 */
export async function stepBatch(session: Session, seqs: readonly Sequence[], opts: { mode?: 'batch' | 'check' | 'alone' } = {}): Promise<BatchStep> {
  const results: { token: number | undefined; done: boolean }[] = [];
  const go: Sequence[] = [];
  for (const seq of seqs) {
    const s = seq.state;
    if (seq.done || s.pending === undefined) {
      results.push({ token: undefined, done: true });
      continue;
    }
    const token = s.pending;
    s.pending = undefined;
    if (s.stop.has(token)) {
      seq.done = true;
      seq.finish = 'stop';
      results.push({ token: undefined, done: true });
      continue;
    }
    s.ids.push(token);
    seq.generated.push(token);
    if (seq.generated.length >= s.maxTokens) {
      seq.done = true;
      seq.finish = 'length';
      results.push({ token, done: true });
      continue;
    }
    results.push({ token, done: false });
    go.push(seq);
  }
  if (go.length === 0) return { results };
  for (const q of go) if (q.state.ids.length - q.state.pastLen !== 1) throw new UsageError('stepBatch: a sequence has more than one token its cache has not seen');
  const mode = opts.mode ?? 'batch';
  let next: Forwarded[];
  let agreed: boolean | undefined;
  if (mode === 'alone' || go.length === 1) {
    next = [];
    for (const q of go) next.push(await forwardOne(session, q));
  } else {
    next = await forwardBatch(session, go);
    // Only a round with padding (caches of different lengths) tells whether the decoder handles it.
    if (mode === 'check' && new Set(go.map((q) => q.state.pastLen)).size > 1) {
      const alone: Forwarded[] = [];
      for (const q of go) alone.push(await forwardOne(session, q));
      agreed = next.every((f, i) => close(f.row, alone[i]!.row));
      next = alone;
    }
  }
  go.forEach((q, i) => {
    const s = q.state;
    const f = next[i]!;
    s.pending = pickToken(f.row, s.sampling, s.rand);
    s.past = f.past;
    s.pastLen += 1;
  });
  return agreed === undefined ? { results } : { results, agreed };
}

/**
 * Batched steps for one decoder: its first batched round with padding is checked against runs alone (`check`); if the
 * logits disagree (an export whose attention does not take a left-padded cache), it steps sequences
 * alone from then on, and `enabled` turns false so a scheduler goes back to round-robin single steps.
 */
export function batchStepper(session: Session): { stepBatch: (seqs: readonly Sequence[]) => Promise<BatchStep['results']>; enabled: () => boolean; verdict: () => boolean | undefined } {
  let mode: 'check' | 'batch' | 'alone' = 'check';
  let verdict: boolean | undefined;
  return {
    enabled: () => mode !== 'alone',
    verdict: () => verdict,
    stepBatch: async (seqs) => {
      const r = await stepBatch(session, seqs, { mode });
      if (r.agreed !== undefined) {
        verdict = r.agreed;
        mode = r.agreed ? 'batch' : 'alone';
      }
      return r.results;
    },
  };
}
