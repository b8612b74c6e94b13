/**
 * Which backends could reach each device, decided cheaply from what is on disk: runtime packages,
 * provider libraries, driver libraries, device nodes and Vulkan ICD manifests. Nothing is loaded or run
 * here; `devices --probe` verifies these verdicts by running a model.
 */
import type { OpenvinoPackage, OrtPackage } from '../backends/packages.js';
import { ortBundlesWebgpu } from '../backends/packages.js';
import { describeTarget, targetFor } from '../backends/ep-map.js';
import type { BackendId, BackendReach, Device } from './types.js';
import type { LibraryFinder } from './libs.js';
import { exists, type Host } from './host.js';
import { VULKAN_LOADER } from './vulkan.js';

export interface ReachContext {
  host: Host;
  libs: LibraryFinder;
  ort: OrtPackage;
  openvino: OpenvinoPackage;
  devices: readonly Device[];
}

/** What onnxruntime-node's own (NuGet) CUDA provider needs; used when the installed one cannot be read. */
const CUDA_LIBS = ['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11', 'libcurand.so.10', 'libcudnn.so.9'];
const TENSORRT_LIBS = ['libnvinfer.so.10', 'libnvinfer_plugin.so.10', 'libnvonnxparser.so.10'];
/** cuDNN is loaded at run time, not linked: every onnxruntime 1.2x/1.3x CUDA provider needs cuDNN 9. */
const CUDNN = 'libcudnn.so.9';

const CUDA_FIX = 'aivmm setup cuda (runs onnxruntime-node\'s installer for the CUDA 12 provider libraries; --from <dir> offline)';

/** The CUDA-family libraries a backend needs: read from the installed provider libraries, else the defaults. */
function cudaNeeds(ctx: ReachContext, backend: 'ort-cuda' | 'ort-tensorrt'): string[] {
  const cuda = ctx.ort.cudaNeeds ? [...ctx.ort.cudaNeeds, CUDNN] : CUDA_LIBS;
  const all = backend === 'ort-cuda' ? cuda : [...cuda, ...(ctx.ort.tensorrtNeeds ?? TENSORRT_LIBS)];
  return [...new Set(all)];
}

function stackName(need: readonly string[], backend: 'ort-cuda' | 'ort-tensorrt'): string {
  const major = need.map((n) => /^libcudart\.so\.(\d+)/.exec(n)?.[1]).find(Boolean) ?? '12';
  const trt = need.map((n) => /^libnvinfer\.so\.(\d+)/.exec(n)?.[1]).find(Boolean) ?? '10';
  return backend === 'ort-cuda' ? `CUDA ${major} / cuDNN 9` : `CUDA ${major} / cuDNN 9 / TensorRT ${trt}`;
}

function unavailable(backend: BackendId, reason: string, fix?: string): BackendReach {
  const r: BackendReach = { backend, available: false, verified: false, reason };
  if (fix) r.fix = fix;
  return r;
}

function reachable(ctx: ReachContext, device: Device, backend: BackendId): BackendReach {
  return { backend, available: true, verified: false, target: describeTarget(targetFor(ctx.devices, device, backend)) };
}

function ortMissing(ctx: ReachContext, backend: BackendId): BackendReach | undefined {
  if (!ctx.ort.installed) return unavailable(backend, 'onnxruntime-node is not installed', 'npm install (aivmm depends on onnxruntime-node)');
  if (!ctx.ort.bindingPresent) {
    return unavailable(backend, `onnxruntime-node has no prebuilt binding for ${ctx.host.platform}-${ctx.host.arch}`, 'build onnxruntime-node from source for this platform');
  }
  return undefined;
}

function openvinoReach(ctx: ReachContext, device: Device): BackendReach {
  if (!ctx.openvino.installed) {
    return unavailable(
      'openvino',
      'openvino-node is not installed (its install step downloads the OpenVINO runtime, which failed or was skipped)',
      'npm install openvino-node on a machine that can reach the OpenVINO download server',
    );
  }
  return reachable(ctx, device, 'openvino');
}

