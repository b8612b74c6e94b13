/**
 * `aivmm run <model> --server URL` (or AIVMM_SERVER): the request goes to a running `aivmm serve` instead
 * of loading the model here. The server says which task the model does (GET /v1/ps) and where it runs;
 * then images → POST /v1/tasks/{model}, text generation → /v1/chat/completions (streamed to stdout),
 * embeddings → /v1/embeddings, WAV files → /v1/audio/transcriptions. The report is the same aivmm/run@1
 * document `run` prints, with the device and backend the server reports. A raw tensor model (no task
 * pipeline) is out of scope here: use the KServe v2 infer endpoint.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { AuthError, BackendUnavailableError, NetworkError, NotFoundError, UsageError, errorMessage } from '../../core/errors.js';
import { expandImageInputs, expandWavInputs } from '../../core/tasks/index.js';
import { readTexts } from '../../core/tasks/text.js';
import { cosine } from '../../core/tasks/embeddings.js';
import { TASKS, type RunReport, type TaskName, type TaskResult } from '../../core/tasks/types.js';
import { SCHEMAS, okEnvelope, toJson } from '../../ui/json.js';
import type { CliContext } from '../context.js';
import { fraction, integer, numberIn, positiveInt } from '../flags.js';
import type { RunFlags } from '../program.js';

interface PsDoc {
  pipelines: { name: string; task?: string; device?: string }[];
  models: { name: string; devices?: string[] }[];
  lanes: { device: string; backend: string }[];
}

class Remote {
  constructor(
    readonly base: string,
    private readonly key: string | undefined,
  ) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...(this.key ? { authorization: `Bearer ${this.key}` } : {}) } });
    } catch (err) {
      throw new NetworkError(`no aivmm server answers at ${this.base} (${errorMessage((err as { cause?: unknown }).cause ?? err)})`, 'start one with `aivmm serve`, or point --server / AIVMM_SERVER at it');
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let message = text.trim().slice(0, 300) || res.statusText;
    let hint: string | undefined;
    try {
      const j = JSON.parse(text) as { error?: string | { message?: string }; hint?: string };
      message = typeof j.error === 'string' ? j.error : (j.error?.message ?? message);
      hint = j.hint;
    } catch {
      /* not JSON: the text as it came */
    }
    const what = `${this.base} answered ${res.status}: ${message}`;
    if (res.status === 401 || res.status === 403) throw new AuthError(what, 'pass the server\'s key in AIVMM_API_KEY');
    if (res.status === 404) throw new NotFoundError(what, hint ?? 'GET /v1/models lists what the server serves');
    if (res.status === 400 || res.status === 413 || res.status === 422) throw new UsageError(what, hint);
    if (res.status === 503 || res.status === 429) throw new BackendUnavailableError(what, 'the server is busy or the model is not ready; retry later');
    throw new NetworkError(what, hint);
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    return (await (await this.request(path, init)).json()) as T;
  }
}

