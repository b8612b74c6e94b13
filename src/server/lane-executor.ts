/**
 * The server's executor for one device: a long-lived worker lane (src/runtime), so the HTTP process's
 * event loop never runs inference (STYLE §8). Instances run on their own threads inside the lane
 * (`instancesConcurrent`), so several instances of a model compute at once.
 *
 * A lane that dies (a native crash, an OOM kill) fails its in-flight requests with LANE_CRASHED (503:
 * retry), is reported through `onCrash`, and is restarted with every instance it held loaded again;
 * requests that arrive meanwhile wait for the restart instead of failing.
 */
import type { RuntimeTarget } from '../core/backends/ep-map.js';
import type { OpenOptions } from '../core/backends/registry.js';
import type { HostTensor } from '../core/backends/types.js';
import { errorMessage, LaneCrashedError } from '../core/errors.js';
import type { LoadedInstance, ModelExecutor } from '../core/serve/executor.js';
import { setPriority } from 'node:os';
import { Lane, type LaneExit, type LaneOptions } from '../runtime/lane.js';

export interface LaneExecutorOptions {
  name: string;
  target: RuntimeTarget;
  host?: 'process' | 'thread';
  baseEnv?: LaneOptions['baseEnv'];
  onCrash?: (e: { lane: string; reason: string; restarts: number }) => void;
  onRestart?: (e: { lane: string; instances: number; ms: number; error?: string }) => void;
  onStderr?: (line: string) => void;
  /** Job modules the lane imports at start (the server's 'pipeline' kind). */
  jobModules?: string[];
  /** Added to the lane process's nice value (default 0). A few points let the HTTP process preempt inference on a dedicated machine; on a shared one the lane would also lose to every other process. */
  niceness?: number;
  /** Restarts allowed per minute before the lane is left down (a model that crashes it every time). */
  maxRestartsPerMinute?: number;
}

export class LaneExecutor implements ModelExecutor {
  private lane: Lane | undefined;
  private starting: Promise<Lane> | undefined;
  private readonly loaded = new Map<string, { model: string | Uint8Array; options: OpenOptions }>();
  private restarts: number[] = [];
  private closed = false;
  private downReason: string | undefined;
  private readonly health = new Set<(e: { up: boolean; reason?: string }) => void>();

  private readonly opts: LaneExecutorOptions;

  constructor(opts: LaneExecutorOptions) {
    this.opts = { niceness: 0, ...opts };
  }

  /**
   * Down when the lane crashed, up when its restart has loaded the instances again (the registry's
   * router stops and resumes sending requests to this lane's instances). Returns the unsubscriber.
   */
  onHealth(listener: (e: { up: boolean; reason?: string }) => void): () => void {
    this.health.add(listener);
    return () => this.health.delete(listener);
  }

  private tell(e: { up: boolean; reason?: string }): void {
    for (const l of [...this.health]) l(e);
  }

  get target(): RuntimeTarget {
    return this.opts.target;
  }

  /** The lane's process id (tests kill it to check crash handling). */
  get pid(): number | undefined {
    return this.lane?.pid;
  }

  private laneOptions(): LaneOptions {
    const o: LaneOptions = { name: this.opts.name, target: this.opts.target, host: this.opts.host ?? 'process', instancesConcurrent: true };
    if (this.opts.baseEnv) o.baseEnv = this.opts.baseEnv;
    if (this.opts.onStderr) o.onStderr = this.opts.onStderr;
    if (this.opts.jobModules) o.jobModules = this.opts.jobModules;
    return o;
  }

