/**
 * Device ids ("CPU", "GPU.0", "NPU") → an executor on the right (device, backend), one per device, created
 * on first use, with the reason for the choice kept for GET /v1/placement. The CPU needs no discovery;
 * other devices are looked up in `aivmm devices`' report and reached through the first available backend
 * in PREFERRED order. Devices that cannot be used are remembered with their reasons.
 */
import { CPU_TARGET, describeTarget, targetFor, type RuntimeTarget } from '../core/backends/ep-map.js';
import { selectDevices } from '../core/devices/select.js';
import type { BackendId, DevicesReport } from '../core/devices/types.js';
import { BackendUnavailableError, errorMessage } from '../core/errors.js';
import type { ModelExecutor } from '../core/serve/executor.js';
import type { DeviceExecutor, Placement } from '../core/serve/registry.js';

const PREFERRED: Readonly<Record<string, readonly BackendId[]>> = {
  cpu: ['ort-cpu', 'openvino'],
  gpu: ['ort-cuda', 'ort-tensorrt', 'openvino', 'ort-webgpu'],
  npu: ['openvino'],
};

export interface DeviceFactoryOptions {
  /** The device report (discovery runs at most once, and only for a device other than the CPU). */
  discover: () => Promise<DevicesReport>;
  /** Makes the executor (a lane, or sessions in this process) for a resolved target. */
  makeExecutor: (target: RuntimeTarget, device: string) => Promise<ModelExecutor>;
}

export interface DeviceFactory {
  executorFor(device: string): Promise<DeviceExecutor>;
  unavailable(): { device: string; reason: string }[];
  /** The device report (discovered once, on first need). */
  report(): Promise<DevicesReport>;
  /** Each started executor's device, placement and (for lanes) pid and memory. */
  lanes(): Promise<{ device: string; backend: string; pid?: number; rssBytes?: number; instances?: number }[]>;
  closeAll(): Promise<void>;
}

export function deviceFactory(opts: DeviceFactoryOptions): DeviceFactory {
  const made = new Map<string, Promise<DeviceExecutor>>();
  const failed = new Map<string, string>();
  let report: Promise<DevicesReport> | undefined;

  /** `key` is a device id, or "DEVICE@backend" for one backend (what --device auto chose). */
  async function resolve(key: string): Promise<{ target: RuntimeTarget; placement: Placement }> {
    const [device = key, only] = key.split('@') as [string, BackendId | undefined];
    if (device.toUpperCase() === 'CPU' && (!only || only === 'ort-cpu')) return { target: CPU_TARGET, placement: { device: 'CPU', backend: 'ort-cpu', reason: 'CPU requested (onnxruntime CPU execution provider)' } };
    report ??= opts.discover();
    const devices = await report;
    const [d] = selectDevices(device, devices.devices);
    if (!d) throw new BackendUnavailableError(`no device '${device}'`);
    const tried: string[] = [];
    for (const b of only ? [only] : (PREFERRED[d.kind] ?? [])) {
      const reach = d.backends.find((r) => r.backend === b);
      if (!reach?.available) {
        tried.push(`${b}: ${reach?.reason ?? 'not available'}`);
        continue;
      }
      const target = targetFor(devices.devices, d, b);
      const why = tried.length ? `; skipped ${tried.join('; ')}` : '';
      return { target, placement: { device: d.id, backend: b, reason: `${d.id} (${d.name}) requested; ${b} (${describeTarget(target)}) is the first available backend${why}` } };
    }
    throw new BackendUnavailableError(`no backend reaches ${d.id} (${d.name})`, tried.join('; ') || 'run `aivmm devices`');
  }

  return {
    executorFor(device: string): Promise<DeviceExecutor> {
      let p = made.get(device);
      if (!p) {
        p = (async () => {
          try {
            const { target, placement } = await resolve(device);
            return { executor: await opts.makeExecutor(target, placement.device), placement };
          } catch (err) {
            failed.set(device, errorMessage(err));
            made.delete(device);
            throw err;
          }
        })();
        made.set(device, p);
      }
      return p;
    },
    report: () => (report ??= opts.discover()),
    unavailable: () => [...failed].map(([device, reason]) => ({ device, reason })),
    async lanes() {
      const out: { device: string; backend: string; pid?: number; rssBytes?: number; instances?: number }[] = [];
      for (const p of made.values()) {
        const d = await p.catch(() => undefined);
        if (!d) continue;
        const st = await (d.executor as { stats?: () => Promise<{ pid: number; rssBytes: number; instances: number } | undefined> }).stats?.().catch(() => undefined);
        out.push({ device: d.placement.device, backend: d.placement.backend, ...(st ? { pid: st.pid, rssBytes: st.rssBytes, instances: st.instances } : {}) });
      }
      return out;
    },
    async closeAll(): Promise<void> {
      const all = await Promise.allSettled([...made.values()]);
      made.clear();
      await Promise.all(all.map((r) => (r.status === 'fulfilled' ? r.value.executor.close().catch(() => undefined) : undefined)));
    },
  };
}
