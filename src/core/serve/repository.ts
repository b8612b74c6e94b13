/**
 * A model repository as Triton and OpenVINO Model Server lay it out: DIR/<name>/<version>/model.onnx,
 * numeric versions (others ignored), a version policy choosing which are served (latest N, all, or
 * specific). Names and paths that would escape the repository are refused.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { BadRequestError } from './errors.js';

/** What a model name may be: a file stem or alias, never a path. */
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function checkModelName(name: string): string {
  if (!NAME_RE.test(name) || name.includes('..')) {
    throw new BadRequestError(`invalid model name '${name.slice(0, 80)}'`, 'a model name is letters, digits, _ . - (no slashes, no ..), at most 128 characters');
  }
  return name;
}

export type VersionPolicy = { latest: number } | { all: true } | { specific: number[] };

export const DEFAULT_POLICY: VersionPolicy = Object.freeze({ latest: 1 });

/** One version's file with what identifies its content for change detection. */
export interface VersionFile {
  version: number;
  path: string;
  mtimeMs: number;
  size: number;
}

/** The versions of one model found on disk, highest first. */
export interface ScannedModel {
  name: string;
  versions: VersionFile[];
}

export function applyPolicy(versions: readonly VersionFile[], policy: VersionPolicy): VersionFile[] {
  const sorted = [...versions].sort((a, b) => b.version - a.version);
  if ('all' in policy) return sorted;
  if ('specific' in policy) return sorted.filter((v) => policy.specific.includes(v.version));
  return sorted.slice(0, Math.max(1, policy.latest));
}

async function inside(root: string, p: string): Promise<boolean> {
  const real = await realpath(p).catch(() => undefined);
  return real !== undefined && (real === root || real.startsWith(root + sep));
}

/**
 * The models of `dir`, every numeric version with a model file (symlinks that lead out of the repository
 * are skipped: the repository is the boundary of what a client can make the server read).
 */
export async function scanRepository(dir: string, fileName = 'model.onnx'): Promise<ScannedModel[]> {
  const root = await realpath(dir);
  const out: ScannedModel[] = [];
  for (const e of await readdir(root, { withFileTypes: true })) {
    if (!NAME_RE.test(e.name) || e.name.includes('..')) continue;
    const modelDir = join(root, e.name);
    if (!(e.isDirectory() || e.isSymbolicLink()) || !(await inside(root, modelDir))) continue;
    const versions: VersionFile[] = [];
    for (const v of await readdir(modelDir, { withFileTypes: true }).catch(() => [])) {
      if (!/^[1-9][0-9]{0,15}$/.test(v.name)) continue; // Triton: names starting with 0 or not numeric are ignored
      const path = join(modelDir, v.name, fileName);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile() || !(await inside(root, path))) continue;
      versions.push({ version: Number(v.name), path, mtimeMs: st.mtimeMs, size: st.size });
    }
    if (versions.length) out.push({ name: e.name, versions: versions.sort((a, b) => b.version - a.version) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** A single model file served as version 1 (a model given on the command line). */
export async function statModelFile(path: string): Promise<VersionFile | undefined> {
  const st = await stat(path).catch(() => undefined);
  return st?.isFile() ? { version: 1, path, mtimeMs: st.mtimeMs, size: st.size } : undefined;
}
