/**
 * Device telemetry for the server's /metrics: per device id (CPU, GPU.n, NPU from discovery) the
 * utilisation, memory, power, temperature and an energy counter, read from what each vendor exposes:
 *  - CPU: /proc/stat deltas (busy = all − idle − iowait), /proc/meminfo (MemTotal − MemAvailable),
 *    RAPL package energy counters (src/core/bench/power.ts finds them; wrap handled with
 *    max_energy_range_uj), hwmon coretemp/k10temp temp1_input;
 *  - NVIDIA: nvidia-smi (src/core/devices/nvidia-smi.ts), energy integrated as power × time;
 *  - AMD (amdgpu): gpu_busy_percent, mem_info_vram_used/total, hwmon power1_average (or power1_input),
 *    power1_cap, temp1_input;
 *  - Intel GPUs (i915, xe): hwmon energy1_input deltas for power, power1_max as the limit, temp1_input
 *    where present; no busy counter exists in sysfs, so gt_act_freq_mhz / gt_max_freq_mhz (i915) or
 *    tile0/gt0/freq0 act_freq / max_freq (xe) is reported as a separate frequency ratio;
 *  - Intel NPU (intel_vpu): npu_busy_time_us deltas (Linux ≥ 6.11), npu_memory_utilization.
 * A reading the machine does not offer is absent from the sample, never 0. Deltas need two samples, so
 * the first sample has no CPU utilisation and no counter-derived power.
 */
import { readFile } from 'node:fs/promises';
import { raplDomains } from '../bench/power.js';
import { UsageError } from '../errors.js';
import { listDir, readTrim, sysPath, type Host } from './host.js';
import { queryNvidiaSmi, type NvidiaGpu } from './nvidia-smi.js';
import type { Device, DeviceKind } from './types.js';

export interface DeviceSample {
  /** Device id as discovery names it: CPU, GPU.0, NPU. */
  device: string;
  kind: DeviceKind;
  vendor: string;
  name: string;
  /** Epoch ms when the sample was taken. */
  at: number;
  /** Busy fraction 0–1 over the interval since the previous sample. */
  utilization?: number;
  /** Intel GPUs: actual / maximum clock, 0–1 (a utilisation proxy, not a busy fraction). */
  frequencyRatio?: number;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
  powerW?: number;
  powerLimitW?: number;
  temperatureC?: number;
  /** Joules since the sampler started (energy counters, or power × time where there is none). */
  energyJ?: number;
  /** Where each reading came from, e.g. {utilization: '/proc/stat', powerW: 'rapl'}. */
  sources: Partial<Record<Reading, string>>;
}

export type Reading = 'utilization' | 'frequencyRatio' | 'memoryUsedBytes' | 'memoryTotalBytes' | 'powerW' | 'powerLimitW' | 'temperatureC' | 'energyJ';

export interface TelemetrySnapshot {
  at: number;
  devices: DeviceSample[];
}

export interface TelemetrySampler {
  /** Reads every device once; deltas are taken against the previous call. */
  sample(): Promise<TelemetrySnapshot>;
}

export interface SamplerOptions {
  host: Host;
  /** The devices to watch (from discoverDevices); a device kind without a reader gets empty samples. */
  devices: readonly Pick<Device, 'id' | 'kind' | 'vendor' | 'vendorId' | 'name' | 'pciAddress' | 'driver' | 'memoryBytes'>[];
  /** Epoch-ms clock (injected in tests). */
  now?: () => number;
  /** nvidia-smi timeout, ms. */
  execTimeoutMs?: number;
}

const num = (s: string | undefined): number | undefined => {
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s.trim());
  return Number.isFinite(n) ? n : undefined;
};

/**
 * The increase of a counter from `prev` to `cur`. A counter with a known range (`max`, RAPL's
 * max_energy_range_uj) wraps; one without (hwmon energy1_input, 64-bit) only goes back when it was
 * reset (a driver reload): that interval has no delta (undefined), rather than a made-up one.
 */
export function counterDelta(prev: number, cur: number, max: number | undefined): number | undefined {
  if (cur >= prev) return cur - prev;
  return max === undefined ? undefined : cur + max - prev;
}

interface CpuTimes {
  busy: number;
  total: number;
}

