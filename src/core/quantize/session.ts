/** Opens onnxruntime sessions on in-memory model descriptions (external data included). */
import { randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RuntimeTarget } from '../backends/ep-map.js';
import { ortBackend } from '../backends/ort.js';
import type { LoadOptions, Session } from '../backends/types.js';
import type { ModelSpec } from './onnx-model.js';
import { encodeModel, writeModelFile } from './onnx-writer.js';

/**
 * A session on `m`. A model whose weights live in external data is written as a temporary file beside
 * its data (onnxruntime resolves external data next to the model and refuses paths that leave its
 * directory), loaded, and removed; the weights are not copied.
 */
export async function openModel(m: ModelSpec, target: RuntimeTarget, opts: LoadOptions = {}): Promise<Session> {
  const external = m.graph.initializers.find((t) => t.external);
  if (!external?.external) return ortBackend.load(encodeModel(m), target, opts);
  const path = join(dirname(external.external.path), `.aivmm-${randomBytes(6).toString('hex')}.onnx`);
  await writeModelFile(path, m, { referenceExternal: true });
  try {
    return await ortBackend.load(path, target, opts);
  } finally {
    await unlink(path).catch(() => undefined);
  }
}
