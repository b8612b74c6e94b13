/**
 * Continuous batching for text generation, over a pipeline's step API (tasks/text-generation.ts:
 * `prefill` / `step` per sequence, each over its own KV cache). Up to `maxSequences` sequences are
 * active at once; each round runs one step of every active sequence: in one batched session run when
 * the decoder takes a batch dimension above 1 (`stepBatch`), else one single step each in turn
 * (round-robin, batch dimension 1). It streams every token to its request as it is produced, and admits a waiting request as soon as a slot frees (no waiting for the others to finish).
 * A request whose signal aborts (the client went away) ends at its next turn, with what it has, and frees
 * its slot. Each sequence keeps its own sampler state, so its tokens are those a sequential run gives for
 * the same prompt, options and seed (test/server/generation-scheduler.test.ts checks it).
 */
import { ModelUnavailableError } from './errors.js';
import type { Sampling, Sequence } from '../tasks/generate.js';
import type { GenerationOutput, GenerationPipeline } from '../tasks/text-generation.js';

/**
 * What the scheduler needs from a pipeline; with `stepBatch` (a decoder whose batch dimension can be
 * above 1: batched-step.ts), every active sequence advances in one session run per round.
 */
export type Stepper = Pick<GenerationPipeline, 'prefill' | 'step' | 'detokenize'> & {
  stepBatch?: (seqs: readonly Sequence[]) => Promise<{ token: number | undefined; done: boolean }[]>;
  /** false: batched steps are off (checked and refused for this decoder); round-robin instead. */
  batchEnabled?: () => boolean;
};

export interface TokenEvent {
  /** Text since the last event ('' while a sub-word piece does not yet extend the text). */
  delta: string;
  /** Tokens emitted so far for this request. */
  tokens: number;
}

export interface SequenceRequest {
  promptIds: readonly number[];
  maxTokens?: number;
  sampling?: Sampling;
  /** Every emitted token, as it is produced. */
  onToken?: (e: TokenEvent) => void;
  signal?: AbortSignal;
}

export interface ScheduledOutput extends GenerationOutput {
  /** Waiting for a free slot, ms. */
  queueMs: number;
}

export interface SchedulerStats {
  active: number;
  waiting: number;
  /** Most sequences that were active at once. */
  peakActive: number;
  /** Session runs (prefills included). */
  steps: number;
  /** Rounds run as one batched step, and the sequences they advanced. */
  batchedSteps: number;
  batchedSequences: number;
}

interface Slot {
  req: SequenceRequest;
  resolve: (o: ScheduledOutput) => void;
  reject: (e: unknown) => void;
  submitted: number;
  admitted: number;
  seq?: Sequence;
  shown: string;
}

export class GenerationScheduler {
  private readonly waiting: Slot[] = [];
  private active: Slot[] = [];
  private loop: Promise<void> | undefined;
  private closed = false;
  private readonly counts = { peakActive: 0, steps: 0, batchedSteps: 0, batchedSequences: 0 };
  readonly maxSequences: number;

  constructor(
    private readonly pipeline: Stepper,
    maxSequences: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.maxSequences = Math.max(1, Math.floor(maxSequences));
  }

  get stats(): SchedulerStats {
    return { active: this.active.length, waiting: this.waiting.length, ...this.counts };
  }

  /** Queues one sequence; resolves when it ends (stop, length, or interrupted by its signal). */
  submit(req: SequenceRequest): Promise<ScheduledOutput> {
    if (this.closed) return Promise.reject(new ModelUnavailableError('the model is closing', 'retry: it is being reloaded or the server is stopping', 1));
    return new Promise<ScheduledOutput>((resolve, reject) => {
      const now = this.clock();
      this.waiting.push({ req, resolve, reject, submitted: now, admitted: now, shown: '' });
      this.kick();
    });
  }

  /** Fails every waiting and active sequence (the pipeline is being disposed). */
  close(): void {
    this.closed = true;
    const err = new ModelUnavailableError('the model was closed while generating', 'retry: it is being reloaded or the server is stopping', 1);
    for (const s of [...this.waiting.splice(0), ...this.active.splice(0)]) s.reject(err);
  }

  private kick(): void {
    this.loop ??= this.run().finally(() => {
      this.loop = undefined;
      if (!this.closed && (this.waiting.length > 0 || this.active.length > 0)) this.kick();
    });
  }