/** The aggregate `cpu` line of /proc/stat: busy = total − idle − iowait (guest time is inside user). */
export function parseProcStat(text: string): CpuTimes | undefined {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) return undefined;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (v.length < 4 || v.some((x) => !Number.isFinite(x))) return undefined;
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

/** MemTotal and MemAvailable of /proc/meminfo, in bytes. */
export function parseMeminfo(text: string): { totalBytes?: number; availableBytes?: number } {
  const kb = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s*kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const out: { totalBytes?: number; availableBytes?: number } = {};
  const t = kb('MemTotal');
  const a = kb('MemAvailable');
  if (t !== undefined) out.totalBytes = t;
  if (a !== undefined) out.availableBytes = a;
  return out;
}

/** The hwmon directories under a sysfs device directory (…/hwmon/hwmonN). */
async function hwmonDirs(host: Host, deviceDir: string): Promise<string[]> {
  return (await listDir(host, `${deviceDir}/hwmon`)).filter((n) => /^hwmon\d+$/.test(n)).map((n) => `${deviceDir}/hwmon/${n}`);
}

/** The first hwmon attribute among `names` that reads as a number. */
async function hwmonRead(host: Host, dirs: readonly string[], names: readonly string[]): Promise<{ value: number; path: string } | undefined> {
  for (const d of dirs) {
    for (const n of names) {
      const v = num(await readTrim(host, `${d}/${n}`));
      if (v !== undefined) return { value: v, path: `${d}/${n}` };
    }
  }
  return undefined;
}

/** Sets a reading with where it came from. */
function put(s: DeviceSample, key: Reading, value: number, source: string): void {
  s[key] = value;
  s.sources[key] = source;
}

interface EnergyState {
  /** Last raw counter values (µJ) with their wrap ranges. */
  raw?: number[];
  at?: number;
  /** Joules accumulated since the sampler started. */
  joules: number;
}

