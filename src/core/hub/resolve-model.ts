/**
 * What a model argument names: nothing (the embedded default), an embedded model's name, or a path to
 * an .onnx file. Hub aliases and org/repo ids arrive with `aivmm pull` (issue #4).
 */
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { NotFoundError, UsageError } from '../errors.js';
import { DEFAULT_MODEL, EMBEDDED_MODELS, ensureEmbeddedModel } from './embedded.js';

export interface ResolvedModel {
  /** The name rows are matched by in baselines: the embedded name, or the file name. */
  name: string;
  path: string;
  embedded: boolean;
}

export async function resolveModel(arg: string | undefined, cacheDir: string, cwd: string = process.cwd()): Promise<ResolvedModel> {
  const name = arg ?? DEFAULT_MODEL;
  if (EMBEDDED_MODELS[name]) {
    const m = await ensureEmbeddedModel(name, join(cacheDir, 'models'));
    return { name, path: m.path, embedded: true };
  }
  const path = resolve(cwd, name);
  const st = await stat(path).catch(() => undefined);
  if (st?.isFile()) return { name: basename(path), path, embedded: false };
  if (st?.isDirectory()) throw new UsageError(`${name} is a directory`, 'give the .onnx file inside it');
  const looksLikePath = /\.onnx$/i.test(name) || /^[.~/\\]/.test(name);
  if (looksLikePath) throw new NotFoundError(`model file ${name} not found`);
  throw new NotFoundError(`unknown model '${name}'`, `give a path to an .onnx file or an embedded model (${Object.keys(EMBEDDED_MODELS).join(', ')}); Hub aliases need \`aivmm pull\`, which is not built yet`);
}
