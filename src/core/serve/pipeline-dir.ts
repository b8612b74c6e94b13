/**
 * Models served through their task pipeline rather than as plain tensors: a directory whose ONNX files
 * say which task (Whisper's encoder + decoder, CLIP's vision + text towers) or with a tokenizer.json
 * beside the model (a text-generation or embedding model). In a model repository such a model is
 * DIR/<name>/<version>/ holding its files (the tokenizer in the version directory or in DIR/<name>/);
 * every file's size and mtime make the version's key, so replacing model.onnx or the tokenizer is a change.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import type { TaskName } from '../tasks/types.js';

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const VERSION_RE = /^[1-9][0-9]{0,15}$/;

/** The task a set of ONNX files names by itself (two-file models); undefined: the model decides when opened. */
export function taskOfFiles(files: readonly string[]): TaskName | undefined {
  const names = files.map((f) => basename(f).toLowerCase());
  if (names.some((n) => n.includes('encoder')) && names.some((n) => n.includes('decoder'))) return 'automatic-speech-recognition';
  if (names.some((n) => n.includes('vision')) && names.some((n) => n.includes('text'))) return 'zero-shot-image-classification';
  return undefined;
}

export interface PipelineVersion {
  version: number;
  dir: string;
  /** Every ONNX file of the version (sorted), and the tokenizer when there is one. */
  files: string[];
  tokenizer?: string;
  task?: TaskName;
  /** Sizes and mtimes of every file: changes when any of them is replaced. */
  key: string;
}

export interface ScannedPipelineModel {
  name: string;
  versions: PipelineVersion[];
}

async function onnxFiles(dir: string, depth = 1): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory() && depth > 0) out.push(...(await onnxFiles(p, depth - 1)));
    else if (e.isFile() && /\.onnx$/i.test(e.name)) out.push(p);
  }
  return out.sort();
}

async function inside(root: string, p: string): Promise<boolean> {
  const real = await realpath(p).catch(() => undefined);
  return real !== undefined && real.startsWith(root + sep);
}

/** One version directory as a pipeline model, or undefined when it is a plain tensor model (or empty). */
export async function pipelineVersion(root: string, modelDir: string, version: number): Promise<PipelineVersion | undefined> {
  const dir = join(modelDir, String(version));
  const files = [];
  for (const f of await onnxFiles(dir)) if (await inside(root, f)) files.push(f);
  if (!files.length) return undefined;
  const tokenizer = [join(dir, 'tokenizer.json'), join(modelDir, 'tokenizer.json')].find((p) => existsSync(p));
  const task = taskOfFiles(files);
  if (!tokenizer && !task) return undefined;
  const keyed = [...files, ...(tokenizer ? [tokenizer] : []), ...[join(dir, 'tokenizer_config.json'), join(dir, 'generation_config.json')].filter((p) => existsSync(p))];
  const parts = await Promise.all(keyed.map(async (f) => stat(f).then((s) => `${basename(f)}:${s.size}:${s.mtimeMs}`, () => `${basename(f)}:gone`)));
  return { version, dir, files, ...(tokenizer ? { tokenizer } : {}), ...(task ? { task } : {}), key: parts.join('|') };
}

/** The pipeline models of a repository, their versions highest first (symlinks leading out are skipped). */
export async function scanPipelineRepository(dir: string): Promise<ScannedPipelineModel[]> {
  const root = await realpath(dir);
  const out: ScannedPipelineModel[] = [];
  for (const e of await readdir(root, { withFileTypes: true })) {
    if (!NAME_RE.test(e.name) || e.name.includes('..') || !(e.isDirectory() || e.isSymbolicLink())) continue;
    const modelDir = join(root, e.name);
    if (!(await inside(root, modelDir))) continue;
    const versions: PipelineVersion[] = [];
    for (const v of await readdir(modelDir, { withFileTypes: true }).catch(() => [])) {
      if (!VERSION_RE.test(v.name)) continue;
      const pv = await pipelineVersion(root, modelDir, Number(v.name));
      if (pv) versions.push(pv);
    }
    if (versions.length) out.push({ name: e.name, versions: versions.sort((a, b) => b.version - a.version) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Whether repository model `name` is a pipeline model (for the tensor registry to leave it alone): a
 * tokenizer.json in its directory or a version directory, or a version whose files name a two-file task.
 * Synchronous, for a filter called inside a scan.
 */
export function isPipelineModelDir(repository: string, name: string): boolean {
  const modelDir = join(repository, name);
  if (existsSync(join(modelDir, 'tokenizer.json'))) return true;
  let versions: string[];
  try {
    versions = readdirSync(modelDir).filter((v) => VERSION_RE.test(v));
  } catch {
    return false;
  }
  return versions.some((v) => {
    const dir = join(modelDir, v);
    if (existsSync(join(dir, 'tokenizer.json'))) return true;
    const files: string[] = [];
    try {
      for (const f of readdirSync(dir, { withFileTypes: true })) {
        if (f.isFile()) files.push(f.name);
        else if (f.isDirectory()) for (const g of readdirSync(join(dir, f.name))) files.push(g);
      }
    } catch {
      return false;
    }
    return taskOfFiles(files.filter((f) => /\.onnx$/i.test(f))) !== undefined;
  });
}
