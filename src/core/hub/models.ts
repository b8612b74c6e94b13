/** What the shared Hugging Face cache holds (any tool's downloads), and removing a repository from it. */
import { lstat, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../errors.js';
import { repoFolder } from './cache.js';

export interface CachedRepo {
  repo: string;
  path: string;
  /** Sum of the blobs (each stored once, however many snapshots link it). */
  sizeBytes: number;
  refs: Record<string, string>;
  snapshots: string[];
  onnxFiles: string[];
}

async function walkFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walkFiles(join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out;
}

export async function listCached(cacheDir: string): Promise<CachedRepo[]> {
  const out: CachedRepo[] = [];
  for (const name of (await readdir(cacheDir).catch(() => [])).sort()) {
    if (!name.startsWith('models--')) continue;
    const root = join(cacheDir, name);
    let sizeBytes = 0;
    for (const b of await readdir(join(root, 'blobs')).catch(() => [])) {
      if (b.endsWith('.incomplete')) continue;
      sizeBytes += (await stat(join(root, 'blobs', b)).catch(() => undefined))?.size ?? 0;
    }
    const refs: Record<string, string> = {};
    for (const r of await walkFiles(join(root, 'refs'))) refs[r] = (await readFile(join(root, 'refs', r), 'utf8').catch(() => '')).trim();
    const snapshots = (await readdir(join(root, 'snapshots')).catch(() => [])).sort();
    const onnxFiles = new Set<string>();
    for (const s of snapshots) for (const f of await walkFiles(join(root, 'snapshots', s))) if (f.endsWith('.onnx')) onnxFiles.add(f);
    out.push({ repo: name.slice('models--'.length).split('--').join('/'), path: root, sizeBytes, refs, snapshots, onnxFiles: [...onnxFiles].sort() });
  }
  return out;
}

/** Removes a repository's folder (blobs, snapshots, refs) and its locks. Returns the bytes freed. */
export async function removeCached(cacheDir: string, repo: string): Promise<number> {
  const root = join(cacheDir, repoFolder(repo));
  if (!(await lstat(root).catch(() => undefined))) throw new NotFoundError(`${repo} is not in the cache at ${cacheDir}`, 'see what is cached with `aivmm models --cached`');
  const entry = (await listCached(cacheDir)).find((r) => r.path === root);
  await rm(root, { recursive: true, force: true });
  await rm(join(cacheDir, '.locks', repoFolder(repo)), { recursive: true, force: true });
  return entry?.sizeBytes ?? 0;
}
