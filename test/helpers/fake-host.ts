/**
 * Writes a fake machine (a /proc, /sys and /usr tree, symlinks included) into a temp dir and returns
 * a Host that reads it: the real discovery code runs on it unchanged.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { nodeHost, type Host } from '../../src/core/devices/host.js';

export interface FakeTree {
  files?: Record<string, string>;
  /** path → link target (relative targets as sysfs uses them). */
  links?: Record<string, string>;
  /** Executables placed in a bin dir on PATH: name → shell script body. */
  bin?: Record<string, string>;
}

export interface FakeHost {
  host: Host;
  root: string;
  cleanup(): void;
}

export function fakeHost(tree: FakeTree, opts: { env?: Record<string, string>; platform?: NodeJS.Platform; arch?: string; cpus?: number } = {}): FakeHost {
  const root = mkdtempSync(join(os.tmpdir(), 'aivmm-sysroot-'));
  for (const [path, content] of Object.entries(tree.files ?? {})) {
    const p = join(root, path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  for (const [path, target] of Object.entries(tree.links ?? {})) {
    const p = join(root, path);
    mkdirSync(dirname(p), { recursive: true });
    symlinkSync(target, p);
  }
  const binDir = join(root, '__bin');
  mkdirSync(binDir, { recursive: true });
  for (const [name, body] of Object.entries(tree.bin ?? {})) {
    const p = join(binDir, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
  }
  const env = { PATH: `${binDir}:/usr/bin:/bin`, HOME: join(root, 'home'), ...opts.env };
  const base = nodeHost(env, root);
  const host: Host = {
    ...base,
    platform: opts.platform ?? 'linux',
    arch: opts.arch ?? 'x64',
    hostname: 'fakehost',
    cpus: () => Array.from({ length: opts.cpus ?? 4 }, () => ({ model: 'Fake CPU', speed: 2000 })),
    totalmem: () => 64 * 1024 ** 3,
    freemem: () => 32 * 1024 ** 3,
  };
  return { host, root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** A PCI device directory in sysfs form. */
export function pciDevice(address: string, p: { vendor: string; device: string; class: string; driver?: string; vram?: number }): FakeTree {
  const dir = `/sys/bus/pci/devices/${address}`;
  const files: Record<string, string> = {
    [`${dir}/vendor`]: `${p.vendor}\n`,
    [`${dir}/device`]: `${p.device}\n`,
    [`${dir}/class`]: `${p.class}\n`,
  };
  if (p.vram !== undefined) files[`${dir}/mem_info_vram_total`] = `${p.vram}\n`;
  const links: Record<string, string> = {};
  if (p.driver) links[`${dir}/driver`] = `../../../bus/pci/drivers/${p.driver}`;
  return { files, links };
}

export function merge(...trees: FakeTree[]): FakeTree {
  return {
    files: Object.assign({}, ...trees.map((t) => t.files ?? {})),
    links: Object.assign({}, ...trees.map((t) => t.links ?? {})),
    bin: Object.assign({}, ...trees.map((t) => t.bin ?? {})),
  };
}
