/**
 * Vulkan drivers (ICD manifests) as the Vulkan loader finds them: onnxruntime's WebGPU EP runs on Dawn,
 * which uses Vulkan on Linux. An ICD for a GPU's vendor plus the loader library make the GPU reachable.
 */
import { listDir, readText, type Host } from './host.js';

export interface VulkanIcd {
  /** The manifest file (what VK_DRIVER_FILES takes). */
  file: string;
  libraryPath: string;
  /** Short driver name: nvidia, radv, amdvlk, anv, hasvk, lavapipe, swiftshader, nvk, … */
  driver: string;
  /** PCI vendor id the driver serves, or undefined for software and virtual drivers. */
  vendorId?: string;
  software: boolean;
}

const DRIVERS: readonly { test: RegExp; driver: string; vendorId?: string; software?: boolean }[] = [
  { test: /lvp|lavapipe/, driver: 'lavapipe', software: true },
  { test: /swiftshader/, driver: 'swiftshader', software: true },
  { test: /nvidia/, driver: 'nvidia', vendorId: '0x10de' },
  { test: /nouveau/, driver: 'nvk', vendorId: '0x10de' },
  { test: /radeon|radv/, driver: 'radv', vendorId: '0x1002' },
  { test: /amd/, driver: 'amdvlk', vendorId: '0x1002' },
  { test: /intel_hasvk/, driver: 'hasvk', vendorId: '0x8086' },
  { test: /intel/, driver: 'anv', vendorId: '0x8086' },
  { test: /dzn/, driver: 'dozen' },
  { test: /virtio/, driver: 'venus' },
  { test: /gfxstream/, driver: 'gfxstream' },
  { test: /freedreno/, driver: 'turnip' },
  { test: /panfrost|panvk/, driver: 'panvk' },
  { test: /asahi/, driver: 'honeykrisp' },
];

export function classifyIcd(file: string, libraryPath: string): Omit<VulkanIcd, 'file' | 'libraryPath'> {
  const base = `${file.split('/').pop() ?? ''} ${libraryPath.split('/').pop() ?? ''}`.toLowerCase();
  for (const d of DRIVERS) {
    if (d.test.test(base)) {
      const out: Omit<VulkanIcd, 'file' | 'libraryPath'> = { driver: d.driver, software: d.software ?? false };
      if (d.vendorId) out.vendorId = d.vendorId;
      return out;
    }
  }
  return { driver: base.split('_')[0] ?? 'unknown', software: false };
}

/** Manifest locations in the loader's order (VK_DRIVER_FILES / VK_ICD_FILENAMES replace the search). */
async function icdFiles(host: Host): Promise<string[]> {
  const explicit = host.env['VK_DRIVER_FILES'] ?? host.env['VK_ICD_FILENAMES'];
  const expand = async (entries: string[]): Promise<string[]> => {
    const out: string[] = [];
    for (const e of entries) {
      if (e.endsWith('.json')) out.push(e);
      else for (const f of await listDir(host, e)) if (f.endsWith('.json')) out.push(`${e}/${f}`);
    }
    return out;
  };
  if (explicit) return expand(explicit.split(':').filter(Boolean));
  const env = host.env;
  const home = env['HOME'];
  const configHome = env['XDG_CONFIG_HOME'] ?? (home ? `${home}/.config` : undefined);
  const dataHome = env['XDG_DATA_HOME'] ?? (home ? `${home}/.local/share` : undefined);
  const configDirs = (env['XDG_CONFIG_DIRS'] ?? '/etc/xdg').split(':');
  const dataDirs = (env['XDG_DATA_DIRS'] ?? '/usr/local/share:/usr/share').split(':');
  const dirs = [
    ...(configHome ? [configHome] : []),
    ...configDirs,
    '/etc',
    ...(dataHome ? [dataHome] : []),
    ...dataDirs,
  ]
    .filter(Boolean)
    .map((d) => `${d}/vulkan/icd.d`);
  const extra = (env['VK_ADD_DRIVER_FILES'] ?? '').split(':').filter(Boolean);
  return expand([...new Set(dirs), ...extra]);
}

export async function discoverVulkanIcds(host: Host): Promise<VulkanIcd[]> {
  const out: VulkanIcd[] = [];
  const seen = new Set<string>();
  for (const file of await icdFiles(host)) {
    const text = await readText(host, file);
    if (!text) continue;
    let libraryPath: string | undefined;
    try {
      const json = JSON.parse(text) as { ICD?: { library_path?: unknown } };
      libraryPath = typeof json.ICD?.library_path === 'string' ? json.ICD.library_path : undefined;
    } catch {
      continue;
    }
    if (!libraryPath) continue;
    const info = classifyIcd(file, libraryPath);
    const key = `${info.driver}:${libraryPath.split('/').pop()}`;
    if (seen.has(key)) continue; // the same driver listed under /etc and /usr/share
    seen.add(key);
    out.push({ file, libraryPath, ...info });
  }
  return out;
}

export const VULKAN_LOADER = 'libvulkan.so.1';
