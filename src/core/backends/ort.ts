/**
 * onnxruntime-node adapter. The only module that imports onnxruntime-node, and only lazily,
 * so `--help` and plain `aivmm devices` never load the native addon.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type * as OrtModule from 'onnxruntime-node';
import { BackendUnavailableError, InferenceError, errorMessage } from '../errors.js';
import type { RuntimeTarget } from './ep-map.js';
import type { Backend, ElementType, HostTensor, LoadOptions, Session, TensorSpec } from './types.js';
import { checkCpuEpOptions } from './ep-options.js';

type Ort = typeof OrtModule;
let ortPromise: Promise<Ort> | undefined;

export function loadOrt(): Promise<Ort> {
  ortPromise ??= import('onnxruntime-node')
    .then((m) => {
      const ort = (m as unknown as { default?: Ort }).default ?? (m as unknown as Ort);
      ort.env.logLevel = 'error'; // keep ORT's warnings off the user's stderr
      return ort;
    })
    .catch((err: unknown) => {
      ortPromise = undefined;
      throw new BackendUnavailableError(`onnxruntime-node could not be loaded: ${errorMessage(err)}`, 'reinstall with `npm install`', { cause: err });
    });
  return ortPromise;
}

/** What the installed onnxruntime-node binding was built with (loads the addon). */
export async function ortSupportedBackends(): Promise<{ name: string; bundled: boolean }[]> {
  const ort = await loadOrt();
  return ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
}

/**
 * `--ep-option` keys with a dot (`ep.webgpuexecutionprovider.enableGraphCapture`, `session.…`) are
 * session configuration entries — where onnxruntime's native EPs read most of their options — not
 * provider options of the JS binding.
 */
function splitEpOptions(opts: LoadOptions): { provider: Record<string, string | number | boolean>; config: Record<string, string> } {
  const provider: Record<string, string | number | boolean> = {};
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.epOptions ?? {})) {
    if (k.includes('.')) config[k] = String(v);
    else provider[k] = v;
  }
  return { provider, config };
}

function providerOption(target: Extract<RuntimeTarget, { runtime: 'onnxruntime' }>, opts: LoadOptions): OrtModule.InferenceSession.ExecutionProviderConfig {
  const extra = splitEpOptions(opts).provider;
  if (target.provider === 'cpu') {
    checkCpuEpOptions(extra);
    return extra['useArena'] === undefined ? 'cpu' : { name: 'cpu', useArena: !/^(0|false|no|off)$/i.test(String(extra['useArena'])) };
  }
  if (target.provider === 'webgpu') return { name: 'webgpu', ...extra } as OrtModule.InferenceSession.ExecutionProviderConfig;
  // Other keys for CUDA/TensorRT never get here: load() sends those sessions through the C API (ort-capi.ts).
  return { name: target.provider, deviceId: target.deviceId ?? 0, ...extra } as OrtModule.InferenceSession.ExecutionProviderConfig;
}

function spec(meta: OrtModule.InferenceSession.ValueMetadata): TensorSpec {
  if (!meta.isTensor) return { name: meta.name, type: 'non-tensor', shape: [] };
  return { name: meta.name, type: meta.type, shape: meta.shape };
}

/** Session creation refused because, with CPU fallback disabled, some node would have run on the CPU EP. */
export function isCpuFallbackRefusal(err: unknown): boolean {
  return /fallback to CPU EP has been explicitly disabled|assigned to the default CPU EP/i.test(errorMessage(err));
}

/** Counts nodes per execution provider in an ORT profile (Chrome trace JSON). */
export function countPlacement(profile: unknown): Record<string, number> {
  const perProvider = new Map<string, Set<string>>();
  if (!Array.isArray(profile)) return {};
  for (const ev of profile as { cat?: string; name?: string; args?: { provider?: string } }[]) {
    if (ev.cat !== 'Node' || !ev.args?.provider || !ev.name?.endsWith('_kernel_time')) continue;
    const set = perProvider.get(ev.args.provider) ?? new Set<string>();
    set.add(ev.name.slice(0, -'_kernel_time'.length));
    perProvider.set(ev.args.provider, set);
  }
  return Object.fromEntries([...perProvider].map(([p, s]) => [p, s.size]));
}