export function createTelemetrySampler(opts: SamplerOptions): TelemetrySampler {
  const { host } = opts;
  const now = opts.now ?? (() => Date.now());
  let prevCpu: CpuTimes | undefined;
  const energy = new Map<string, EnergyState>();
  const npuBusy = new Map<string, { us: number; at: number }>();
  const rapl = raplDomains(sysPath(host, '/sys/class/powercap'));

  const state = (id: string): EnergyState => {
    let s = energy.get(id);
    if (!s) energy.set(id, (s = { joules: 0 }));
    return s;
  };

  /** Feeds raw µJ counters; returns mean watts since the previous reading (undefined on the first). */
  const fromCounters = (s: DeviceSample, raw: number[], max: (number | undefined)[], source: string): void => {
    const st = state(s.device);
    let watts: number | undefined;
    if (st.raw && st.at !== undefined && s.at > st.at && st.raw.length === raw.length) {
      const deltas = raw.map((v, i) => counterDelta(st.raw![i]!, v, max[i]));
      if (deltas.every((d) => d !== undefined)) {
        const uj = deltas.reduce((a, b) => a + b, 0);
        st.joules += uj / 1e6;
        watts = uj / 1e6 / ((s.at - st.at) / 1000);
      }
    }
    st.raw = raw;
    st.at = s.at;
    if (watts !== undefined) {
      s.powerW = watts;
      s.sources.powerW = source;
    }
    s.energyJ = st.joules;
    s.sources.energyJ = source;
  };

  /** Where a device has power but no energy counter: integrate watts over the time between samples. */
  const fromPower = (s: DeviceSample): void => {
    if (s.powerW === undefined) return;
    const st = state(s.device);
    if (st.at !== undefined && s.at > st.at) st.joules += (s.powerW * (s.at - st.at)) / 1000;
    st.at = s.at;
    s.energyJ = st.joules;
    s.sources.energyJ = `${s.sources.powerW} x time`;
  };

  const cpu = async (s: DeviceSample): Promise<void> => {
    const stat = await readTrim(host, '/proc/stat');
    const times = stat === undefined ? undefined : parseProcStat(stat);
    if (times && prevCpu && times.total > prevCpu.total) {
      s.utilization = Math.min(1, Math.max(0, (times.busy - prevCpu.busy) / (times.total - prevCpu.total)));
      s.sources.utilization = '/proc/stat';
    }
    if (times) prevCpu = times;
    const mem = parseMeminfo((await readTrim(host, '/proc/meminfo')) ?? '');
    if (mem.totalBytes !== undefined) {
      s.memoryTotalBytes = mem.totalBytes;
      s.sources.memoryTotalBytes = '/proc/meminfo';
      if (mem.availableBytes !== undefined) {
        s.memoryUsedBytes = mem.totalBytes - mem.availableBytes;
        s.sources.memoryUsedBytes = '/proc/meminfo';
      }
    }
    const raw: number[] = [];
    for (const d of rapl) {
      try {
        raw.push(Number((await readFile(d.path, 'utf8')).trim()));
      } catch {
        raw.length = 0; // a domain became unreadable: no power this time
        break;
      }
    }
    if (raw.length === rapl.length && raw.length > 0 && raw.every(Number.isFinite)) {
      fromCounters(s, raw, rapl.map((d) => d.max), 'rapl');
    }
    for (const h of (await listDir(host, '/sys/class/hwmon')).map((n) => `/sys/class/hwmon/${n}`)) {
      const name = await readTrim(host, `${h}/name`);
      if (name !== 'coretemp' && name !== 'k10temp' && name !== 'zenpower') continue;
      const t = num(await readTrim(host, `${h}/temp1_input`)); // coretemp: Package id 0; k10temp: Tctl
      if (t !== undefined) {
        s.temperatureC = t / 1000;
        s.sources.temperatureC = `hwmon ${name}`;
        break;
      }
    }
  };

  const nvidia = (s: DeviceSample, g: NvidiaGpu | undefined): void => {
    if (!g) return;
    const set = (k: Reading, v: number | undefined): void => {
      if (v === undefined) return;
      s[k] = v;
      s.sources[k] = 'nvidia-smi';
    };
    set('utilization', g.utilizationPct === undefined ? undefined : g.utilizationPct / 100);
    set('memoryUsedBytes', g.memoryUsedBytes);
    set('memoryTotalBytes', g.memoryTotalBytes);
    set('powerW', g.powerW);
    set('powerLimitW', g.powerLimitW);
    set('temperatureC', g.temperatureC);
    fromPower(s);
  };

  const amd = async (s: DeviceSample, dir: string): Promise<void> => {
    const busy = num(await readTrim(host, `${dir}/gpu_busy_percent`));
    if (busy !== undefined) {
      s.utilization = busy / 100;
      s.sources.utilization = 'gpu_busy_percent';
    }
    const used = num(await readTrim(host, `${dir}/mem_info_vram_used`));
    const total = num(await readTrim(host, `${dir}/mem_info_vram_total`));
    if (used !== undefined) put(s, 'memoryUsedBytes', used, 'mem_info_vram_used');
    if (total !== undefined) put(s, 'memoryTotalBytes', total, 'mem_info_vram_total');
    const hw = await hwmonDirs(host, dir);
    const power = await hwmonRead(host, hw, ['power1_average', 'power1_input']); // µW; RDNA3+ only has power1_input
    if (power) put(s, 'powerW', power.value / 1e6, `hwmon ${power.path.split('/').pop()}`);
    const cap = await hwmonRead(host, hw, ['power1_cap']);
    if (cap) put(s, 'powerLimitW', cap.value / 1e6, 'hwmon power1_cap');
    const temp = await hwmonRead(host, hw, ['temp1_input']); // edge
    if (temp) put(s, 'temperatureC', temp.value / 1000, 'hwmon temp1_input');
    fromPower(s);
  };

  const intelGpu = async (s: DeviceSample, dir: string): Promise<void> => {
    const hw = await hwmonDirs(host, dir);
    const e = await hwmonRead(host, hw, ['energy1_input']); // µJ, card (xe) or package (i915 dGPU)
    if (e) fromCounters(s, [e.value], [undefined], 'hwmon energy1_input');
    const cap = await hwmonRead(host, hw, ['power1_max']);
    if (cap && cap.value > 0) put(s, 'powerLimitW', cap.value / 1e6, 'hwmon power1_max');
    const temp = await hwmonRead(host, hw, ['temp1_input', 'temp2_input']);
    if (temp) put(s, 'temperatureC', temp.value / 1000, `hwmon ${temp.path.split('/').pop()}`);
    for (const card of (await listDir(host, `${dir}/drm`)).filter((n) => /^card\d+$/.test(n))) {
      const base = `${dir}/drm/${card}`;
      const pairs: [string, string, string][] = [
        [`${base}/gt_act_freq_mhz`, `${base}/gt_max_freq_mhz`, 'i915 gt_act_freq_mhz / gt_max_freq_mhz'],
        [`${dir}/tile0/gt0/freq0/act_freq`, `${dir}/tile0/gt0/freq0/max_freq`, 'xe freq0 act_freq / max_freq'],
      ];
      for (const [act, max, source] of pairs) {
        const a = num(await readTrim(host, act));
        const m = num(await readTrim(host, max));
        if (a !== undefined && m !== undefined && m > 0) {
          s.frequencyRatio = Math.min(1, a / m);
          s.sources.frequencyRatio = source;
          break;
        }
      }
      if (s.frequencyRatio !== undefined) break;
    }
  };

  const npu = async (s: DeviceSample, dir: string): Promise<void> => {
    const us = num(await readTrim(host, `${dir}/npu_busy_time_us`));
    if (us !== undefined) {
      const prev = npuBusy.get(s.device);
      if (prev && s.at > prev.at) {
        s.utilization = Math.min(1, Math.max(0, (us - prev.us) / ((s.at - prev.at) * 1000)));
        s.sources.utilization = 'npu_busy_time_us';
      }
      npuBusy.set(s.device, { us, at: s.at });
    }
    const mem = num(await readTrim(host, `${dir}/npu_memory_utilization`));
    if (mem !== undefined) put(s, 'memoryUsedBytes', mem, 'npu_memory_utilization');
  };

  const wantSmi = opts.devices.some((d) => d.vendorId === '0x10de');
  return {
    async sample() {
      const at = now();
      const smi = wantSmi ? await queryNvidiaSmi(host, opts.execTimeoutMs ?? 5000) : undefined;
      const devices: DeviceSample[] = [];
      for (const d of opts.devices) {
        const s: DeviceSample = { device: d.id, kind: d.kind, vendor: d.vendor, name: d.name, at, sources: {} };
        const dir = d.pciAddress ? `/sys/bus/pci/devices/${d.pciAddress}` : undefined;
        if (d.kind === 'cpu') await cpu(s);
        else if (d.kind === 'gpu' && d.vendorId === '0x10de') nvidia(s, smi?.find((g) => g.pciAddress === d.pciAddress));
        else if (d.kind === 'gpu' && dir && d.driver === 'amdgpu') await amd(s, dir);
        else if (d.kind === 'gpu' && dir && (d.driver === 'i915' || d.driver === 'xe')) await intelGpu(s, dir);
        else if (d.kind === 'npu' && dir && d.vendorId === '0x8086') await npu(s, dir);
        if (s.memoryTotalBytes === undefined && d.kind !== 'cpu' && d.memoryBytes !== undefined) {
          s.memoryTotalBytes = d.memoryBytes;
          s.sources.memoryTotalBytes = 'discovery';
        }
        devices.push(s);
      }
      return { at, devices };
    },
  };
}

