/**
 * Power draw while a bench row is measured, where the platform exposes it:
 *  - NVIDIA GPUs: `nvidia-smi --query-gpu=power.draw -lms 100` sampled for the row (board power);
 *  - CPUs: Intel/AMD RAPL package energy counters (/sys/class/powercap/intel-rapl:N), read before and
 *    after (whole sockets: everything else running on them counts too).
 * Reported as mean watts and joules per item (watts ÷ items per second). No reading is not an error:
 * VMs usually hide RAPL, and only NVIDIA's tool reports GPU power here.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type PowerSource = { kind: 'nvidia-smi'; gpu: string } | { kind: 'rapl'; root?: string };

export interface PowerReading {
  source: 'nvidia-smi' | 'rapl';
  /** What was measured: "GPU board" or "CPU package (2 sockets)". */
  scope: string;
  watts: number;
  joules: number;
  /** Power samples (nvidia-smi) or counters read (RAPL: domains). */
  samples: number;
}

export interface PowerMeter {
  stop(): Promise<PowerReading | undefined>;
}

const NONE: PowerMeter = { stop: async () => undefined };

export function startPower(src: PowerSource | undefined, now: () => number = () => performance.now()): PowerMeter {
  if (!src) return NONE;
  return src.kind === 'nvidia-smi' ? nvidiaSmi(src.gpu, now) : rapl(src.root ?? '/sys/class/powercap', now);
}

function nvidiaSmi(gpu: string, now: () => number): PowerMeter {
  const t0 = now();
  const watts: number[] = [];
  let buffer = '';
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn('nvidia-smi', ['--query-gpu=power.draw', '--format=csv,noheader,nounits', '-i', gpu, '-lms', '100'], { stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return NONE;
  }
  child.on('error', () => undefined); // not installed: no reading
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      const w = Number(line.trim());
      if (Number.isFinite(w) && w > 0) watts.push(w);
    }
  });
  return {
    stop: async () => {
      const seconds = (now() - t0) / 1000;
      child.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('close', () => resolve());
        setTimeout(resolve, 1000).unref();
      });
      if (watts.length === 0) return undefined;
      const mean = watts.reduce((a, b) => a + b, 0) / watts.length;
      return { source: 'nvidia-smi', scope: 'GPU board', watts: mean, joules: mean * seconds, samples: watts.length };
    },
  };
}

interface RaplDomain {
  path: string;
  max: number;
}

/** Package-level RAPL domains (intel-rapl:0, intel-rapl:1, …) whose counter can be read. */
export function raplDomains(root = '/sys/class/powercap'): RaplDomain[] {
  let names: string[];
  try {
    names = readdirSync(root).filter((n) => /^intel-rapl:\d+$/.test(n));
  } catch {
    return [];
  }
  const out: RaplDomain[] = [];
  for (const n of names) {
    try {
      const name = readFileSync(join(root, n, 'name'), 'utf8').trim();
      if (!name.startsWith('package')) continue;
      readFileSync(join(root, n, 'energy_uj'), 'utf8');
      const max = Number(readFileSync(join(root, n, 'max_energy_range_uj'), 'utf8').trim());
      out.push({ path: join(root, n, 'energy_uj'), max: Number.isFinite(max) && max > 0 ? max : 2 ** 32 });
    } catch {
      // unreadable (non-root since Linux 5.10, or hidden in a VM)
    }
  }
  return out;
}

function rapl(root: string, now: () => number): PowerMeter {
  const domains = raplDomains(root);
  if (domains.length === 0) return NONE;
  const read = (): number[] => domains.map((d) => Number(readFileSync(d.path, 'utf8').trim()));
  const t0 = now();
  const start = read();
  return {
    stop: async () => {
      const seconds = (now() - t0) / 1000;
      const end = read();
      let uj = 0;
      domains.forEach((d, i) => {
        const delta = end[i]! - start[i]!;
        uj += delta >= 0 ? delta : delta + d.max; // the counter wrapped
      });
      if (seconds <= 0) return undefined;
      const joules = uj / 1e6;
      return { source: 'rapl', scope: `CPU package${domains.length > 1 ? ` (${domains.length} sockets)` : ''}`, watts: joules / seconds, joules, samples: domains.length };
    },
  };
}
