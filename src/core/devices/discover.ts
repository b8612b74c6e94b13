/**
 * `aivmm devices` without running anything: CPU, GPUs (PCI + vendor tools + Vulkan drivers) and NPUs,
 * each with the backends that could reach it. Ids follow OpenVINO: CPU, GPU.0 (integrated first, then
 * PCI order, software adapters last), NPU.
 */
import { openvinoPackage, ortPackage } from '../backends/packages.js';
import { discoverCpu } from './cpu.js';
import { exists, listDir, linkName, readTrim, type Host } from './host.js';
import { LibraryFinder } from './libs.js';
import { queryNvidiaSmi, type NvidiaGpu } from './nvidia-smi.js';
import { DISPLAY_ONLY_VENDORS, PCI_VENDORS, listPciDisplay, nameKey, pciNames, readPciDevice, type PciDevice } from './pci.js';
import { reachFor } from './reach.js';
import type { Device, DevicesReport, IgnoredDevice, RuntimeInfo } from './types.js';
import { discoverVulkanIcds, type VulkanIcd } from './vulkan.js';

export interface DiscoverOptions {
  /** Milliseconds clock, injected for the report's elapsed time. */
  now?: () => number;
}

const SOFTWARE_NAMES: Readonly<Record<string, string>> = {
  lavapipe: 'llvmpipe (lavapipe, Mesa software Vulkan)',
  swiftshader: 'SwiftShader (software Vulkan)',
};

function isIntegrated(p: PciDevice): boolean {
  if (p.vendorId === '0x8086') return p.address.split(':')[1] === '00'; // Intel iGPUs sit on bus 0 (00:02.0)
  if (p.vendorId === '0x1002') return p.vramBytes !== undefined && p.vramBytes <= 2 * 1024 ** 3; // APU carve-out
  return false;
}

async function discoverGpus(host: Host, icds: VulkanIcd[], ignored: IgnoredDevice[], warnings: string[]): Promise<Device[]> {
  const pci = host.platform === 'linux' ? await listPciDisplay(host) : [];
  const wantSmi = pci.some((p) => p.vendorId === '0x10de') || (await exists(host, '/dev/nvidiactl')) || host.platform === 'win32';
  const [smi, names] = await Promise.all([
    wantSmi ? queryNvidiaSmi(host) : Promise.resolve(undefined),
    pciNames(host, pci),
  ]);
  if (wantSmi && !smi && pci.some((p) => p.vendorId === '0x10de')) {
    warnings.push('NVIDIA GPU present but nvidia-smi did not answer: name, memory and driver version are unknown');
  }
  const smiByAddress = new Map<string, NvidiaGpu>((smi ?? []).map((g) => [g.pciAddress, g]));

  const gpus: Device[] = [];
  for (const p of pci) {
    const pciName = names.get(nameKey(p.vendorId, p.deviceId));
    const vendor = PCI_VENDORS[p.vendorId] ?? p.vendorId;
    if (DISPLAY_ONLY_VENDORS.has(p.vendorId)) {
      ignored.push({ pciAddress: p.address, vendorId: p.vendorId, name: pciName ?? `${vendor} display adapter`, reason: 'display-only adapter: no compute backend' });
      continue;
    }
    const d: Device = {
      id: '',
      kind: 'gpu',
      name: pciName ?? `${vendor} GPU [${p.vendorId.slice(2)}:${p.deviceId.slice(2)}]`,
      vendor,
      vendorId: p.vendorId,
      deviceId: p.deviceId,
      pciAddress: p.address,
      integrated: isIntegrated(p),
      software: false,
      backends: [],
    };
    if (p.driver) d.driver = p.driver;
    if (p.vramBytes && !d.integrated) d.memoryBytes = p.vramBytes;
    const g = smiByAddress.get(p.address);
    if (g) {
      applyNvidia(d, g);
      smiByAddress.delete(p.address);
    }
    gpus.push(d);
  }
  // GPUs nvidia-smi sees that sysfs does not show (containers, Windows).
  for (const g of smiByAddress.values()) {
    const d: Device = { id: '', kind: 'gpu', name: g.name, vendor: 'NVIDIA', vendorId: '0x10de', pciAddress: g.pciAddress, integrated: false, software: false, backends: [] };
    applyNvidia(d, g);
    gpus.push(d);
  }
  gpus.sort((a, b) => Number(b.integrated) - Number(a.integrated) || (a.pciAddress ?? '').localeCompare(b.pciAddress ?? ''));

  for (const d of gpus) {
    const icd = icds.find((i) => i.vendorId === d.vendorId);
    if (icd) d.vulkanIcd = icd.file;
  }
  // Software Vulkan adapters: real WebGPU devices that compute on the CPU.
  for (const icd of icds.filter((i) => i.software)) {
    gpus.push({
      id: '',
      kind: 'gpu',
      name: SOFTWARE_NAMES[icd.driver] ?? `${icd.driver} (software)`,
      vendor: 'Mesa',
      driver: icd.driver,
      integrated: false,
      software: true,
      vulkanIcd: icd.file,
      backends: [],
    });
  }
  // macOS and Windows: no PCI walk here; the OS's default adapter is what the WebGPU EP sees.
  if (host.platform === 'darwin' || (host.platform === 'win32' && gpus.length === 0)) {
    gpus.push({
      id: '',
      kind: 'gpu',
      name: host.platform === 'darwin' ? 'Default GPU (Metal)' : 'Default GPU (Direct3D 12)',
      vendor: 'unknown',
      software: false,
      backends: [],
    });
  }
  gpus.forEach((d, i) => (d.id = `GPU.${i}`));
  return gpus;
}

