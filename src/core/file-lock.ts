/**
 * A cross-process lock on one file path: an exclusive lock file holding the owner's pid, created with
 * O_EXCL. Stale locks (a dead pid, or older than 10 minutes) are taken over. Used by the hub cache (one
 * lock per blob) and by the read-merge-write of the probe and auto-choice caches, so two processes
 * (a CLI and a server, say) cannot lose each other's updates.
 */
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Waits for the lock at `path` (polling every 50 ms; `onWait` every 5 s of waiting) and returns its release. */
export async function acquireFileLock(path: string, onWait?: () => void): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true });
  for (let waited = 0; ; waited++) {
    try {
      const fh = await open(path, 'wx', 0o664);
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => rm(path, { force: true });
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

/** Runs `f` holding the lock at `path`. */
export async function withFileLock<T>(path: string, f: () => Promise<T>, onWait?: () => void): Promise<T> {
  const release = await acquireFileLock(path, onWait);
  try {
    return await f();
  } finally {
    await release();
  }
}

async function isStale(path: string): Promise<boolean> {
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    if (Date.now() - st.mtimeMs > 10 * 60_000) return true;
    const pid = Number(text);
    if (!Number.isInteger(pid) || pid <= 0) return Date.now() - st.mtimeMs > 5000;
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  } catch {
    return false; // just released: try again
  }
}
