/**
 * huggingface_hub's cache layout, byte for byte, so Python and aivmm share files both ways:
 * `models--org--name/{blobs/<etag>, snapshots/<commit>/<path> → ../../blobs/<etag>, refs/<revision>}`,
 * `.locks/models--org--name/<etag>.lock`, `CACHEDIR.TAG`. Paths from the server are validated before
 * anything is written.
 */
import { lstat, mkdir, readFile, readlink, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { acquireFileLock } from '../file-lock.js';
import { IntegrityError } from '../errors.js';

export function repoFolder(repo: string): string {
  return `models--${repo.split('/').join('--')}`;
}

/** Refuses `..` segments, absolute paths, drive letters and backslashes (names that would escape the cache). */
export function checkRelativePath(path: string): void {
  const bad = path === '' || path.startsWith('/') || /^[a-zA-Z]:/.test(path) || path.includes('\\') || path.split('/').some((s) => s === '..' || s === '.' || s === '') || path.includes('\0');
  if (bad) throw new IntegrityError(`refusing file name '${path}' from the server: it would escape the cache`, 'the repository or the server is misbehaving; nothing was written');
}

export class RepoCache {
  readonly root: string;
  constructor(
    readonly cacheDir: string,
    readonly repo: string,
  ) {
    this.root = join(cacheDir, repoFolder(repo));
  }

  blob(etag: string): string {
    checkRelativePath(etag);
    return join(this.root, 'blobs', etag);
  }

  snapshotFile(commit: string, path: string): string {
    checkRelativePath(path);
    checkRelativePath(commit);
    return join(this.root, 'snapshots', commit, path);
  }

  /** The partial download of a blob, continued across runs; only touched while holding the blob's lock. */
  partialFor(etag: string): string {
    return `${this.blob(etag)}.incomplete`;
  }

  async readRef(revision: string): Promise<string | undefined> {
    if (/^[0-9a-f]{40}$/.test(revision)) return revision;
    try {
      return (await readFile(join(this.root, 'refs', revision), 'utf8')).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    for (const seg of revision.split('/')) if (seg === '..' || seg === '') throw new IntegrityError(`refusing revision name '${revision}'`);
    await writeFileAtomic(join(this.root, 'refs', revision), commit);
    await ensureCacheTag(this.cacheDir);
  }

  /** huggingface_hub's marker: `path` is known absent at `commit` (an empty file under .no_exist). */
  async markMissing(commit: string, path: string): Promise<void> {
    checkRelativePath(path);
    checkRelativePath(commit);
    const file = join(this.root, '.no_exist', commit, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, '');
  }

  async knownMissing(commit: string, path: string): Promise<boolean> {
    return Boolean(await stat(join(this.root, '.no_exist', commit, path)).catch(() => undefined));
  }

  async hasBlob(etag: string, size?: number): Promise<boolean> {
    const st = await stat(this.blob(etag)).catch(() => undefined);
    return Boolean(st?.isFile() && (size === undefined || st.size === size));
  }

  /** snapshots/<commit>/<path> → relative link to blobs/<etag> (EEXIST with the same target is success). */
  async link(commit: string, path: string, etag: string): Promise<string> {
    const file = this.snapshotFile(commit, path);
    const target = relative(dirname(file), this.blob(etag));
    await mkdir(dirname(file), { recursive: true });
    const existing = await lstat(file).catch(() => undefined);
    if (existing) {
      if (existing.isSymbolicLink() && (await readlink(file)) === target) return file;
      await unlink(file);
    }
    try {
      await symlink(target, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || (await readlink(file).catch(() => '')) !== target) throw err;
    }
    return file;
  }

  /** Cross-process lock on one blob: an exclusive lock file; stale ones (dead pid or > 10 min) are taken over. */
  lock(etag: string, onWait?: () => void): Promise<() => Promise<void>> {
    return acquireFileLock(join(this.cacheDir, '.locks', repoFolder(this.repo), `${etag}.lock`), onWait);
  }
}

const TAG = 'Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by huggingface_hub.\n# For information about cache directory tags, see:\n#\thttps://bford.info/cachedir/\n';

export async function ensureCacheTag(cacheDir: string): Promise<void> {
  const path = join(cacheDir, 'CACHEDIR.TAG');
  if (await stat(path).catch(() => undefined)) return;
  await mkdir(cacheDir, { recursive: true });
  await writeFile(path, TAG, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
}