export interface TelemetryLoop {
  stop(): void;
}

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/**
 * Samples every `periodMs` (first sample at once) and hands each snapshot to `onSample`; a sample still
 * running when the next is due is not overlapped. Errors from one sample are passed to `onError`.
 */
export function startTelemetry(
  sampler: TelemetrySampler,
  opts: { periodMs: number; onSample: (s: TelemetrySnapshot) => void; onError?: (e: unknown) => void; timers?: Timers },
): TelemetryLoop {
  if (!(opts.periodMs > 0) || !Number.isFinite(opts.periodMs)) {
    throw new UsageError(`telemetry sampling period must be a positive number of milliseconds, not ${opts.periodMs}`, 'Use e.g. 5000 (5 s)');
  }
  const timers: Timers = opts.timers ?? {
    setInterval: (fn, ms) => {
      const h = setInterval(fn, ms);
      h.unref();
      return h;
    },
    clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
  };
  let busy = false;
  let stopped = false;
  const tick = (): void => {
    if (busy || stopped) return;
    busy = true;
    sampler
      .sample()
      .then((s) => {
        if (!stopped) opts.onSample(s);
      }, opts.onError ?? (() => undefined))
      .finally(() => {
        busy = false;
      });
  };
  tick();
  const handle = timers.setInterval(tick, opts.periodMs);
  return {
    stop: () => {
      stopped = true;
      timers.clearInterval(handle);
    },
  };
}