function applyNvidia(d: Device, g: NvidiaGpu): void {
  d.name = g.name;
  if (g.memoryTotalBytes !== undefined) d.memoryBytes = g.memoryTotalBytes;
  if (g.driverVersion) d.driverVersion = g.driverVersion;
  if (g.computeCapability) d.computeCapability = g.computeCapability;
  const t: NonNullable<Device['telemetry']> = {};
  if (g.utilizationPct !== undefined) t.utilizationPct = g.utilizationPct;
  if (g.temperatureC !== undefined) t.temperatureC = g.temperatureC;
  if (g.powerW !== undefined) t.powerW = g.powerW;
  if (g.powerLimitW !== undefined) t.powerLimitW = g.powerLimitW;
  if (g.memoryUsedBytes !== undefined) t.memoryUsedBytes = g.memoryUsedBytes;
  if (Object.keys(t).length > 0) d.telemetry = t;
}

const NPU_DRIVERS: Readonly<Record<string, { vendor: string; vendorId: string; name: string }>> = {
  intel_vpu: { vendor: 'Intel', vendorId: '0x8086', name: 'Intel NPU' },
  amdxdna: { vendor: 'AMD', vendorId: '0x1022', name: 'AMD XDNA NPU' },
};

/** NPUs: the accel subsystem (/sys/class/accel) with the intel_vpu or amdxdna driver. */
async function discoverNpus(host: Host): Promise<Device[]> {
  if (host.platform !== 'linux') return [];
  const found: { accel: string; address: string; driver: string; pci: PciDevice }[] = [];
  for (const accel of await listDir(host, '/sys/class/accel')) {
    const dir = `/sys/class/accel/${accel}/device`;
    const driver = await linkName(host, `${dir}/driver`);
    if (!driver || !NPU_DRIVERS[driver]) continue;
    const address = (await linkName(host, dir)) ?? accel;
    found.push({ accel, address, driver, pci: await readPciDevice(host, dir, address) });
  }
  const names = await pciNames(host, found.map((f) => f.pci)); // one pass over pci.ids for all of them
  const npus: Device[] = [];
  for (const { accel, address, driver, pci: p } of found) {
    const known = NPU_DRIVERS[driver];
    if (!known) continue;
    const d: Device = {
      id: '',
      kind: 'npu',
      name: names.get(nameKey(p.vendorId, p.deviceId)) ?? known.name,
      vendor: known.vendor,
      vendorId: p.vendorId || known.vendorId,
      deviceId: p.deviceId,
      pciAddress: address,
      driver,
      backends: [],
    };
    if (driver === 'amdxdna') {
      d.notes = ["AMD XDNA runs ONNX models through ONNX Runtime's Vitis AI EP, which onnxruntime-node does not ship"];
    }
    if (!(await exists(host, `/dev/accel/${accel}`))) {
      (d.notes ??= []).push(`device node /dev/accel/${accel} is missing`);
    }
    npus.push(d);
  }
  npus.sort((a, b) => (a.pciAddress ?? '').localeCompare(b.pciAddress ?? ''));
  npus.forEach((d, i) => (d.id = i === 0 ? 'NPU' : `NPU.${i}`));
  return npus;
}

function runtimes(ortPkg: ReturnType<typeof ortPackage>, ov: ReturnType<typeof openvinoPackage>): RuntimeInfo[] {
  const ort: RuntimeInfo = { name: 'onnxruntime-node', installed: ortPkg.installed };
  if (ortPkg.version) ort.version = ortPkg.version;
  if (!ortPkg.installed) ort.reason = 'not installed';
  const openvino: RuntimeInfo = { name: 'openvino-node', installed: ov.installed };
  if (ov.version) openvino.version = ov.version;
  if (!ov.installed) openvino.reason = 'optional package not installed (its install step downloads the OpenVINO runtime)';
  return [ort, openvino];
}

export async function discoverDevices(host: Host, opts: DiscoverOptions = {}): Promise<DevicesReport> {
  const now = opts.now ?? (() => performance.now());
  const started = now();
  const warnings: string[] = [];
  const ignored: IgnoredDevice[] = [];
  const libs = new LibraryFinder(host);
  const icds = host.platform === 'linux' ? await discoverVulkanIcds(host) : [];
  const [cpu, gpus, npus, meminfo] = await Promise.all([
    discoverCpu(host),
    discoverGpus(host, icds, ignored, warnings),
    discoverNpus(host),
    readTrim(host, '/proc/meminfo'),
  ]);
  const totalMem = host.totalmem();
  const available = Number(/MemAvailable:\s+(\d+) kB/.exec(meminfo ?? '')?.[1]) * 1024;
  const cpuDevice: Device = {
    id: 'CPU',
    kind: 'cpu',
    name: cpu.model,
    vendor: cpu.vendor,
    memoryBytes: totalMem,
    cpu,
    backends: [],
  };
  const devices = [cpuDevice, ...gpus, ...npus];
  const ort = ortPackage(host.platform, host.arch);
  const ov = openvinoPackage();
  const ctx = { host, libs, ort, openvino: ov, devices };
  await Promise.all(devices.map(async (d) => (d.backends = await reachFor(ctx, d))));

  return {
    host: {
      hostname: host.hostname,
      platform: host.platform,
      arch: host.arch,
      release: host.release,
      memoryBytes: totalMem,
      availableMemoryBytes: Number.isFinite(available) && available > 0 ? available : host.freemem(),
    },
    runtimes: runtimes(ort, ov),
    devices,
    ignored,
    probed: false,
    warnings,
    elapsedMs: Math.round((now() - started) * 10) / 10,
  };
}