async function webgpuReach(ctx: ReachContext, device: Device): Promise<BackendReach> {
  const { host } = ctx;
  const missing = ortMissing(ctx, 'ort-webgpu');
  if (missing) return missing;
  if (!ortBundlesWebgpu(host.platform, host.arch)) {
    return unavailable('ort-webgpu', `onnxruntime-node ships no WebGPU EP for ${host.platform}-${host.arch}`);
  }
  if (host.platform !== 'linux') return reachable(ctx, device, 'ort-webgpu'); // D3D12 / Metal: the OS provides it
  if (!(await ctx.libs.find(VULKAN_LOADER))) {
    return unavailable('ort-webgpu', `the Vulkan loader (${VULKAN_LOADER}) is not installed`, 'apt-get install libvulkan1 (or your distribution\'s Vulkan loader)');
  }
  if (!device.vulkanIcd) {
    const fix =
      device.vendorId === '0x10de'
        ? "install the NVIDIA driver's Vulkan ICD (nvidia_icd.json), or point VK_DRIVER_FILES at it"
        : 'apt-get install mesa-vulkan-drivers (Debian bookworm: from bookworm-backports)';
    return unavailable('ort-webgpu', `no Vulkan driver for this ${device.vendor} GPU was found`, fix);
  }
  const before = ctx.devices.slice(0, ctx.devices.indexOf(device));
  const earlier = before.find((d) => d.kind === 'gpu' && d.vulkanIcd === device.vulkanIcd);
  if (earlier) {
    return unavailable(
      'ort-webgpu',
      `onnxruntime-node's WebGPU EP cannot choose among GPUs that share one Vulkan driver; it uses ${earlier.id}`,
    );
  }
  return reachable(ctx, device, 'ort-webgpu');
}

async function cudaReach(ctx: ReachContext, device: Device, backend: 'ort-cuda' | 'ort-tensorrt'): Promise<BackendReach> {
  const { host, libs } = ctx;
  const missing = ortMissing(ctx, backend);
  if (missing) return missing;
  if (!(host.platform === 'linux' || host.platform === 'win32') || host.arch !== 'x64') {
    return unavailable(backend, `onnxruntime-node has no ${backend === 'ort-cuda' ? 'CUDA' : 'TensorRT'} EP for ${host.platform}-${host.arch}`);
  }
  const provider = backend === 'ort-cuda' ? ctx.ort.cudaProvider : ctx.ort.tensorrtProvider;
  if (!provider) return unavailable(backend, 'CUDA provider libraries not installed', CUDA_FIX);
  if (host.platform === 'linux') {
    const driver = (await libs.find('libcuda.so.1')) ?? ((await exists(host, '/proc/driver/nvidia/version')) ? 'proc' : undefined);
    if (!driver) return unavailable(backend, 'the NVIDIA driver (libcuda.so.1) is not installed', 'install the NVIDIA driver');
    const need = cudaNeeds(ctx, backend);
    const stack = stackName(need, backend);
    const absent = await libs.missing(need);
    if (absent.length > 0) {
      return unavailable(backend, `${stack} libraries not found: ${absent.join(', ')}`, `install them (${stack.replace(/ \/ /g, ', ')}) or add their directory to LD_LIBRARY_PATH`);
    }
    const off = await libs.offLoaderPath(need);
    if (off.length > 0) {
      return unavailable(
        backend,
        `${stack} libraries are in ${off.join(', ')}, which the dynamic loader does not search`,
        `export LD_LIBRARY_PATH=${off.join(':')}\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} (or add the directory to /etc/ld.so.conf.d and run ldconfig)`,
      );
    }
    return { ...reachable(ctx, device, backend), libraries: { stack, dirs: await libs.dirsOf(need) } };
  }
  return reachable(ctx, device, backend);
}

/** The backends that could reach `device`, each with a cheap availability verdict. */
export async function reachFor(ctx: ReachContext, device: Device): Promise<BackendReach[]> {
  switch (device.kind) {
    case 'cpu':
      return [ortMissing(ctx, 'ort-cpu') ?? reachable(ctx, device, 'ort-cpu'), openvinoReach(ctx, device)];
    case 'gpu': {
      const out = [await webgpuReach(ctx, device)];
      if (device.software) return out;
      if (device.vendorId === '0x10de') out.push(await cudaReach(ctx, device, 'ort-cuda'), await cudaReach(ctx, device, 'ort-tensorrt'));
      if (device.vendorId === '0x8086') out.push(openvinoReach(ctx, device));
      return out;
    }
    case 'npu': {
      if (device.vendorId !== '0x8086') return [];
      const r = openvinoReach(ctx, device);
      if (r.available && device.driver !== 'intel_vpu') {
        return [unavailable('openvino', 'the intel_vpu kernel driver is not bound to this NPU', 'install a kernel with the intel_vpu driver (Linux 6.3+) and the NPU user-mode driver')];
      }
      return [r];
    }
  }
}
