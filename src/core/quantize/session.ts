/** Opens onnxruntime sessions on in-memory model descriptions (external data included). */
import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RuntimeTarget } from '../backends/ep-map.js';
import { ortBackend } from '../backends/ort.js';
import type { LoadOptions, Session } from '../backends/types.js';
import { ConfigError } from '../errors.js';
import type { ModelSpec } from '../onnx/model.js';
import { encodeModel, writeModelFile } from '../onnx/writer.js';

/**
 * A session on `m`. A model whose weights live in external data is written as a temporary file beside
 * its data (onnxruntime resolves external data next to the model and refuses paths that leave its
 * directory), loaded, and removed; the weights are not copied.
 */
export async function openModel(m: ModelSpec, target: RuntimeTarget, opts: LoadOptions = {}): Promise<Session> {
  const dirs = new Set(m.graph.initializers.flatMap((t) => (t.external ? [dirname(t.external.path)] : [])));
  const [dir] = dirs;
  if (dir === undefined) return ortBackend.load(encodeModel(m), target, opts);
  if (dirs.size > 1) throw new Error(`external data in several directories (${[...dirs].join(', ')}): onnxruntime reads it only beside the model`);
  const path = join(dir, `.aivmm-${randomBytes(6).toString('hex')}.onnx`);
  try {
    await writeModelFile(path, m, { referenceExternal: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
      throw new ConfigError(`cannot write a temporary model beside the external data in ${dir} (${code})`, 'onnxruntime reads external data only next to the model file: copy the model and its .data file to a writable directory');
    }
    throw err;
  }
  try {
    return await ortBackend.load(path, target, opts);
  } finally {
    await unlink(path).catch(() => undefined);
  }
}
