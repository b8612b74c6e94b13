/**
 * A cross-process lock on one file path: an exclusive lock file (O_EXCL, so never through a planted link)
 * naming its owner (`{"pid","host","started"}`), its mtime refreshed every 30 s while held. Stale only
 * when the owner is gone: on this host, when its pid no longer exists; from another host (a shared
 * cache), when it has not been refreshed for 5 minutes. A live owner is waited for however long it
 * works. Used by the hub cache (one lock per blob) and by the read-merge-write of the probe and
 * auto-choice caches, so two processes (a CLI and a server, say) cannot lose each other's updates.
 */
import { mkdir, open, readFile, rm, stat, utimes } from 'node:fs/promises';
import os from 'node:os';
import { dirname } from 'node:path';
import { CancelledError } from './errors.js';

const HEARTBEAT_MS = 30_000;
/** A lock from another host not refreshed for this long is abandoned (10 missed heartbeats). */
const REMOTE_STALE_MS = 5 * 60_000;

/** Waits for the lock at `path` (polling every 50 ms; `onWait` every 5 s of waiting) and returns its release. */
export async function acquireFileLock(path: string, onWait?: () => void, signal?: AbortSignal): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true });
  for (let waited = 0; ; waited++) {
    if (signal?.aborted) throw new CancelledError('cancelled while waiting for a lock');
    try {
      const fh = await open(path, 'wx', 0o664);
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

/** Runs `f` holding the lock at `path`. */
export async function withFileLock<T>(path: string, f: () => Promise<T>, onWait?: () => void): Promise<T> {
  const release = await acquireFileLock(path, onWait);
  try {
    return await f();
  } finally {
    await release();
  }
}

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
