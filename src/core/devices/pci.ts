/** PCI display controllers and accelerators from sysfs, with names from the pci.ids database when present. */
import { listDir, readText, readTrim, linkName, type Host } from './host.js';

export interface PciDevice {
  address: string;
  classCode: string;
  vendorId: string;
  deviceId: string;
  driver?: string;
  /** amdgpu exposes dedicated VRAM size. */
  vramBytes?: number;
}

export const PCI_VENDORS: Readonly<Record<string, string>> = {
  '0x10de': 'NVIDIA',
  '0x1002': 'AMD',
  '0x1022': 'AMD',
  '0x8086': 'Intel',
  '0x1a03': 'ASPEED',
  '0x102b': 'Matrox',
  '0x1234': 'QEMU',
  '0x15ad': 'VMware',
  '0x1af4': 'Red Hat (virtio)',
  '0x1414': 'Microsoft',
  '0x1b36': 'Red Hat (QEMU)',
};

/** Vendors whose display adapters have no compute path (BMC VGA, virtual consoles). */
export const DISPLAY_ONLY_VENDORS = new Set(['0x1a03', '0x102b', '0x1234', '0x15ad', '0x1af4', '0x1414', '0x1b36']);

/** Display controllers (class 0x03xxxx: VGA, XGA, 3D controller such as datacenter GPUs). */
export async function listPciDisplay(host: Host): Promise<PciDevice[]> {
  const base = '/sys/bus/pci/devices';
  const out: PciDevice[] = [];
  for (const address of await listDir(host, base)) {
    const classCode = await readTrim(host, `${base}/${address}/class`);
    if (!classCode?.startsWith('0x03')) continue;
    out.push(await readPciDevice(host, `${base}/${address}`, address, classCode));
  }
  return out;
}

export async function readPciDevice(host: Host, dir: string, address: string, classCode?: string): Promise<PciDevice> {
  const dev: PciDevice = {
    address,
    classCode: classCode ?? (await readTrim(host, `${dir}/class`)) ?? '',
    vendorId: ((await readTrim(host, `${dir}/vendor`)) ?? '').toLowerCase(),
    deviceId: ((await readTrim(host, `${dir}/device`)) ?? '').toLowerCase(),
  };
  const driver = await linkName(host, `${dir}/driver`);
  if (driver) dev.driver = driver;
  const vram = Number(await readTrim(host, `${dir}/mem_info_vram_total`));
  if (Number.isFinite(vram) && vram > 0) dev.vramBytes = vram;
  return dev;
}

const PCI_IDS_PATHS = ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids', '/usr/share/pci.ids'];

/** Looks up device names in pci.ids, reading the database once for all wanted ids. */
export async function pciNames(host: Host, wanted: readonly { vendorId: string; deviceId: string }[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  if (wanted.length === 0) return names;
  let text: string | undefined;
  for (const p of PCI_IDS_PATHS) {
    text = await readText(host, p);
    if (text) break;
  }
  if (!text) return names;
  const want = new Set(wanted.map((w) => `${w.vendorId.replace(/^0x/, '')}:${w.deviceId.replace(/^0x/, '')}`));
  const vendors = new Set(wanted.map((w) => w.vendorId.replace(/^0x/, '')));
  let vendor: string | undefined;
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith('#')) continue;
    if (line[0] !== '\t') {
      const id = line.slice(0, 4);
      vendor = vendors.has(id) ? id : undefined;
      if (line.startsWith('C ')) break; // device classes follow the vendor list
      continue;
    }
    if (!vendor || line[1] === '\t') continue;
    const key = `${vendor}:${line.slice(1, 5)}`;
    if (want.has(key)) names.set(`0x${key.replace(':', ':0x')}`, line.slice(7).trim());
  }
  return names;
}

export function nameKey(vendorId: string, deviceId: string): string {
  return `${vendorId}:${deviceId}`;
}
