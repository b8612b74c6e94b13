/**
 * Backends are resolved, not imported: every runtime registers a lazy loader here, and callers ask for
 * the backend a target needs (`backendFor`) or the first that loads of several (`resolveBackend`, which
 * collects every failure into one error, as onnxruntime-common's `resolveBackend` does). `openSession`
 * holds the one copy of the strict-placement-then-fallback rule that bench, probe, run and the server use.
 */
import { BackendUnavailableError, errorMessage } from '../errors.js';
import type { RuntimeTarget } from './ep-map.js';
export { CPU_TARGET } from './ep-map.js';
import type { Backend, LoadOptions, Session } from './types.js';
import { isCpuFallbackRefusal } from './ort.js'; // ort.js loads the native addon lazily, never at import
import { PerBatchSizeSession } from './per-batch-size.js';

export type RuntimeName = RuntimeTarget['runtime'];

interface Entry {
  load: () => Promise<Backend>;
  priority: number;
  /** Resolved once; a failure is not cached, so installing the runtime and retrying works. */
  backend?: Promise<Backend> | undefined;
}

const entries = new Map<RuntimeName, Entry>();

/** Registers (or replaces) the loader of a runtime; higher priority is tried first by `resolveBackend`. */
export function registerBackend(name: RuntimeName, load: () => Promise<Backend>, priority = 0): void {
  entries.set(name, { load, priority });
}

/** Registered runtimes, highest priority first. */
export function registeredBackends(): RuntimeName[] {
  return [...entries].sort((a, b) => b[1].priority - a[1].priority).map(([n]) => n);
}

async function loadEntry(name: RuntimeName): Promise<Backend> {
  const e = entries.get(name);
  if (!e) throw new BackendUnavailableError(`no backend is registered for runtime '${name}'`);
  e.backend ??= e.load().then(async (b) => {
    await b.version(); // loads the native addon: an unusable runtime fails here, not at the first session
    return b;
  });
  try {
    return await e.backend;
  } catch (err) {
    e.backend = undefined;
    throw err;
  }
}

/** The backend that runs `target` (its runtime's). */
export function backendFor(target: RuntimeTarget | RuntimeName): Promise<Backend> {
  return loadEntry(typeof target === 'string' ? target : target.runtime);
}

/**
 * The first of `names` (default: every registered runtime by priority) whose backend loads. Throws one
 * BackendUnavailableError naming every runtime that failed and why.
 */
export async function resolveBackend(names: readonly RuntimeName[] = registeredBackends()): Promise<{ name: RuntimeName; backend: Backend }> {
  const failures: string[] = [];
  for (const name of names) {
    try {
      return { name, backend: await loadEntry(name) };
    } catch (err) {
      failures.push(`${name}: ${errorMessage(err)}`);
    }
  }
  throw new BackendUnavailableError(failures.length ? `no backend could be loaded (${failures.join('; ')})` : 'no backend is registered');
}

export interface OpenOptions extends LoadOptions {
  /**
   * Placement on accelerators: `true` refuses a session in which any node would fall back to the CPU;
   * `'prefer'` tries that first and, when refused, opens with fallback allowed and says so (`fallback`);
   * `false` (default) never asks. Ignored for CPU targets, where there is nothing to fall back from.
   */
  strict?: boolean | 'prefer';
}

export interface OpenedSession {
  session: Session;
  runtimeVersion: string;
  /** Set when placement was checked: whether some nodes run on the CPU instead of the target's EP. */
  fallback?: boolean;
}

/** Opens `model` (a path or the bytes of an .onnx file) on `target` through its backend. */
export async function openSession(target: RuntimeTarget, model: string | Uint8Array, opts: OpenOptions = {}): Promise<OpenedSession> {
  const { sessionPerBatchSize, ...rest } = opts;
  const opened = await openOne(target, model, rest);
  if (!sessionPerBatchSize || sessionPerBatchSize < 2) return opened;
  // Further sizes open as the first did, with its placement settled (no second strict-then-fallback try).
  const again = { ...rest, strict: false as const, ...(opened.fallback === false ? { strictPlacement: true } : {}) };
  const reopen = async (): Promise<Session> => (await openOne(target, model, again)).session;
  return { ...opened, session: new PerBatchSizeSession(opened.session, reopen, sessionPerBatchSize) };
}

async function openOne(target: RuntimeTarget, model: string | Uint8Array, opts: OpenOptions): Promise<OpenedSession> {
  const { strict = false, ...load } = opts;
  const backend = await backendFor(target);
  const runtimeVersion = await backend.version();
  const accelerated = target.runtime === 'onnxruntime' && target.provider !== 'cpu';
  if (!strict || !accelerated) return { session: await backend.load(model, target, load), runtimeVersion };
  try {
    return { session: await backend.load(model, target, { ...load, strictPlacement: true }), runtimeVersion, fallback: false };
  } catch (err) {
    if (strict === true || !isCpuFallbackRefusal(err)) throw err;
    return { session: await backend.load(model, target, load), runtimeVersion, fallback: true };
  }
}

registerBackend('onnxruntime', async () => (await import('./ort.js')).ortBackend, 10);
registerBackend('openvino', async () => (await import('./openvino.js')).openvinoBackend, 5);
