/** One device for commands that run a model in this process (quantize, run): --device / --backend → an onnxruntime target. */
import type { RuntimeTarget } from '../core/backends/ep-map.js';
import { targetFor } from '../core/backends/ep-map.js';
import { listDevices, selectDevices } from '../core/devices/index.js';
import type { BackendId, Device, DevicesReport } from '../core/devices/types.js';
import { BackendUnavailableError, UsageError } from '../core/errors.js';
import type { CliContext } from './context.js';

/** Backends tried for a device when --backend is not given; the first available wins. */
const PREFERRED: readonly BackendId[] = ['ort-cpu', 'ort-cuda', 'ort-webgpu', 'ort-tensorrt'];

export interface OrtTarget {
  device: Device;
  backend: BackendId;
  target: RuntimeTarget;
}

/** `known`: devices already discovered by the caller (discovery is not repeated). */
export async function resolveOrtTarget(ctx: CliContext, command: string, deviceFlag: string, backendFlag: string | undefined, cacheDir: string, known?: DevicesReport): Promise<OrtTarget> {
  const devices = known ?? (await listDevices({ host: ctx.host(), cacheDir }));
  if (deviceFlag.trim().toLowerCase() === 'all') throw new UsageError(`--device all: ${command} runs on one device`, 'name one: CPU, GPU.0, …');
  const [device] = selectDevices(deviceFlag, devices.devices);
  if (!device) throw new UsageError(`no device '${deviceFlag}'`);
  const wanted = backendFlag ? [backendFlag as BackendId] : PREFERRED;
  const reach = wanted.map((b) => device.backends.find((r) => r.backend === b)).find((r) => r?.available);
  if (!reach) {
    const why = device.backends.map((r) => `${r.backend}: ${r.available ? 'available' : r.reason ?? 'not available'}`).join('; ');
    throw new BackendUnavailableError(`no onnxruntime backend reaches ${device.id}${backendFlag ? ` through ${backendFlag}` : ''}`, why || 'run `aivmm devices`');
  }
  if (!reach.backend.startsWith('ort-')) throw new UsageError(`--backend ${reach.backend}: ${command} runs through onnxruntime`, 'use ort-cpu, ort-webgpu, ort-cuda or ort-tensorrt');
  const target = targetFor(devices.devices, device, reach.backend);
  // The runtime reads these (e.g. the Vulkan driver to expose) when it loads: before any session.
  if (target.runtime === 'onnxruntime') for (const [k, v] of Object.entries(target.env)) process.env[k] = v;
  return { device, backend: reach.backend, target };
}
