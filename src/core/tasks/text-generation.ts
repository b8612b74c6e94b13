/**
 * text-generation: chat template (Jinja, from tokenizer_config) → tokens → KV-cache decoding, streamed.
 * Besides `run` (one reply), a step API for servers that interleave sequences: `prefill(ids)` → a
 * Sequence, `step(seq)` → the next token, `detokenize(ids)`, and `renderChat(messages)` → prompt ids.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { cacheLayout, generate, prefillSequence, stepSequence, type Sampling, type Sequence } from './generate.js';
import type { OpenBase, Pipeline } from './pipeline.js';
import type { PipelineTiming } from './shared.js';
import { findTokenizer, loadTokenizer, type TextTokenizer } from './text.js';
import type { ChatMessage, GenerationResult } from './types.js';

export type { Sequence } from './generate.js';

export interface GenerationOptions {
  /** At most this many new tokens (default 128; never past the context). */
  maxTokens?: number;
  /** Default greedy (temperature 0, seed 1). */
  sampling?: Sampling;
  /** A system message put before the conversation when the chat template takes one. */
  system?: string;
  /** false: the prompt as given, no chat template (default true). */
  chatTemplate?: boolean;
  /** Streamed text as it is generated (the delta since the last call). */
  onText?: (delta: string) => void;
}

export type GenerationOutput = Omit<GenerationResult, 'input'>;

export interface GenerationPipeline extends Pipeline<string | readonly ChatMessage[], GenerationOutput, GenerationOptions> {
  readonly task: 'text-generation';
  readonly tokenizer: TextTokenizer;
  /** The model's context in tokens. */
  readonly context: number;
  /** Token ids that end a sequence (eos_token_id from the configs, the tokenizer's eos_token). */
  readonly stop: ReadonlySet<number>;
  /** The conversation through the chat template (or the last message as is), as prompt ids. */
  renderChat(messages: readonly ChatMessage[], options?: Pick<GenerationOptions, 'system' | 'chatTemplate'>): number[];
  /** Runs the prompt over a fresh KV cache and picks the first token. */
  prefill(promptIds: readonly number[], options?: Pick<GenerationOptions, 'maxTokens' | 'sampling'>): Promise<Sequence>;
  /** Emits the sequence's next token (undefined when it ended on a stop token); `done` when it has ended. */
  step(seq: Sequence): Promise<{ token: number | undefined; done: boolean }>;
  detokenize(ids: readonly number[]): string;
}

/** tokenizer_config values are strings or {content: "…"} objects. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/** The ids that end generation: eos_token_id from generation_config.json / config.json beside the model, and the tokenizer's eos_token. */
async function stopIds(modelPath: string, tokenizer: TextTokenizer): Promise<Set<number>> {
  const ids = new Set<number>();
  let dir = dirname(modelPath);
  for (let i = 0; i < 3; i++) {
    for (const f of ['generation_config.json', 'config.json']) {
      try {
        const c = JSON.parse(await readFile(join(dir, f), 'utf8')) as { eos_token_id?: number | number[] };
        for (const id of [c.eos_token_id ?? []].flat()) ids.add(id);
      } catch {
        // absent
      }
    }
    dir = dirname(dir);
  }
  const eos = tokenText(tokenizer.config['eos_token']);
  const id = eos ? tokenizer.tokenId(eos) : undefined;
  if (id !== undefined) ids.add(id);
  return ids;
}

const DEFAULT_SAMPLING: Sampling = { temperature: 0, seed: 1 };

export async function openGeneration({ session, sessionMs, plan }: OpenBase): Promise<GenerationPipeline> {
  cacheLayout(session); // a clear error before anything else when the model is not a decoder
  const tokenizer = await loadTokenizer(await findTokenizer(plan.model, plan.companions.tokenizer));
  const stop = await stopIds(plan.model, tokenizer);
  const templateText = typeof tokenizer.config['chat_template'] === 'string' ? (tokenizer.config['chat_template'] as string) : undefined;
  const context = tokenizer.maxLength ?? 2048;
  const { Template } = await import('@huggingface/jinja');
  let template: InstanceType<typeof Template> | undefined;
  const timing: PipelineTiming = { inferenceMs: 0 };

  const renderChat = (messages: readonly ChatMessage[], o: Pick<GenerationOptions, 'system' | 'chatTemplate'> = {}): number[] => {
    const useTemplate = templateText !== undefined && o.chatTemplate !== false;
    let prompt = messages[messages.length - 1]?.content ?? '';
    if (useTemplate) {
      try {
        template ??= new Template(templateText);
        prompt = template.render({
          messages: [...(o.system ? [{ role: 'system', content: o.system }] : []), ...messages],
          add_generation_prompt: true,
          bos_token: tokenText(tokenizer.config['bos_token']) ?? '',
          eos_token: tokenText(tokenizer.config['eos_token']) ?? '',
        });
      } catch (err) {
        throw new UsageError(`the chat template does not render: ${(err as Error).message.split('\n')[0] ?? ''}`, 'pass --no-chat-template to send the prompt as it is');
      }
    }
    return tokenizer.encode(prompt, !useTemplate).ids;
  };

  return {
    task: 'text-generation',
    sessions: [session],
    sessionMs,
    timing,
    tokenizer,
    context,
    stop,
    renderChat,
    detokenize: (ids) => tokenizer.decode([...ids]),
    async prefill(promptIds, o = {}) {
      if (promptIds.length >= context) throw new UsageError(`the prompt is ${promptIds.length} tokens; the model's context is ${context}`, 'shorten it (or start a new conversation)');
      const r0 = performance.now();
      const seq = await prefillSequence(session, promptIds, { maxTokens: Math.min(o.maxTokens ?? 128, context - promptIds.length), sampling: o.sampling ?? DEFAULT_SAMPLING, stop });
      timing.inferenceMs += performance.now() - r0;
      return seq;
    },
    async step(seq) {
      const r0 = performance.now();
      const r = await stepSequence(session, seq);
      timing.inferenceMs += performance.now() - r0;
      return r;
    },
    async run(input, o = {}, signal) {
      const messages: readonly ChatMessage[] = typeof input === 'string' ? [{ role: 'user', content: input }] : input;
      const ids = renderChat(messages, o);
      if (ids.length >= context) throw new UsageError(`the prompt is ${ids.length} tokens; the model's context is ${context}`, 'shorten it (or start a new conversation)');
      let shown = '';
      const out: number[] = [];
      const r0 = performance.now();
      const r = await generate(session, ids, {
        maxTokens: Math.min(o.maxTokens ?? 128, context - ids.length),
        sampling: o.sampling ?? DEFAULT_SAMPLING,
        stop,
        ...(signal ? { signal } : {}),
        onToken: (id) => {
          out.push(id);
          const now = tokenizer.decode(out);
          // Sub-word pieces can change earlier characters; only a grown prefix is streamed.
          if (now.startsWith(shown) && now.length > shown.length) {
            o.onText?.(now.slice(shown.length));
            shown = now;
          }
        },
      });
      timing.inferenceMs += performance.now() - r0;
      const text = tokenizer.decode(r.ids);
      if (text.length > shown.length && text.startsWith(shown)) o.onText?.(text.slice(shown.length));
      return { text, tokens: r.ids.length, promptTokens: r.promptTokens, finish: r.finish, tokensPerSec: Math.round(r.tokensPerSec * 10) / 10, prefillMs: Math.round(r.prefillMs * 100) / 100, decodeMsPerToken: Math.round(r.decodeMs * 100) / 100 };
    },
    dispose: () => session.dispose(),
  };
}