  /** The running lane, started (or restarted, with its instances reloaded) when needed. */
  private ready(): Promise<Lane> {
    if (this.lane?.alive) return Promise.resolve(this.lane);
    if (this.closed) return Promise.reject(new LaneCrashedError(`the ${this.opts.name} lane is closed`));
    if (this.downReason) return Promise.reject(new LaneCrashedError(this.downReason, 'the lane crashed too often; fix the model or device and reload it'));
    this.starting ??= (async () => {
      const t0 = performance.now();
      const lane = await Lane.start(this.laneOptions());
      lane.on('exit', (e: LaneExit) => this.onExit(lane, e));
      // The lane yields the CPU to the HTTP process: health and admission answer at once even when
      // inference saturates every core (scripts/bench-serve-health.mjs measures it).
      if (this.opts.niceness && lane.pid && this.opts.host !== 'thread') {
        try {
          setPriority(lane.pid, this.opts.niceness);
        } catch {
          // not permitted here: the lane runs at the server's priority
        }
      }
      const restart = this.lane !== undefined;
      this.lane = lane;
      if (restart) {
        let error: string | undefined;
        for (const [id, l] of this.loaded) {
          try {
            await lane.load(id, l.model, l.options);
          } catch (err) {
            error = `${id}: ${errorMessage(err)}`;
          }
        }
        this.opts.onRestart?.({ lane: this.opts.name, instances: this.loaded.size, ms: performance.now() - t0, ...(error ? { error } : {}) });
        if (error) this.tell({ up: false, reason: `the ${this.opts.name} lane restarted but could not load its instances: ${error}` });
        else this.tell({ up: true });
      }
      return lane;
    })().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private onExit(lane: Lane, e: LaneExit): void {
    if (this.closed || lane !== this.lane) return;
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < 60_000);
    this.restarts.push(now);
    this.opts.onCrash?.({ lane: this.opts.name, reason: e.reason, restarts: this.restarts.length });
    this.tell({ up: false, reason: `the ${this.opts.name} lane crashed: ${e.reason}` });
    if (this.restarts.length > (this.opts.maxRestartsPerMinute ?? 5)) {
      this.downReason = `${e.reason} (restarted ${this.restarts.length - 1} times in a minute; left down)`;
      return;
    }
    void this.ready().catch(() => undefined); // restart now, so the next request does not pay for it
  }

  async load(instance: string, model: string | Uint8Array, options: OpenOptions = {}): Promise<LoadedInstance> {
    const lane = await this.ready();
    const r = await lane.load(instance, model, options);
    this.loaded.set(instance, { model, options });
    const out: LoadedInstance = { inputs: r.inputs, outputs: r.outputs, runtimeVersion: r.runtimeVersion, loadMs: r.loadMs };
    if (r.fallback !== undefined) out.fallback = r.fallback;
    return out;
  }

  async run(instance: string, feeds: Record<string, HostTensor>): Promise<{ outputs: Record<string, HostTensor>; computeMs: number }> {
    const lane = await this.ready();
    // The feeds were built for this request alone: their buffers move to the lane instead of being copied.
    return lane.runTransfer(instance, feeds);
  }

  /** A job on the lane (restarted first if it died); `generation` changes with every restart. */
  async job<T>(kind: string, payload: unknown, onEvent?: (e: unknown) => void, signal?: AbortSignal): Promise<T> {
    const lane = await this.ready();
    return lane.job<T>(kind, payload, onEvent, signal ? { signal } : {});
  }

  /** Changes when the lane is restarted (what was opened in the old one is gone). */
  get generation(): number | undefined {
    return this.lane?.pid;
  }

  /** The lane's pid, memory and instances; undefined while it is down. */
  async stats(): Promise<{ lane: string; pid: number; rssBytes: number; instances: number } | undefined> {
    if (!this.lane?.alive) return undefined;
    const s = await this.lane.stats();
    return { lane: this.opts.name, pid: s.pid, rssBytes: s.rssBytes, instances: s.instances.length };
  }

  async unload(instance: string): Promise<void> {
    this.loaded.delete(instance);
    if (this.lane?.alive) await this.lane.unload(instance);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.loaded.clear();
    await this.starting?.catch(() => undefined);
    await this.lane?.close();
  }
}

/** The module that registers the 'pipeline' job kind, for LaneExecutorOptions.jobModules. */
export const PIPELINE_JOB_MODULE = new URL(import.meta.url.endsWith('.ts') ? './pipeline-job.ts' : './pipeline-job.js', import.meta.url).href;
