/** Bytes per element, and typed arrays over raw bytes, for the element types aivmm moves between runtimes. */
import type { ElementType, TypedData } from './types.js';

export const ELEMENT_BYTES: Readonly<Record<ElementType, number>> = { float32: 4, float16: 2, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1 };

/** `length` elements of `type` at `byteOffset` of `buffer` (default: as many as it holds from there); float16 as its bits. */
export function typedArrayOf(type: ElementType, buffer: ArrayBufferLike, length?: number, byteOffset = 0): TypedData {
  length ??= (buffer.byteLength - byteOffset) / ELEMENT_BYTES[type];
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
