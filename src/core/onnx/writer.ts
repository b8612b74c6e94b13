/**
 * Serialises an ONNX model (ModelProto) from its plain description (onnx-model.ts); field numbers
 * follow onnx/onnx.proto3. Used to generate the fixture and embedded models, and by the quantizer to
 * write rewritten graphs, with ONNX external data for large weights.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, relative } from 'node:path';
import { ProtoWriter } from './proto-writer.js';
import { ONNX_DATA_TYPE, tensorByteLength } from './model.js';
import type { Attribute, ModelSpec, NodeSpec, TensorInit, ValueInfo } from './model.js';

export * from './model.js';

// AttributeProto.AttributeType
const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

/** Where a tensor's bytes went when written to an external data file. */
interface Placed {
  location: string;
  offset: number;
  length: number;
}

function writeTensor(w: ProtoWriter, t: TensorInit, placed?: Placed): void {
  if (t.proto) {
    w.raw(t.proto);
    return;
  }
  if (t.dataType === 'other') throw new Error(`tensor ${t.name}: unknown element type without its encoded form`);
  w.packedInts(1, t.dims); // dims
  w.int(2, ONNX_DATA_TYPE[t.dataType]); // data_type
  w.string(8, t.name); // name
  if (placed) {
    for (const [key, value] of [
      ['location', placed.location],
      ['offset', String(placed.offset)],
      ['length', String(placed.length)],
    ] as const) {
      w.message(13, (m) => m.string(1, key).string(2, value)); // external_data
    }
    w.int(14, 1); // data_location = EXTERNAL
    return;
  }
  if (t.external) throw new Error(`tensor ${t.name} lives in external data; write the model with writeModelFile`);
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  w.bytes(9, raw); // raw_data (little-endian on every platform Node runs on)
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  if (v.proto) {
    w.raw(v.proto);
    return;
  }
  if (v.dataType === 'other') throw new Error(`value ${v.name}: unknown element type without its encoded form`);
  const dataType = ONNX_DATA_TYPE[v.dataType];
  w.string(1, v.name);
  w.message(2, (type) => {
    type.message(1, (tensor) => {
      tensor.int(1, dataType); // elem_type
      if (v.shape) {
        const shapeDims = v.shape;
        tensor.message(2, (shape) => {
          for (const d of shapeDims) {
            shape.message(1, (dim) => {
              if (typeof d === 'number') dim.int(1, d);
              else if (d !== '') dim.string(2, d);
            });
          }
        });
      }
    });
  });
}

function writeAttribute(w: ProtoWriter, a: Attribute): void {
  if (a.type === 'raw') {
    w.raw(a.value);
    return;
  }
  w.string(1, a.name);
  switch (a.type) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, (t) => writeTensor(t, a.value));
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      break;
  }
  w.int(20, ATTR_TYPE[a.type]);
}

function writeNode(w: ProtoWriter, n: NodeSpec): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, (m) => writeAttribute(m, a));
  if (n.domain) w.string(7, n.domain);
}

function encode(model: ModelSpec, placed: ReadonlyMap<string, Placed>): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, model.irVersion ?? 8); // ir_version
  w.string(2, model.producerName ?? 'aivmm');
  if (model.producerVersion) w.string(3, model.producerVersion);
  if (model.domain) w.string(4, model.domain);
  if (model.modelVersion) w.int(5, model.modelVersion);
  if (model.docString) w.string(6, model.docString);
  w.message(7, (g) => {
    for (const n of model.graph.nodes) g.message(1, (m) => writeNode(m, n));
    g.string(2, model.graph.name);
    for (const t of model.graph.initializers) g.message(5, (m) => writeTensor(m, t, placed.get(t.name)));
    for (const i of model.graph.inputs) g.message(11, (m) => writeValueInfo(m, i));
    for (const o of model.graph.outputs) g.message(12, (m) => writeValueInfo(m, o));
    for (const v of model.graph.valueInfo ?? []) g.message(13, (m) => writeValueInfo(m, v));
    for (const e of model.graph.extra ?? []) g.bytes(e.field, e.bytes);
  });
  for (const op of model.opsets ?? [{ domain: '', version: 17 }]) {
    w.message(8, (m) => {
      if (op.domain) m.string(1, op.domain);
      m.int(2, op.version);
    });
  }
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    w.message(14, (m) => m.string(1, key).string(2, value)); // metadata_props
  }
  for (const e of model.extra ?? []) w.bytes(e.field, e.bytes);
  return w.finish();
}

