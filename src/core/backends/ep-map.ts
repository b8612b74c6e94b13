/**
 * The one place that maps an aivmm (device, backend) pair to what a runtime is asked for:
 * an onnxruntime execution provider (with its device id, and for WebGPU the Vulkan driver to expose),
 * or an OpenVINO device string.
 */
import type { BackendId, Device } from '../devices/types.js';
import { UsageError } from '../errors.js';

export type OrtProviderName = 'cpu' | 'webgpu' | 'cuda' | 'tensorrt';

export type RuntimeTarget =
  | {
      runtime: 'onnxruntime';
      provider: OrtProviderName;
      deviceId?: number;
      /** Environment the session's process needs, e.g. VK_DRIVER_FILES to pin the WebGPU adapter. */
      env: Record<string, string>;
      /** The EP name onnxruntime reports in profiles for nodes it ran. */
      profileName: string;
    }
  | { runtime: 'openvino'; device: string };

const ORT_PROFILE_NAMES: Readonly<Record<OrtProviderName, string>> = Object.freeze({
  cpu: 'CPUExecutionProvider',
  webgpu: 'WebGpuExecutionProvider',
  cuda: 'CUDAExecutionProvider',
  tensorrt: 'TensorrtExecutionProvider',
});

/** The plain CPU target: onnxruntime's CPU execution provider (what every comparison is made against). */
export const CPU_TARGET: Extract<RuntimeTarget, { runtime: 'onnxruntime' }> = Object.freeze({
  runtime: 'onnxruntime',
  provider: 'cpu',
  env: Object.freeze({}) as Record<string, string>,
  profileName: ORT_PROFILE_NAMES.cpu,
});

/** The ordinal of `device` among the devices for which `same` holds (e.g. NVIDIA GPUs for CUDA). */
function ordinal(devices: readonly Device[], device: Device, same: (d: Device) => boolean): number {
  return devices.filter(same).findIndex((d) => d.id === device.id);
}

export function targetFor(devices: readonly Device[], device: Device, backend: BackendId): RuntimeTarget {
  switch (backend) {
    case 'ort-cpu':
      if (device.kind !== 'cpu') break;
      return CPU_TARGET;
    case 'ort-webgpu': {
      if (device.kind !== 'gpu') break;
      const env: Record<string, string> = device.vulkanIcd ? { VK_DRIVER_FILES: device.vulkanIcd } : {};
      return { runtime: 'onnxruntime', provider: 'webgpu', env, profileName: ORT_PROFILE_NAMES.webgpu };
    }
    case 'ort-cuda':
    case 'ort-tensorrt': {
      if (device.kind !== 'gpu' || device.vendorId !== '0x10de') break;
      const provider = backend === 'ort-cuda' ? 'cuda' : 'tensorrt';
      // CUDA numbers the NVIDIA GPUs it sees in PCI bus order (CUDA_DEVICE_ORDER=PCI_BUS_ID is set for the session).
      const deviceId = ordinal(devices, device, (d) => d.kind === 'gpu' && d.vendorId === '0x10de' && !d.software);
      return {
        runtime: 'onnxruntime',
        provider,
        deviceId,
        env: { CUDA_DEVICE_ORDER: 'PCI_BUS_ID' },
        profileName: ORT_PROFILE_NAMES[provider],
      };
    }
    case 'openvino': {
      if (device.kind === 'cpu') return { runtime: 'openvino', device: 'CPU' };
      if (device.kind === 'npu') return { runtime: 'openvino', device: 'NPU' };
      // OpenVINO numbers only the GPUs its plugin supports (Intel), integrated first.
      const n = ordinal(devices, device, (d) => d.kind === 'gpu' && d.vendorId === '0x8086' && !d.software);
      if (n < 0) break;
      return { runtime: 'openvino', device: `GPU.${n}` };
    }
  }
  throw new UsageError(`backend '${backend}' cannot run on ${device.id} (${device.name})`, `run \`aivmm devices\` to see which backends reach each device`);
}

/** How a target is shown: "webgpu", "cuda:0", "openvino:GPU.0". */
export function describeTarget(t: RuntimeTarget): string {
  if (t.runtime === 'openvino') return `openvino:${t.device}`;
  return t.deviceId === undefined ? t.provider : `${t.provider}:${t.deviceId}`;
}
