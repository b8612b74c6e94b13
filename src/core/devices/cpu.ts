/** CPU discovery: model, vendor, topology and the ISA features that decide which inference kernels run. */
import type { CpuInfo } from './types.js';
import { listDir, readText, readTrim, type Host } from './host.js';

/** x86 /proc/cpuinfo flags worth reporting for inference, in display order. */
const X86_FEATURES = [
  'avx',
  'avx2',
  'fma',
  'f16c',
  'avx_vnni',
  'avx512f',
  'avx512bw',
  'avx512vl',
  'avx512_vnni',
  'avx512_bf16',
  'avx512_fp16',
  'amx_tile',
  'amx_int8',
  'amx_bf16',
] as const;

/** arm64 /proc/cpuinfo "Features" → aivmm's names. */
const ARM_FEATURES: Readonly<Record<string, string>> = {
  asimd: 'neon',
  asimdhp: 'fp16',
  asimddp: 'dotprod',
  i8mm: 'i8mm',
  bf16: 'bf16',
  sve: 'sve',
  sve2: 'sve2',
  sme: 'sme',
};

const ARM_IMPLEMENTERS: Readonly<Record<string, string>> = {
  '0x41': 'ARM',
  '0x42': 'Broadcom',
  '0x43': 'Cavium',
  '0x48': 'HiSilicon',
  '0x4e': 'NVIDIA',
  '0x51': 'Qualcomm',
  '0x61': 'Apple',
  '0xc0': 'Ampere',
};

const ARM_PARTS: Readonly<Record<string, string>> = {
  '0xd03': 'Cortex-A53',
  '0xd08': 'Cortex-A72',
  '0xd0b': 'Cortex-A76',
  '0xd0c': 'Neoverse-N1',
  '0xd40': 'Neoverse-V1',
  '0xd49': 'Neoverse-N2',
  '0xd4f': 'Neoverse-V2',
  '0xd8e': 'Neoverse-N3',
  '0xd84': 'Neoverse-V3',
};

const X86_VENDORS: Readonly<Record<string, string>> = {
  GenuineIntel: 'Intel',
  AuthenticAMD: 'AMD',
  HygonGenuine: 'Hygon',
};

interface ProcessorBlock {
  [key: string]: string;
}

export function parseCpuinfo(text: string): ProcessorBlock[] {
  const blocks: ProcessorBlock[] = [];
  let current: ProcessorBlock = {};
  for (const line of text.split('\n')) {
    const idx = line.indexOf(':');
    if (line.trim() === '') {
      if (Object.keys(current).length > 0) blocks.push(current);
      current = {};
      continue;
    }
    if (idx < 0) continue;
    current[line.slice(0, idx).trim()] = line.slice(idx + 1).trim();
  }
  if (Object.keys(current).length > 0) blocks.push(current);
  return blocks;
}

/** Physical cores from sysfs topology: unique (package, core) pairs. */
async function topologyCores(host: Host): Promise<{ cores: number; sockets: number } | undefined> {
  const cpus = (await listDir(host, '/sys/devices/system/cpu')).filter((d) => /^cpu\d+$/.test(d));
  const pairs = new Set<string>();
  const packages = new Set<string>();
  for (const cpu of cpus) {
    const pkg = await readTrim(host, `/sys/devices/system/cpu/${cpu}/topology/physical_package_id`);
    const core = await readTrim(host, `/sys/devices/system/cpu/${cpu}/topology/core_id`);
    if (pkg === undefined || core === undefined) continue;
    pairs.add(`${pkg}:${core}`);
    packages.add(pkg);
  }
  return pairs.size > 0 ? { cores: pairs.size, sockets: packages.size } : undefined;
}

async function linuxCpu(host: Host): Promise<CpuInfo | undefined> {
  const text = await readText(host, '/proc/cpuinfo');
  if (!text) return undefined;
  const blocks = parseCpuinfo(text).filter((b) => b['processor'] !== undefined);
  const first = blocks[0];
  if (!first) return undefined;
  const logicalCores = blocks.length;
  const isArm = first['Features'] !== undefined || first['CPU implementer'] !== undefined;

  let features: string[];
  let vendor: string;
  let model: string;
  if (isArm) {
    const flags = new Set((first['Features'] ?? '').split(/\s+/));
    features = Object.entries(ARM_FEATURES)
      .filter(([flag]) => flags.has(flag))
      .map(([, name]) => name);
    const implementer = (first['CPU implementer'] ?? '').toLowerCase();
    const part = (first['CPU part'] ?? '').toLowerCase();
    vendor = ARM_IMPLEMENTERS[implementer] ?? (implementer || 'unknown');
    model = first['model name'] ?? `${vendor} ${ARM_PARTS[part] ?? `part ${part || '?'}`}`;
  } else {
    const flags = new Set((first['flags'] ?? '').split(/\s+/));
    features = X86_FEATURES.filter((f) => flags.has(f));
    const vendorId = first['vendor_id'] ?? '';
    vendor = X86_VENDORS[vendorId] ?? (vendorId || 'unknown');
    model = (first['model name'] ?? host.cpus()[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ');
  }

  // Topology: /proc/cpuinfo (x86) or sysfs (arm64, some VMs).
  let physicalCores = 0;
  let sockets = 0;
  const pairs = new Set(blocks.filter((b) => b['core id'] !== undefined).map((b) => `${b['physical id'] ?? '0'}:${b['core id']}`));
  if (pairs.size > 0) {
    physicalCores = pairs.size;
    sockets = new Set(blocks.map((b) => b['physical id'] ?? '0')).size;
  } else {
    const topo = await topologyCores(host);
    physicalCores = topo?.cores ?? logicalCores;
    sockets = topo?.sockets ?? 1;
  }

  const maxKHz = Number(await readTrim(host, '/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq'));
  const info: CpuInfo = { model, vendor, arch: host.arch, sockets, physicalCores, logicalCores, features };
  if (Number.isFinite(maxKHz) && maxKHz > 0) info.maxMHz = Math.round(maxKHz / 1000);
  return info;
}

/** macOS, Windows and anything without /proc: what Node and one fast sysctl can tell. */
async function portableCpu(host: Host): Promise<CpuInfo> {
  const cpus = host.cpus();
  const model = (cpus[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim();
  let physicalCores = cpus.length;
  let features: string[] = [];
  if (host.platform === 'darwin') {
    const r = await host.exec('sysctl', ['-n', 'hw.physicalcpu'], 1000);
    const n = Number(r?.stdout.trim());
    if (Number.isInteger(n) && n > 0) physicalCores = n;
    if (host.arch === 'arm64') features = ['neon', 'fp16', 'dotprod'];
  }
  const vendor = /intel/i.test(model) ? 'Intel' : /amd/i.test(model) ? 'AMD' : /apple/i.test(model) ? 'Apple' : 'unknown';
  const info: CpuInfo = { model, vendor, arch: host.arch, sockets: 1, physicalCores, logicalCores: cpus.length, features };
  if (cpus[0]?.speed) info.maxMHz = cpus[0].speed;
  return info;
}

export async function discoverCpu(host: Host): Promise<CpuInfo> {
  if (host.platform === 'linux') {
    const info = await linuxCpu(host);
    if (info) return info;
  }
  return portableCpu(host);
}
