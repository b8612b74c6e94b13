/** Public surface of device discovery. */
import { discoverDevices } from './discover.js';
import type { Host } from './host.js';
import { applyProbeCache, probeDevices, type ProbeEvent, type ProbeRunner } from './probe.js';
import { selectDevices } from './select.js';
import type { DevicesReport } from './types.js';

export interface ListDevicesOptions {
  host: Host;
  /** Where probe results are cached per host; undefined: no cache. */
  cacheDir?: string;
  /** Run a tiny model on every reachable (device, backend) pair. */
  probe?: { runner: ProbeRunner; timeoutMs?: number; onProgress?: (e: ProbeEvent) => void };
  /** A --device selector: CPU, GPU, GPU.1, NPU, all (default all). */
  device?: string;
  now?: () => number;
}

export async function listDevices(opts: ListDevicesOptions): Promise<DevicesReport> {
  const report = await discoverDevices(opts.host, opts.now ? { now: opts.now } : {});
  const selected = opts.device ? selectDevices(opts.device, report.devices) : report.devices;
  const ids = selected.map((d) => d.id);
  if (opts.probe) {
    await probeDevices(report, {
      runner: opts.probe.runner,
      ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
      ...(opts.probe.timeoutMs ? { timeoutMs: opts.probe.timeoutMs } : {}),
      ...(opts.probe.onProgress ? { onProgress: opts.probe.onProgress } : {}),
      deviceIds: ids,
    });
  } else if (opts.cacheDir) {
    await applyProbeCache(report, opts.cacheDir);
  }
  report.devices = report.devices.filter((d) => ids.includes(d.id));
  return report;
}

export { discoverDevices } from './discover.js';
export { nodeHost, type Host } from './host.js';
export { selectDevices } from './select.js';
export { hostFingerprint, probeDevices, applyProbeCache, type ProbeRunner, type ProbeEvent } from './probe.js';
export type * from './types.js';
