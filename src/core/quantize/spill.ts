/**
 * Keeps memory bounded while rewriting a model whose weights live in external data: every large tensor
 * the quantizer makes goes to a temporary file as soon as it exists and is kept as a reference
 * (path, offset, length), so no more than one weight is in memory at a time. The writer then copies
 * the bytes into the output's data file chunk by chunk.
 */
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import type { TensorInit } from '../onnx/model.js';

/** Tensors below this stay in memory (as they stay inline in the written model). */
const MIN_BYTES = 1024;

export type TensorStore = (t: TensorInit) => TensorInit;

export const keepInMemory: TensorStore = (t) => t;

export class TensorSpill {
  private fd: number | undefined;
  private offset = 0;

  constructor(readonly path: string) {}

  readonly store: TensorStore = (t) => {
    if (t.external || t.proto || t.data.byteLength < MIN_BYTES) return t;
    this.fd ??= openSync(this.path, 'w');
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, this.offset + done);
    const ref = { path: this.path, offset: this.offset, length: bytes.length };
    this.offset += bytes.length;
    return { name: t.name, dataType: t.dataType, dims: t.dims, data: new Uint8Array(0), external: ref };
  };

  /** Bytes written so far. */
  get bytes(): number {
    return this.offset;
  }

  dispose(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    try {
      unlinkSync(this.path);
    } catch {
      // never created
    }
  }
}
