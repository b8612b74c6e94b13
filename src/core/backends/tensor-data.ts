/** Bytes per element, and typed arrays over raw bytes, for the element types aivmm moves between runtimes. */
import type { ElementType, HostTensor, TypedData } from './types.js';
import { BufferPool } from '../buffer-pool.js';

export const ELEMENT_BYTES: Readonly<Record<ElementType, number>> = { float32: 4, float16: 2, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1 };

/** `length` elements of `type` at `byteOffset` of `buffer` (default: as many as it holds from there); float16 as its bits. */
export function typedArrayOf(type: ElementType, buffer: ArrayBufferLike, length?: number, byteOffset = 0): TypedData {
  const n = length ?? (buffer.byteLength - byteOffset) / ELEMENT_BYTES[type];
  return viewOf(type, buffer, byteOffset, n);
}

function viewOf(type: ElementType, buffer: ArrayBufferLike, byteOffset: number, length: number): TypedData {
  switch (type) {
    case 'float32':
      return new Float32Array(buffer, byteOffset, length);
    case 'float16':
      return new Uint16Array(buffer, byteOffset, length);
    case 'int64':
      return new BigInt64Array(buffer, byteOffset, length);
    case 'int32':
      return new Int32Array(buffer, byteOffset, length);
    case 'int8':
      return new Int8Array(buffer, byteOffset, length);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer, byteOffset, length);
  }
}

/** Plain buffers for copies of shared-memory feeds, reused run after run (per thread: one pool per module instance). */
const plainBuffers = new BufferPool<ArrayBuffer>({ make: (n) => new ArrayBuffer(n), maxRetainedBytes: 128 * 1024 * 1024 });

/**
 * Feeds with any data in a SharedArrayBuffer (the server's request and batch buffers, shared with its lane
 * threads) copied into plain buffers: onnxruntime-node and OpenVINO refuse shared memory ("Invalid
 * argument"). `release` hands the copies back for the next run once the runtime is done with them.
 */
export function unsharedFeeds(feeds: Readonly<Record<string, HostTensor>>): { feeds: Readonly<Record<string, HostTensor>>; release(): void } {
  let copies: ArrayBuffer[] | undefined;
  let out: Record<string, HostTensor> | undefined;
  for (const [name, t] of Object.entries(feeds)) {
    if (!(t.data.buffer instanceof SharedArrayBuffer)) continue;
    out ??= { ...feeds };
    copies ??= [];
    const bytes = t.data.byteLength;
    const buf = plainBuffers.take(bytes);
    new Uint8Array(buf, 0, bytes).set(new Uint8Array(t.data.buffer, t.data.byteOffset, bytes));
    copies.push(buf);
    out[name] = { type: t.type, dims: t.dims, data: typedArrayOf(t.type, buf, t.data.length) };
  }
  if (!out || !copies) return { feeds, release: () => undefined };
  const held = copies;
  return { feeds: out, release: () => held.forEach((b) => plainBuffers.give(b)) };
}