/** The whole model in one buffer, every weight inline (models under protobuf's 2 GiB limit). */
export function encodeModel(model: ModelSpec): Uint8Array {
  return encode(model, new Map());
}

/** Protobuf messages cannot exceed 2 GiB; stay well below it before moving weights out. */
export const INLINE_LIMIT_BYTES = 1.8 * 1024 ** 3;
/** Tensors smaller than this stay inline even when the model uses external data (as onnx does). */
const EXTERNAL_MIN_BYTES = 1024;
const COPY_CHUNK = 16 * 1024 * 1024;

export interface WriteModelOptions {
  /** 'auto': external data when the source had it or the weights would not fit one protobuf. */
  externalData?: 'auto' | 'always' | 'never';
  /**
   * Point external tensors at the data files they already live in (locations relative to the new
   * model) instead of copying them: for temporary models beside their source, e.g. calibration.
   */
  referenceExternal?: boolean;
}

export interface WrittenModel {
  path: string;
  /** The external data file, when one was written. */
  dataPath?: string;
  /** Bytes on disk, model and data file together. */
  bytes: number;
}

/**
 * Writes a model atomically: the data file (if any) and the model go to temporary names and are
 * renamed into place only when both are complete, so a reader never sees a half file. External
 * tensors of the source are copied chunk by chunk, so memory stays bounded by the largest chunk.
 */
export async function writeModelFile(path: string, model: ModelSpec, opts: WriteModelOptions = {}): Promise<WrittenModel> {
  await mkdir(dirname(path), { recursive: true });
  const inits = model.graph.initializers;
  const total = inits.reduce((n, t) => n + tensorByteLength(t), 0);
  const mode = opts.externalData ?? 'auto';
  const external = !opts.referenceExternal && (mode === 'always' || (mode === 'auto' && (total > INLINE_LIMIT_BYTES || inits.some((t) => t.external))));
  const suffix = `.tmp.${randomBytes(6).toString('hex')}`;
  const dataPath = `${path}.data`;
  const tmpModel = path + suffix;
  const tmpData = dataPath + suffix;
  const placed = new Map<string, Placed>();
  if (opts.referenceExternal) {
    for (const t of inits) {
      if (t.external) placed.set(t.name, { location: relative(dirname(path), t.external.path), offset: t.external.offset, length: t.external.length });
    }
  }
  try {
    let dataBytes = 0;
    if (external) {
      const location = basename(dataPath);
      const fd = openSync(tmpData, 'w');
      try {
        for (const t of inits) {
          const length = tensorByteLength(t);
          if (t.proto || length < EXTERNAL_MIN_BYTES) continue;
          const pad = (4096 - (dataBytes % 4096)) % 4096; // page-aligned, so runtimes can map weights
          if (pad) writeSync(fd, new Uint8Array(pad), 0, pad, dataBytes);
          dataBytes += pad;
          copyTensorBytes(t, fd, dataBytes);
          placed.set(t.name, { location, offset: dataBytes, length });
          dataBytes += length;
        }
      } finally {
        closeSync(fd);
      }
    }
    const bytes = encode(model, placed);
    await writeFile(tmpModel, bytes);
    const withData = external && dataBytes > 0; // every tensor small: no data file
    if (withData) await rename(tmpData, dataPath);
    else if (external) await unlink(tmpData);
    await rename(tmpModel, path);
    return { path, ...(withData ? { dataPath } : {}), bytes: bytes.byteLength + dataBytes };
  } catch (err) {
    await unlink(tmpModel).catch(() => undefined);
    await unlink(tmpData).catch(() => undefined);
    throw err;
  }
}

function copyTensorBytes(t: TensorInit, fd: number, at: number): void {
  if (!t.external) {
    const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    let done = 0;
    while (done < raw.length) done += writeSync(fd, raw, done, raw.length - done, at + done);
    return;
  }
  const src = openSync(t.external.path, 'r');
  try {
    const buf = new Uint8Array(Math.min(COPY_CHUNK, t.external.length));
    let done = 0;
    while (done < t.external.length) {
      const n = readSync(src, buf, 0, Math.min(buf.length, t.external.length - done), t.external.offset + done);
      if (n === 0) throw new Error(`external data for ${t.name} ends early in ${t.external.path}`);
      let written = 0;
      while (written < n) written += writeSync(fd, buf, written, n - written, at + done + written);
      done += n;
    }
  } finally {
    closeSync(src);
  }
}