class OrtSession implements Session {
  constructor(
    private readonly ort: Ort,
    private readonly session: OrtModule.InferenceSession,
    readonly target: RuntimeTarget,
    private readonly profilePrefix: string | undefined,
  ) {}

  get inputs(): TensorSpec[] {
    return this.session.inputMetadata.map(spec);
  }

  get outputs(): TensorSpec[] {
    return this.session.outputMetadata.map(spec);
  }

  async run(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, OrtModule.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      ortFeeds[name] = new this.ort.Tensor(t.type, t.data as never, t.dims);
    }
    let results: OrtModule.InferenceSession.OnnxValueMapType;
    try {
      results = await this.session.run(ortFeeds);
    } catch (err) {
      throw new InferenceError(`inference failed: ${errorMessage(err)}`, 'check the input names, shapes and types against the model (`aivmm run --help`)', {
        cause: err,
      });
    }
    const out: Record<string, HostTensor> = {};
    for (const [name, v] of Object.entries(results)) {
      const t = v as OrtModule.Tensor;
      out[name] = { type: t.type as ElementType, dims: t.dims, data: t.data as HostTensor['data'] };
    }
    return out;
  }

  async placement(): Promise<Record<string, number> | undefined> {
    if (!this.profilePrefix) return undefined;
    this.session.endProfiling();
    const dir = join(this.profilePrefix, '..');
    const base = this.profilePrefix.split('/').pop() ?? '';
    const files = (await readdir(dir)).filter((f) => f.startsWith(base) && f.endsWith('.json'));
    const counts: Record<string, number> = {};
    for (const f of files) {
      const path = join(dir, f);
      const parsed = JSON.parse(await readFile(path, 'utf8')) as unknown;
      for (const [p, n] of Object.entries(countPlacement(parsed))) counts[p] = (counts[p] ?? 0) + n;
      await rm(path, { force: true });
    }
    return counts;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

export const ortBackend: Backend = {
  runtime: 'onnxruntime',

  async version(): Promise<string> {
    const ort = await loadOrt();
    return ort.env.versions.node ?? ort.env.versions.common;
  },

  async load(model, target, opts = {}) {
    if (target.runtime !== 'onnxruntime') throw new InferenceError(`onnxruntime cannot run target '${target.runtime}'`);
    // onnxruntime-node's binding passes the CUDA and TensorRT EPs only deviceId: other provider options
    // (enable_cuda_graph, cudnn_conv_algo_search, trt_fp16_enable, …) go through onnxruntime's C API.
    const capi = await import('./ort-capi.js');
    if (capi.needsCapi(target, opts)) return capi.loadCapiSession(model, target, opts);
    const ort = await loadOrt();
    const options: OrtModule.InferenceSession.SessionOptions = {
      executionProviders: [providerOption(target, opts)],
      logSeverityLevel: 3,
    };
    if (opts.threads !== undefined) options.intraOpNumThreads = opts.threads;
    if (opts.graphOptimizationLevel) options.graphOptimizationLevel = opts.graphOptimizationLevel;
    const session: Record<string, unknown> = {};
    if (opts.strictPlacement && target.provider !== 'cpu') session['disable_cpu_ep_fallback'] = '1';
    if (opts.spinning === false) session['intra_op'] = { allow_spinning: '0' };
    const config = splitEpOptions(opts).config;
    if (Object.keys(session).length > 0 || Object.keys(config).length > 0)
      options.extra = { ...config, ...(Object.keys(session).length > 0 ? { session } : {}) };
    let profilePrefix: string | undefined;
    if (opts.profile) {
      profilePrefix = join(opts.profile.dir, `aivmm-profile-${randomBytes(4).toString('hex')}`);
      options.enableProfiling = true;
      options.profileFilePrefix = profilePrefix;
    }
    try {
      const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
      return new OrtSession(ort, session, target, profilePrefix);
    } catch (err) {
      const message = errorMessage(err);
      if (target.provider !== 'cpu' && /provider|adapter|webgpu|cuda|vulkan|dawn|fallback/i.test(message)) {
        throw new BackendUnavailableError(
          `${target.provider} execution provider failed: ${message}`,
          'run `aivmm devices --probe` to see which backends work here',
          { cause: err },
        );
      }
      throw new InferenceError(`could not create a session: ${message}`, 'is the file a valid ONNX model?', { cause: err });
    }
  },
};
