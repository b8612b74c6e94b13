/**
 * Where a quantize run keeps its files until the result has been judged: a hidden directory beside the
 * target (same file system, so the final rename is atomic) named `.<output>.tmp.<pid>.<random>`. The
 * model, its data file and the weight spill are written there, evaluated there, and only then renamed
 * over the target; a failure or Ctrl-C removes the directory and leaves an existing target as it was.
 * A run killed outright cannot clean up, so every run first removes the staging directories of runs
 * whose process is gone.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../errors.js';
import type { WrittenModel } from '../onnx/writer.js';

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** The target's directory must exist and be writable: checked before any work, not after it. */
export async function checkDestination(output: string): Promise<void> {
  const dir = dirname(output);
  const st = await stat(dir).catch(() => undefined);
  if (!st) throw new ConfigError(`cannot write ${output}: directory ${dir} does not exist`, `create it first (mkdir -p ${dir}) or choose another -o`);
  if (!st.isDirectory()) throw new ConfigError(`cannot write ${output}: ${dir} is not a directory`, 'choose another -o');
  const target = await stat(output).catch(() => undefined);
  if (target?.isDirectory()) throw new ConfigError(`cannot write ${output}: it is a directory`, 'give a file name ending in .onnx');
  try {
    await access(dir, constants.W_OK);
  } catch {
    throw new ConfigError(`cannot write ${output}: directory ${dir} is not writable`, 'choose a writable -o');
  }
}

/** Staging directories of `output` left by runs that were killed; removes them and returns their names. */
export async function removeStale(output: string): Promise<string[]> {
  const dir = dirname(output);
  const pattern = new RegExp(`^\\.${escape(basename(output))}\\.tmp\\.(\\d+)\\.[0-9a-f]+$`);
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = pattern.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    await rm(join(dir, name), { recursive: true, force: true }).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

export interface Staging {
  dir: string;
  /** The model's path inside the staging directory (same file name as the target). */
  path: string;
  /** Moves the staged model (and data file) over the target and removes the staging directory. */
  commit(written: WrittenModel): Promise<WrittenModel>;
  /** Removes the staging directory and everything in it. */
  discard(): Promise<void>;
}

function writeError(err: unknown, output: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOSPC' || code === 'ENOENT' || code === 'EDQUOT') {
    return new ConfigError(`cannot write ${output} (${code})`, code === 'ENOSPC' || code === 'EDQUOT' ? 'free some disk space or choose another -o' : 'choose a writable -o');
  }
  return err;
}

export async function createStaging(output: string): Promise<Staging> {
  const dir = join(dirname(output), `.${basename(output)}.tmp.${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(dir);
  } catch (err) {
    throw writeError(err, output);
  }
  const path = join(dir, basename(output));
  const discard = (): Promise<void> => rm(dir, { recursive: true, force: true }).catch(() => undefined);
  return {
    dir,
    path,
    discard,
    async commit(written) {
      try {
        const dataPath = written.dataPath ? `${output}.data` : undefined;
        if (written.dataPath && dataPath) await rename(written.dataPath, dataPath);
        await rename(written.path, output);
        return { path: output, ...(dataPath ? { dataPath } : {}), bytes: written.bytes };
      } catch (err) {
        throw writeError(err, output);
      } finally {
        await discard();
      }
    },
  };
}