  private async run(): Promise<void> {
    while (!this.closed && (this.waiting.length > 0 || this.active.length > 0)) {
      await this.admit();
      for (const s of [...this.active]) {
        if (s.req.signal?.aborted) {
          s.seq!.done = true;
          s.seq!.finish = 'interrupted';
          this.finish(s);
        }
      }
      if (this.pipeline.stepBatch && this.active.length > 1 && this.pipeline.batchEnabled?.() !== false) {
        await this.batchRound(this.pipeline.stepBatch);
        continue;
      }
      for (const s of [...this.active]) {
        if (this.closed) return;
        const seq = s.seq!;
        if (s.req.signal?.aborted) {
          seq.done = true;
          seq.finish = 'interrupted';
          this.finish(s);
          continue;
        }
        try {
          const r = await this.pipeline.step(seq);
          this.counts.steps++;
          if (r.token !== undefined) this.emit(s);
          if (r.done) this.finish(s);
        } catch (err) {
          this.drop(s);
          s.reject(err);
        }
      }
    }
  }

  /** Every active sequence one step, in one session run; an error fails the sequences of that run. */
  private async batchRound(stepBatch: NonNullable<Stepper['stepBatch']>): Promise<void> {
    const round = [...this.active];
    let results: { token: number | undefined; done: boolean }[];
    try {
      results = await stepBatch(round.map((s) => s.seq!));
    } catch (err) {
      for (const s of round) {
        this.drop(s);
        s.reject(err);
      }
      return;
    }
    if (this.closed) return;
    this.counts.steps++;
    this.counts.batchedSteps++;
    this.counts.batchedSequences += round.length;
    round.forEach((s, i) => {
      const r = results[i]!;
      if (r.token !== undefined) this.emit(s);
      if (r.done) this.finish(s);
    });
  }

  /** Fills free slots from the queue: each admitted request's prompt runs now (its prefill). */
  private async admit(): Promise<void> {
    while (!this.closed && this.active.length < this.maxSequences && this.waiting.length > 0) {
      const s = this.waiting.shift()!;
      s.admitted = this.clock();
      if (s.req.signal?.aborted) {
        s.resolve(this.output(s, undefined));
        continue;
      }
      try {
        s.seq = await this.pipeline.prefill(s.req.promptIds, { ...(s.req.maxTokens !== undefined ? { maxTokens: s.req.maxTokens } : {}), ...(s.req.sampling ? { sampling: s.req.sampling } : {}) });
        this.counts.steps++;
      } catch (err) {
        s.reject(err);
        continue;
      }
      if (this.closed) return;
      if (s.seq.done) {
        s.resolve(this.output(s, s.seq));
        continue;
      }
      this.active.push(s);
      this.counts.peakActive = Math.max(this.counts.peakActive, this.active.length);
    }
  }

  /** Streams the grown text prefix (sub-word pieces can change earlier characters until they settle). */
  private emit(s: Slot): void {
    const seq = s.seq!;
    const now = this.pipeline.detokenize(seq.generated);
    let delta = '';
    if (now.startsWith(s.shown) && now.length > s.shown.length) {
      delta = now.slice(s.shown.length);
      s.shown = now;
    }
    s.req.onToken?.({ delta, tokens: seq.generated.length });
  }

  private drop(s: Slot): void {
    this.active = this.active.filter((x) => x !== s);
  }

  private finish(s: Slot): void {
    this.drop(s);
    s.resolve(this.output(s, s.seq));
  }

  private output(s: Slot, seq: Sequence | undefined): ScheduledOutput {
    const queueMs = s.admitted - s.submitted;
    if (!seq) return { text: '', tokens: 0, promptTokens: s.req.promptIds.length, finish: 'interrupted', tokensPerSec: 0, prefillMs: 0, decodeMsPerToken: 0, queueMs };
    const text = this.pipeline.detokenize(seq.generated);
    if (text.length > s.shown.length && text.startsWith(s.shown)) {
      s.req.onToken?.({ delta: text.slice(s.shown.length), tokens: seq.generated.length });
      s.shown = text;
    }
    const n = seq.generated.length;
    const total = this.clock() - s.admitted;
    const decodeMs = n > 1 ? Math.max(0, total - seq.prefillMs) / (n - 1) : 0;
    return {
      text,
      tokens: n,
      promptTokens: seq.promptTokens,
      finish: seq.finish ?? 'length',
      tokensPerSec: total > 0 ? Math.round(((n * 1000) / total) * 10) / 10 : 0,
      prefillMs: Math.round(seq.prefillMs * 100) / 100,
      decodeMsPerToken: Math.round(decodeMs * 100) / 100,
      queueMs,
    };
  }
}
