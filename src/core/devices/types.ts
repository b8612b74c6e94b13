/** The device model: one list of devices (CPU, GPU.0, GPU.1, NPU), each with the backends that reach it. */

export type DeviceKind = 'cpu' | 'gpu' | 'npu';

export const BACKEND_IDS = ['ort-cpu', 'ort-webgpu', 'ort-cuda', 'ort-tensorrt', 'openvino'] as const;
export type BackendId = (typeof BACKEND_IDS)[number];

export interface ProbeResult {
  ok: boolean;
  /** ISO timestamp of the probe. */
  at: string;
  /** True when read from the per-host probe cache rather than run now. */
  cached: boolean;
  sessionMs?: number;
  runMs?: number;
  /** Nodes executed per execution provider / device, from the runtime's own profile. */
  executedOn?: Record<string, number>;
  /** The request asked for an accelerator but (some) nodes ran on the CPU. */
  fallback?: boolean;
  /** At least one node ran on the requested provider/device. */
  ranOnTarget?: boolean;
  /** Largest absolute difference from the CPU reference output. */
  maxAbsDiff?: number;
  error?: string;
}

export interface BackendReach {
  backend: BackendId;
  /** Cheap check (libraries, driver nodes, ICD files) or, after a probe, the probe's verdict. */
  available: boolean;
  /** A probe confirmed or refuted availability (now or from the cache). */
  verified: boolean;
  /** What the runtime is asked for: an EP name with device id, or an OpenVINO device string. */
  target?: string;
  reason?: string;
  fix?: string;
  /** CUDA/TensorRT: the library stack the installed provider was built for, and where it was found. */
  libraries?: { stack: string; dirs: string[] };
  probe?: ProbeResult;
}

export interface CpuInfo {
  model: string;
  vendor: string;
  arch: string;
  sockets: number;
  physicalCores: number;
  logicalCores: number;
  maxMHz?: number;
  /** Inference-relevant ISA features, normalised: avx2, fma, f16c, avx512f, avx512_vnni, avx512_bf16, avx512_fp16, avx_vnni, amx_tile, amx_int8, amx_bf16, neon, sve, sve2, dotprod, i8mm, bf16. */
  features: string[];
}

export interface GpuTelemetry {
  utilizationPct?: number;
  temperatureC?: number;
  powerW?: number;
  powerLimitW?: number;
  memoryUsedBytes?: number;
}

export interface Device {
  /** OpenVINO-style id: CPU, GPU.0, GPU.1, …, NPU (NPU.1 for a second one). */
  id: string;
  kind: DeviceKind;
  name: string;
  vendor: string;
  /** PCI vendor id, e.g. 0x10de. */
  vendorId?: string;
  deviceId?: string;
  pciAddress?: string;
  driver?: string;
  driverVersion?: string;
  integrated?: boolean;
  /** A software rasteriser (lavapipe, llvmpipe, SwiftShader): runs on the CPU. */
  software?: boolean;
  memoryBytes?: number;
  computeCapability?: string;
  telemetry?: GpuTelemetry;
  cpu?: CpuInfo;
  /** The Vulkan driver manifest (ICD) the WebGPU EP would use for this device. */
  vulkanIcd?: string;
  /** Facts worth showing that are not a backend verdict (e.g. why no backend applies). */
  notes?: string[];
  backends: BackendReach[];
}

export interface RuntimeInfo {
  name: 'onnxruntime-node' | 'openvino-node';
  installed: boolean;
  version?: string;
  /** ORT: listSupportedBackends() (what the package was built with); only filled by a probe. */
  builtWith?: { name: string; bundled: boolean }[];
  reason?: string;
}

export interface IgnoredDevice {
  pciAddress: string;
  vendorId: string;
  name: string;
  reason: string;
}

export interface DevicesReport {
  host: {
    hostname: string;
    platform: string;
    arch: string;
    release: string;
    memoryBytes: number;
    availableMemoryBytes: number;
  };
  runtimes: RuntimeInfo[];
  devices: Device[];
  /** Display adapters with no compute backend (BMC VGA, virtual displays). */
  ignored: IgnoredDevice[];
  /** True when this run probed; false when only cheap checks (and maybe cached probes) were used. */
  probed: boolean;
  probeCache?: { path: string; at?: string; used: boolean };
  warnings: string[];
  elapsedMs: number;
}
