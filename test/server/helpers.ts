/** A real server on 127.0.0.1:0 over real in-process onnxruntime sessions, for the server tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CPU_TARGET } from '../../src/core/backends/registry.js';
import { DEFAULT_SETTINGS, settingsFor, type ModelSettings } from '../../src/core/serve/config.js';
import { InProcessExecutor, type ModelExecutor } from '../../src/core/serve/executor.js';
import { ModelRegistry, type ServeEvent } from '../../src/core/serve/registry.js';
import { embeddedModel } from '../../src/core/models/embedded.js';
import { startServer, forwardEvents, type RunningServer, type StartOptions } from '../../src/server/start.js';
import { EventHub } from '../../src/server/events.js';
import { createServeMetrics } from '../../src/core/serve-metrics/index.js';
import type { PipelineService } from '../../src/server/pipelines.js';

export const TINY = embeddedModel('tiny-convnet').build();
export const MLP = embeddedModel('probe-mlp').build();

export async function tmp(prefix = 'aivmm-serve-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function writeVersion(repo: string, name: string, version: number, bytes: Uint8Array): Promise<string> {
  const d = join(repo, name, String(version));
  await mkdir(d, { recursive: true });
  const p = join(d, 'model.onnx');
  await writeFile(p, bytes);
  return p;
}

/** An in-process executor that counts loads (the sessions are real). */
export class CountingExecutor extends InProcessExecutor {
  loads = 0;
  override load(...args: Parameters<ModelExecutor['load']>): ReturnType<ModelExecutor['load']> {
    this.loads++;
    return super.load(...args);
  }
}

export interface TestServer {
  server: RunningServer;
  registry: ModelRegistry;
  executor: CountingExecutor;
  url: string;
  events: ServeEvent[];
  close(): Promise<void>;
}

export async function startTestServer(opts: {
  models?: { name: string; path: string; settings?: Partial<ModelSettings> }[];
  repository?: string;
  defaults?: Partial<ModelSettings>;
  server?: Partial<StartOptions>;
  /** The executor the models run on (default: sessions in this process, counted). */
  executor?: ModelExecutor;
  pipelines?: PipelineService;
}): Promise<TestServer> {
  const counting = new CountingExecutor(CPU_TARGET);
  const executor = opts.executor ?? counting;
  const events: ServeEvent[] = [];
  const hub = new EventHub();
  const forward = forwardEvents(hub, opts.server?.metrics);
  const defaults = settingsFor(DEFAULT_SETTINGS, opts.defaults);
  const registry = new ModelRegistry({
    executorFor: async () => ({ executor, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'test' } }),
    repository: opts.repository,
    defaults,
    onEvent: (e) => {
      events.push(e);
      forward(e);
    },
  });
  for (const m of opts.models ?? []) registry.add({ name: m.name, kind: 'file', path: m.path, settings: settingsFor(defaults, m.settings) });
  if (opts.repository) await registry.scan();
  for (const n of registry.names()) await registry.load(n).catch(() => undefined);
  const server = await startServer(
    registry,
    {
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 8 * 1024 * 1024,
      requestTimeoutMs: 0,
      serverVersion: 'test',
      events: hub,
      pipelines: opts.pipelines,
      ...opts.server,
    },
    { ready: true, closing: false },
  );
  return {
    server,
    registry,
    executor: counting,
    url: server.url,
    events,
    close: async () => {
      await server.close(1000);
      await executor.close();
      await counting.close();
    },
  };
}

/** The in-process reference: the same model run through a fresh session. */
export async function referenceRun(
  model: Uint8Array,
  feeds: Record<string, { type: 'float32'; dims: number[]; data: Float32Array }>,
): Promise<Record<string, Float32Array>> {
  const ex = new InProcessExecutor(CPU_TARGET);
  await ex.load('ref', model);
  const r = await ex.run('ref', feeds);
  await ex.close();
  return Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, v.data as Float32Array]));
}

export function seeded(n: number, seed = 1): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.status, json, headers: r.headers };
}

/** A binary-extension request body: JSON header then raw tensors. */
export function binaryBody(header: unknown, tensors: Uint8Array[]): { body: Buffer; headerLength: number } {
  const h = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([h, ...tensors.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength))]), headerLength: h.length };
}

/** `aivmm serve …` as a real process: its first stdout line (the --json ready line), its stderr so far, its exit. */
export interface ServeProcess {
  child: ChildProcess;
  /** Rejects with the stderr when the server exits before printing a line. */
  ready: Promise<string>;
  stderr(): string;
  exited: Promise<number | null>;
}

export function spawnServe(bin: string, args: readonly string[], env: NodeJS.ProcessEnv): ServeProcess {
  const child = spawn(process.execPath, [bin, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0] as string);
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}) before ready: ${err}`)));
  });
  return { child, ready, stderr: () => err, exited };
}

/** Occupies the model's only instance until release() is called (for queue-full and drain tests). */
export async function occupy(registry: ModelRegistry, name: string): Promise<{ release: () => void; done: Promise<unknown> }> {
  const held = await registry.acquire(name);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const done = held.version.queue.run(async () => {
    await gate;
    return { value: undefined, computeMs: 0 };
  });
  return { release: () => (release(), held.release()), done };
}

/**
 * Polls `cond` every 10 ms for up to 30 s: what it waits for (a lane restarted, spans exported, a request
 * queued) takes far less on a quiet machine, but seconds on a loaded 2-core CI runner; only a failure waits long.
 */
export async function until(cond: () => boolean, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > 30_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A test server with tiny-convnet served as 'tiny' under `settings`, metrics on and public; closed after `fn`. */
export async function withTiny<T>(settings: Partial<ModelSettings>, fn: (t: TestServer) => Promise<T>): Promise<T> {
  const { dir, cleanup } = await tmp();
  await writeFile(join(dir, 'tiny.onnx'), TINY);
  const t = await startTestServer({
    models: [{ name: 'tiny', path: join(dir, 'tiny.onnx'), settings }],
    server: { metrics: createServeMetrics(), metricsPublic: true },
  });
  try {
    return await fn(t);
  } finally {
    await t.close();
    await cleanup();
  }
}
