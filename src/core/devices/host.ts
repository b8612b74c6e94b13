/**
 * What discovery reads from the machine, injected so tests can point it at a fake /proc and /sys tree
 * and a PATH holding stand-in vendor tools, while the real parsing code runs.
 */
import { execFile } from 'node:child_process';
import { readFile, readdir, readlink, stat } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Host {
  /** Filesystem root that absolute system paths (/proc, /sys, /usr/share, /etc) are read under. */
  root: string;
  platform: NodeJS.Platform;
  arch: string;
  hostname: string;
  release: string;
  /** The environment as the CLI received it (PATH, LD_LIBRARY_PATH, VK_*, XDG_*). */
  env: Readonly<Record<string, string | undefined>>;
  cpus(): { model: string; speed: number }[];
  totalmem(): number;
  freemem(): number;
  /** Runs a program found on env.PATH; undefined when it does not exist or cannot start. */
  exec(cmd: string, args: readonly string[], timeoutMs: number): Promise<ExecResult | undefined>;
}

export function nodeHost(env: Readonly<Record<string, string | undefined>>, root = '/'): Host {
  return {
    root,
    platform: process.platform,
    arch: process.arch,
    hostname: os.hostname(),
    release: os.release(),
    env,
    cpus: () => os.cpus().map((c) => ({ model: c.model, speed: c.speed })),
    totalmem: () => os.totalmem(),
    freemem: () => os.freemem(),
    exec: (cmd, args, timeoutMs) =>
      new Promise((resolve) => {
        execFile(
          cmd,
          [...args],
          { timeout: timeoutMs, env: { ...env } as NodeJS.ProcessEnv, windowsHide: true, maxBuffer: 4 << 20 },
          (err, stdout, stderr) => {
            if (!err) return resolve({ code: 0, stdout, stderr });
            // a string code (ENOENT, EACCES) means the program never ran; killed means it timed out
            if (typeof err.code === 'string' || err.killed) return resolve(undefined);
            resolve({ code: typeof err.code === 'number' ? err.code : 1, stdout, stderr });
          },
        );
      }),
  };
}

/** The path of a system file under the host's root. */
export function sysPath(host: Host, path: string): string {
  return host.root === '/' ? path : join(host.root, path);
}

export async function readText(host: Host, path: string): Promise<string | undefined> {
  try {
    return await readFile(sysPath(host, path), 'utf8');
  } catch {
    return undefined;
  }
}

export async function readTrim(host: Host, path: string): Promise<string | undefined> {
  return (await readText(host, path))?.trim();
}

export async function listDir(host: Host, path: string): Promise<string[]> {
  try {
    return (await readdir(sysPath(host, path))).sort();
  } catch {
    return [];
  }
}

/** The last path segment a symlink points at (e.g. a device's `driver` link). */
export async function linkName(host: Host, path: string): Promise<string | undefined> {
  try {
    const target = await readlink(sysPath(host, path));
    return target.split('/').filter(Boolean).pop();
  } catch {
    return undefined;
  }
}

export async function exists(host: Host, path: string): Promise<boolean> {
  try {
    await stat(sysPath(host, path));
    return true;
  } catch {
    return false;
  }
}