export async function runRemote(ctx: CliContext, modelArg: string | undefined, opts: RunFlags, server: string): Promise<void> {
  if (opts.interactive) throw new UsageError('--interactive runs here; with --server send one request per --input', 'leave out --server for a chat on this machine');
  if (opts.input.length === 0) throw new UsageError('no --input given', 'aivmm run <model> --server URL --input cat.jpg');
  if (!/^https?:\/\//i.test(server)) throw new UsageError(`--server ${server}: give an http:// or https:// URL`, 'e.g. --server http://127.0.0.1:8080');
  if (opts.output) throw new UsageError('-o (the annotated PNG) is not available with --server yet');
  const remote = new Remote(server.replace(/\/+$/, ''), ctx.io.env['AIVMM_API_KEY']);
  const name = modelArg ?? 'mobilenetv2-seeded';
  const ps = await remote.json<PsDoc>('/v1/ps');
  const pipeline = ps.pipelines.find((p) => p.name === name);
  if (!pipeline) {
    if (ps.models.some((m) => m.name === name)) throw new UsageError(`${name} is served as a raw tensor model; run --server sends task requests only`, `use the KServe v2 endpoint: POST ${remote.base}/v2/models/${name}/infer`);
    throw new NotFoundError(`${remote.base} does not serve '${name}'`, `it serves: ${ps.pipelines.map((p) => p.name).join(', ') || 'nothing with a task'}`);
  }
  if (opts.task === 'speech-to-text') opts.task = 'automatic-speech-recognition';
  // A model whose task the server knows only once it is open: ask (this opens it in its lane).
  const task = (pipeline.task ?? (await remote.json<{ task?: string }>(`/v1/pipelines/${encodeURIComponent(name)}`)).task ?? opts.task) as TaskName | undefined;
  if (!task || !TASKS.includes(task)) throw new UsageError(`the server does not say which task ${name} does`, 'pass --task');
  if (opts.task && opts.task !== task) throw new UsageError(`--task ${opts.task}: the server runs ${name} as ${task}`);
  const deviceId = pipeline.device ?? 'CPU';
  const lane = ps.lanes.find((l) => l.device === deviceId) ?? ps.lanes.find((l) => l.device.startsWith(deviceId));
  const backend = lane?.backend ?? ps.models.find((m) => m.name === name)?.devices?.[0]?.split(' ')[1] ?? 'unknown';
  const device = { id: deviceId, name: `${deviceId} at ${remote.base}`, backend };
  const m = encodeURIComponent(name);
  const results: TaskResult[] = [];
  const t0 = performance.now();
  let similarity: number[][] | undefined;

  if (task === 'image-classification' || task === 'object-detection' || task === 'zero-shot-image-classification') {
    const q = new URLSearchParams();
    if (task === 'image-classification') q.set('top_k', String(opts.topK === undefined ? 5 : positiveInt('--top-k', opts.topK)));
    if (task === 'object-detection') {
      q.set('confidence', String(fraction('--conf', opts.conf)));
      q.set('iou', String(fraction('--iou', opts.iou)));
    }
    if (task === 'zero-shot-image-classification') {
      if (opts.labels) q.set('candidates', opts.labels);
      q.set('hypothesis', opts.hypothesis);
    }
    for (const file of await expandImageInputs(opts.input)) {
      const body = await readFile(file);
      const r = await remote.json<Record<string, unknown>>(`/v1/tasks/${m}?${q}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
      if (task === 'image-classification') results.push({ input: file, top: r['top'] as never });
      else if (task === 'object-detection') results.push({ input: file, width: r['width'] as number, height: r['height'] as number, detections: r['detections'] as never });
      else results.push({ input: file, scores: r['scores'] as never });
    }
  } else if (task === 'sentence-embeddings') {
    const texts = await readTexts(opts.input);
    const r = await remote.json<{ data: { index: number; embedding: number[] }[]; usage?: { prompt_tokens?: number } }>('/v1/embeddings', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: name, input: texts }) });
    const per = texts.length ? Math.round((r.usage?.prompt_tokens ?? 0) / texts.length) : 0;
    for (const d of [...r.data].sort((a, b) => a.index - b.index)) results.push({ input: texts[d.index]!, tokens: per, embedding: d.embedding });
    if (results.length > 1) similarity = results.map((a) => results.map((b) => Number(cosine(Float32Array.from((a as { embedding: number[] }).embedding), Float32Array.from((b as { embedding: number[] }).embedding)).toFixed(6)))); // as `run` rounds it
  } else if (task === 'text-generation') {
    const maxTokens = positiveInt('--max-tokens', opts.maxTokens);
    const temperature = numberIn('--temperature', opts.temperature, 0, 2, 'the server takes 0 (greedy) to 2');
    const seed = integer('--seed', opts.seed);
    const topP = opts.topP === undefined ? undefined : fraction('--top-p', opts.topP);
    for (const text of await readTexts(opts.input)) {
      const messages = [...(opts.system ? [{ role: 'system', content: opts.system }] : []), { role: 'user', content: text }];
      const body = opts.chatTemplate === false ? { model: name, prompt: text } : { model: name, messages };
      const s0 = performance.now();
      const res = await remote.request(opts.chatTemplate === false ? '/v1/completions' : '/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, max_tokens: maxTokens, temperature, seed, ...(topP !== undefined ? { top_p: topP } : {}), stream: true, stream_options: { include_usage: true } }),
      });
      let out = '';
      let finish: 'stop' | 'length' = 'stop';
      let usage = { prompt_tokens: 0, completion_tokens: 0 };
      let firstMs: number | undefined;
      let pending = '';
      const decoder = new TextDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        pending += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = pending.indexOf('\n\n')) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 2);
          if (!line.startsWith('data:')) continue;
          const data = line.slice(5).trim();
          if (data === '[DONE]') continue;
          const ev = JSON.parse(data) as { error?: { message?: string }; usage?: typeof usage | null; choices?: { delta?: { content?: string }; text?: string; finish_reason?: string | null }[] };
          if (ev.error) throw new NetworkError(`${remote.base}: the generation failed: ${ev.error.message ?? 'unknown error'}`);
          if (ev.usage) usage = ev.usage;
          const c = ev.choices?.[0];
          const delta = c?.delta?.content ?? c?.text ?? '';
          if (delta) {
            firstMs ??= performance.now() - s0;
            out += delta;
            if (!ctx.flags.json) ctx.io.stdout.write(delta);
          }
          if (c?.finish_reason === 'length') finish = 'length';
        }
      }
      const totalMs = performance.now() - s0;
      const decodeMs = totalMs - (firstMs ?? totalMs);
      const tokens = usage.completion_tokens;
      results.push({
        input: text,
        text: out,
        tokens,
        promptTokens: usage.prompt_tokens,
        finish,
        tokensPerSec: tokens > 0 && totalMs > 0 ? Math.round((tokens / (totalMs / 1000)) * 10) / 10 : 0,
        prefillMs: Math.round((firstMs ?? totalMs) * 10) / 10,
        decodeMsPerToken: tokens > 1 ? Math.round((decodeMs / (tokens - 1)) * 100) / 100 : 0,
      });
    }
  } else {
    for (const file of await expandWavInputs(opts.input)) {
      const bytes = await readFile(file).catch(() => {
        throw new NotFoundError(`input ${file} not found`);
      });
      const form = new FormData();
      form.set('file', new Blob([bytes]), basename(file));
      form.set('model', name);
      form.set('response_format', 'verbose_json');
      if (opts.language) form.set('language', opts.language);
      form.set('max_tokens', String(Math.min(positiveInt('--max-tokens', opts.maxTokens), 440)));
      const r = await remote.json<{ text: string; language: string; duration: number; segments?: unknown[] }>('/v1/audio/transcriptions', { method: 'POST', body: form });
      results.push({ input: file, text: r.text, language: r.language, tokens: 0, seconds: r.duration });
    }
    if (opts.translate) ctx.io.stderr.write('warning: --translate is not sent to a server (OpenAI\'s transcriptions route transcribes)\n');
  }
  const ms = performance.now() - t0;
  const report: RunReport = {
    model: { name, path: `${remote.base}/v1/models/${m}` },
    task,
    taskSource: opts.task ? 'flag' : 'catalog',
    device,
    inputs: results.length,
    results,
    ...(similarity ? { similarity } : {}),
    timing: { sessionMs: 0, inferenceMs: Math.round(ms * 10) / 10, perImageMs: results.length ? Math.round((ms / results.length) * 10) / 10 : 0, batch: 1 },
    interrupted: false,
  };
  if (ctx.flags.json) ctx.io.stdout.write(toJson(okEnvelope(SCHEMAS.run, report)));
  else {
    const { renderRunPlain } = await import('../../ui/plain/run.js');
    ctx.io.stdout.write(renderRunPlain(report));
  }
}
