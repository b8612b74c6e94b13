/** Parses a --device value against the discovered devices: CPU, GPU (= GPU.0), GPU.1, NPU, all. */
import { NotFoundError, UsageError } from '../errors.js';
import type { Device } from './types.js';

const PATTERN = /^(cpu|gpu|npu)(?:\.(\d+))?$/i;

export function selectDevices(selector: string, devices: readonly Device[]): Device[] {
  const s = selector.trim();
  const valid = ['all', ...devices.map((d) => d.id)];
  if (s.toLowerCase() === 'all') return [...devices];
  const m = PATTERN.exec(s);
  if (!m) {
    throw new UsageError(`invalid device '${selector}'`, `use one of: ${valid.join(', ')} (GPU means GPU.0)`);
  }
  const kind = (m[1] ?? '').toUpperCase();
  const index = m[2] === undefined ? 0 : Number(m[2]);
  const id = kind === 'CPU' ? 'CPU' : index === 0 && kind === 'NPU' ? 'NPU' : `${kind}.${index}`;
  if (kind === 'CPU' && m[2] !== undefined && index !== 0) {
    throw new UsageError(`invalid device '${selector}'`, 'the CPU is one device: use CPU');
  }
  const found = devices.find((d) => d.id === id || (kind === 'CPU' && d.id === 'CPU'));
  if (!found) {
    throw new NotFoundError(`device ${id} not found on this machine`, `devices here: ${devices.map((d) => d.id).join(', ')}; run \`aivmm devices\` for details`);
  }
  return [found];
}
