/**
 * The only module that asks the operating system where home and temp are (lint enforces it:
 * eslint.config.js forbids `homedir`/`tmpdir` of node:os everywhere else). It reads the environment it
 * is given (the CLI passes process.env once, at the edge, through loadConfig).
 */
import os from 'node:os';
import { join } from 'node:path';

export interface AivmmPaths {
  /** Probe results, embedded models, later the model cache's own index. */
  cacheDir: string;
}

/** The user's home directory (the default root of every cache path). */
export function homeDir(): string {
  return os.homedir();
}

export function resolvePaths(
  env: Readonly<Record<string, string | undefined>>,
  platform: NodeJS.Platform = process.platform,
  home: string = homeDir(),
): AivmmPaths {
  if (env['AIVMM_CACHE_DIR']) return { cacheDir: env['AIVMM_CACHE_DIR'] };
  if (platform === 'darwin') return { cacheDir: join(home, 'Library', 'Caches', 'aivmm') };
  if (platform === 'win32') return { cacheDir: join(env['LOCALAPPDATA'] ?? join(home, 'AppData', 'Local'), 'aivmm', 'cache') };
  return { cacheDir: join(env['XDG_CACHE_HOME'] ?? join(home, '.cache'), 'aivmm') };
}

export function tempDir(): string {
  return os.tmpdir();
}
