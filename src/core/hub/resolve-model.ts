/**
 * What a model argument names: nothing (the embedded default), an embedded model's name, a path to an
 * .onnx file, or — through the `pull` it is given — a catalog alias or a Hub id (org/name[/path.onnx]),
 * pulled into the shared cache first (or found there when offline).
 */
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { NotFoundError, UsageError } from '../errors.js';
import { DEFAULT_MODEL, EMBEDDED_MODELS, ensureEmbeddedModel } from '../models/embedded.js';
import { findAlias } from './catalog.js';
import type { PullResult } from './pull.js';

export interface ResolvedModel {
  /** The name rows are matched by in baselines: the embedded name, or the file name. */
  name: string;
  path: string;
  embedded: boolean;
  /** With `multi`: every ONNX file of a directory or a pulled repo (CLIP's towers, Whisper's encoder and decoder). */
  files?: string[];
}

/** Pulls a Hub model (alias or id) and returns what it got. */
export type ModelPuller = (id: string) => Promise<PullResult>;

async function onnxUnder(dir: string, depth = 2): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory() && depth > 0) out.push(...(await onnxUnder(p, depth - 1)));
    else if (/\.onnx$/i.test(e.name)) out.push(p);
  }
  return out.sort();
}

export async function resolveModel(arg: string | undefined, cacheDir: string, cwd: string = process.cwd(), pull?: ModelPuller, opts: { multi?: boolean } = {}): Promise<ResolvedModel> {
  const name = arg ?? DEFAULT_MODEL;
  if (EMBEDDED_MODELS[name]) {
    const m = await ensureEmbeddedModel(name, join(cacheDir, 'models'));
    return { name, path: m.path, embedded: true };
  }
  const path = resolve(cwd, name);
  const st = await stat(path).catch(() => undefined);
  if (st?.isFile()) return { name: basename(path), path, embedded: false };
  if (st?.isDirectory()) {
    const files = opts.multi ? await onnxUnder(path) : [];
    if (files.length === 0) throw new UsageError(`${name} is a directory`, 'give the .onnx file inside it');
    return { name: basename(path), path: files[0]!, embedded: false, files };
  }
  // org/name or org/name/path: not a relative path such as ./m.onnx or models/m.onnx (two segments ending in .onnx)
  const hubId = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*(\/.+)?$/.test(name) && !(name.split('/').length === 2 && /\.onnx$/i.test(name));
  const looksLikePath = !hubId && (/\.onnx$/i.test(name) || /^[.~/\\]/.test(name));
  if (looksLikePath) throw new NotFoundError(`model file ${name} not found`);
  if (pull && (hubId || findAlias(name))) {
    const got = await pull(name);
    const onnx = got.files.filter((f) => f.path.endsWith('.onnx'));
    if (opts.multi && onnx.length > 1) return { name: got.alias ?? name, path: onnx[0]!.localPath, embedded: false, files: onnx.map((f) => f.localPath) };
    if (onnx.length !== 1) {
      throw new UsageError(`${name} has ${onnx.length} ONNX files (${onnx.map((f) => f.path).join(', ')}): name one`, `e.g. ${got.repo}/${onnx[0]?.path ?? 'path/to/model.onnx'}`);
    }
    const file = onnx[0] as PullResult['files'][number];
    return { name: got.alias ?? basename(file.path), path: file.localPath, embedded: false };
  }
  throw new NotFoundError(`unknown model '${name}'`, `give a path to an .onnx file, an embedded model (${Object.keys(EMBEDDED_MODELS).join(', ')}), a catalog alias (\`aivmm models\`) or a Hub id org/name`);
}
