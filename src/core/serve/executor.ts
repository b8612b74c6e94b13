/**
 * What the serving layer needs from a runtime: the shape of src/runtime's `Lane` (one long-lived worker
 * per (device, backend) holding named instances), so a lane is an executor as it is. The in-process
 * executor below holds sessions in this process; it exists for library use and for the time before
 * lanes, and it is what `--in-process` selects.
 */
import type { HostTensor, TensorSpec } from '../backends/types.js';
import type { RuntimeTarget } from '../backends/ep-map.js';
import { openSession, type OpenOptions } from '../backends/registry.js';
import { ModelUnavailableError } from './errors.js';

export interface LoadedInstance {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  runtimeVersion: string;
  fallback?: boolean;
  loadMs: number;
}

export interface ModelExecutor {
  load(instance: string, model: string | Uint8Array, options?: OpenOptions): Promise<LoadedInstance>;
  run(instance: string, feeds: Record<string, HostTensor>): Promise<{ outputs: Record<string, HostTensor>; computeMs: number }>;
  unload(instance: string): Promise<void>;
  close(): Promise<void>;
}

/** Sessions opened with openSession in this process (runs happen on this thread's event loop). */
export class InProcessExecutor implements ModelExecutor {
  private readonly sessions = new Map<string, Awaited<ReturnType<typeof openSession>>['session']>();

  constructor(
    readonly target: RuntimeTarget,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  async load(instance: string, model: string | Uint8Array, options: OpenOptions = {}): Promise<LoadedInstance> {
    const t0 = this.clock();
    const opened = await openSession(this.target, model, options);
    const old = this.sessions.get(instance);
    this.sessions.set(instance, opened.session);
    if (old) await old.dispose();
    const loaded: LoadedInstance = { inputs: [...opened.session.inputs], outputs: [...opened.session.outputs], runtimeVersion: opened.runtimeVersion, loadMs: this.clock() - t0 };
    if (opened.fallback !== undefined) loaded.fallback = opened.fallback;
    return loaded;
  }

  async run(instance: string, feeds: Record<string, HostTensor>): Promise<{ outputs: Record<string, HostTensor>; computeMs: number }> {
    const s = this.sessions.get(instance);
    if (!s) throw new ModelUnavailableError(`instance ${instance} is not loaded`);
    const t0 = this.clock();
    const outputs = await s.run(feeds);
    return { outputs, computeMs: this.clock() - t0 };
  }

  async unload(instance: string): Promise<void> {
    const s = this.sessions.get(instance);
    this.sessions.delete(instance);
    await s?.dispose();
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.dispose()));
  }
}
