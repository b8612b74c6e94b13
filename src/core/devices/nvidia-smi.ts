/** NVIDIA enrichment: name, memory, driver, utilisation, temperature and power from nvidia-smi. */
import type { Host } from './host.js';

export interface NvidiaGpu {
  index: number;
  /** Normalised to sysfs form: 0000:17:00.0 */
  pciAddress: string;
  name: string;
  memoryTotalBytes?: number;
  memoryUsedBytes?: number;
  driverVersion?: string;
  utilizationPct?: number;
  temperatureC?: number;
  powerW?: number;
  powerLimitW?: number;
  computeCapability?: string;
}

const FIELDS = [
  'index',
  'pci.bus_id',
  'name',
  'memory.total',
  'memory.used',
  'driver_version',
  'utilization.gpu',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'compute_cap',
];

function num(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v.trim());
  return v.trim() !== '' && Number.isFinite(n) ? n : undefined; // "[N/A]", "[Not Supported]" → undefined
}

/** sysfs writes 0000:17:00.0; nvidia-smi writes 00000000:17:00.0 (upper case). */
export function normalizePciAddress(busId: string): string {
  const m = /^([0-9a-f]+):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(busId.trim());
  if (!m) return busId.trim().toLowerCase();
  const domain = (m[1] ?? '0').slice(-4).padStart(4, '0');
  return `${domain}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase();
}

export function parseNvidiaSmiCsv(text: string, fields: readonly string[] = FIELDS): NvidiaGpu[] {
  const out: NvidiaGpu[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const cols = line.split(',').map((c) => c.trim());
    const get = (f: string): string | undefined => cols[fields.indexOf(f)];
    const index = num(get('index'));
    const busId = get('pci.bus_id');
    if (index === undefined || !busId) continue;
    const gpu: NvidiaGpu = { index, pciAddress: normalizePciAddress(busId), name: get('name') ?? 'NVIDIA GPU' };
    const set = <K extends keyof NvidiaGpu>(k: K, v: NvidiaGpu[K] | undefined): void => {
      if (v !== undefined) gpu[k] = v;
    };
    const mib = 1024 * 1024;
    const total = num(get('memory.total'));
    const used = num(get('memory.used'));
    set('memoryTotalBytes', total === undefined ? undefined : total * mib);
    set('memoryUsedBytes', used === undefined ? undefined : used * mib);
    const driver = get('driver_version');
    set('driverVersion', driver && !driver.startsWith('[') ? driver : undefined);
    set('utilizationPct', num(get('utilization.gpu')));
    set('temperatureC', num(get('temperature.gpu')));
    set('powerW', num(get('power.draw')));
    set('powerLimitW', num(get('power.limit')));
    const cc = get('compute_cap');
    set('computeCapability', cc && /^\d+\.\d+$/.test(cc) ? cc : undefined);
    out.push(gpu);
  }
  return out;
}

/** Runs nvidia-smi; older drivers reject compute_cap, so a failed query is retried without it. */
export async function queryNvidiaSmi(host: Host, timeoutMs = 5000): Promise<NvidiaGpu[] | undefined> {
  for (const fields of [FIELDS, FIELDS.filter((f) => f !== 'compute_cap')]) {
    const r = await host.exec('nvidia-smi', [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits'], timeoutMs);
    if (!r) return undefined; // not installed
    if (r.code === 0) return parseNvidiaSmiCsv(r.stdout, fields);
  }
  return undefined;
}
