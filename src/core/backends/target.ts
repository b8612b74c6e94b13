/**
 * One device for commands that run a model in this process (run, quantize): the --device and --backend
 * flags' values → (device, backend, target). Pure: the caller discovers the devices, and sets the
 * target's environment (`target.env`) before the runtime loads.
 */
import { targetFor, type RuntimeTarget } from './ep-map.js';
import { selectDevices } from '../devices/select.js';
import type { BackendId, Device, DevicesReport } from '../devices/types.js';
import { BackendUnavailableError, UsageError } from '../errors.js';

/** Backends tried for a device when --backend is not given; the first available wins. */
export const PREFERRED_BACKENDS: readonly BackendId[] = ['ort-cpu', 'ort-cuda', 'ort-webgpu', 'ort-tensorrt'];

export interface ResolvedTarget {
  device: Device;
  backend: BackendId;
  target: RuntimeTarget;
}

export interface TargetRequest {
  /** Names the command in messages. */
  command: string;
  device: string;
  backend?: string;
  /** Runtimes the command can run on (default onnxruntime only; `run` opens sessions through the registry, so OpenVINO too). */
  runtimes?: readonly RuntimeTarget['runtime'][];
}

export function resolveTarget(devices: DevicesReport, r: TargetRequest): ResolvedTarget {
  const runtimes = r.runtimes ?? ['onnxruntime'];
  if (r.device.trim().toLowerCase() === 'all') throw new UsageError(`--device all: ${r.command} runs on one device`, 'name one: CPU, GPU.0, …');
  const [device] = selectDevices(r.device, devices.devices);
  if (!device) throw new UsageError(`no device '${r.device}'`);
  const wanted = r.backend ? [r.backend as BackendId] : PREFERRED_BACKENDS;
  const reach = wanted.map((b) => device.backends.find((x) => x.backend === b)).find((x) => x?.available);
  const through = runtimes.includes('openvino') ? 'onnxruntime or OpenVINO' : 'onnxruntime';
  if (!reach) {
    const why = device.backends.map((x) => `${x.backend}: ${x.available ? 'available' : x.reason ?? 'not available'}`).join('; ');
    throw new BackendUnavailableError(`no ${runtimes.includes('openvino') && r.backend === 'openvino' ? 'OpenVINO' : 'onnxruntime'} backend reaches ${device.id}${r.backend ? ` through ${r.backend}` : ''}`, why || 'run `aivmm devices`');
  }
  const runtime: RuntimeTarget['runtime'] = reach.backend.startsWith('ort-') ? 'onnxruntime' : 'openvino';
  if (!runtimes.includes(runtime)) throw new UsageError(`--backend ${reach.backend}: ${r.command} runs through ${through}`, `use ort-cpu, ort-webgpu, ort-cuda or ort-tensorrt${runtimes.includes('openvino') ? ', or openvino' : ''}`);
  return { device, backend: reach.backend, target: targetFor(devices.devices, device, reach.backend) };
}
