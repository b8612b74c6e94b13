/**
 * huggingface_hub's cache layout, byte for byte, so Python and aivmm share files both ways:
 * `models--org--name/{blobs/<etag>, snapshots/<commit>/<path> → ../../blobs/<etag>, refs/<revision>}`,
 * `.locks/models--org--name/<etag>.lock`, `CACHEDIR.TAG`. Paths from the server are validated before
 * anything is written.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, readlink, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { CancelledError, IntegrityError } from '../errors.js';

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
    // Never through a link planted there (it would create or touch a file outside the cache).
    const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
    await fh.close();
  }

  async knownMissing(commit: string, path: string): Promise<boolean> {
    return Boolean(await stat(join(this.root, '.no_exist', commit, path)).catch(() => undefined));
  }

  /** A regular file of the right size: a link planted at blobs/<etag> is not a blob (it is replaced). */
  async hasBlob(etag: string, size?: number): Promise<boolean> {
    const st = await lstat(this.blob(etag)).catch(() => undefined);
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

  /**
   * Cross-process lock on one blob: an exclusive lock file naming its owner (`{"pid","host","started"}`),
   * its mtime refreshed every 30 s while held. Stale only when the owner is gone: on this host, when its
   * pid no longer exists; from another host (a shared cache), when it has not been refreshed for 5 min.
   * A live owner is waited for however long it downloads.
   */
  async lock(etag: string, onWait?: () => void, signal?: AbortSignal): Promise<() => Promise<void>> {
    const path = join(this.cacheDir, '.locks', repoFolder(this.repo), `${etag}.lock`);
    await mkdir(dirname(path), { recursive: true });
    for (let waited = 0; ; waited++) {
      if (signal?.aborted) throw new CancelledError('the pull was cancelled');
      try {
        const fh = await open(path, 'wx', 0o664); // O_EXCL: never through a planted link
        await fh.writeFile(JSON.stringify({ pid: process.pid, host: os.hostname(), started: Date.now() }));
        await fh.close();
        const beat = setInterval(() => {
          const now = new Date();
          void utimes(path, now, now).catch(() => undefined);
        }, HEARTBEAT_MS);
        beat.unref();
        return async () => {
          clearInterval(beat);
          await rm(path, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (await isStale(path)) {
        await rm(path, { force: true });
        continue;
      }
      if (waited % 100 === 0) onWait?.();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const HEARTBEAT_MS = 30_000;
/** A lock from another host not refreshed for this long is abandoned (10 missed heartbeats). */
const REMOTE_STALE_MS = 5 * 60_000;

/** Owner of a lock file: aivmm's JSON, or a bare pid (earlier aivmm versions; this host). */
function lockOwner(text: string): { pid: number; host?: string } | undefined {
  try {
    const j = JSON.parse(text) as { pid?: unknown; host?: unknown };
    if (typeof j === 'number') return Number.isInteger(j) && j > 0 ? { pid: j } : undefined;
    if (typeof j.pid === 'number' && Number.isInteger(j.pid) && j.pid > 0) return { pid: j.pid, ...(typeof j.host === 'string' ? { host: j.host } : {}) };
  } catch {
    /* not JSON */
  }
  return undefined;
}

export async function isStale(path: string): Promise<boolean> {
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const age = Date.now() - st.mtimeMs;
    const owner = lockOwner(text);
    // Empty or unreadable: being written right now, or left by a tool that writes no owner (huggingface_hub's filelock).
    if (!owner) return age > 5000;
    if (owner.host !== undefined && owner.host !== os.hostname()) return age > REMOTE_STALE_MS;
    try {
      process.kill(owner.pid, 0);
      return false; // alive: its age does not matter
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  } catch {
    return false; // just released: try again
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
