/** Bytes per element, and typed arrays over raw bytes, for the element types aivmm moves between runtimes. */
import type { ElementType, TypedData } from './types.js';

export const ELEMENT_BYTES: Readonly<Record<ElementType, number>> = { float32: 4, float16: 2, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1 };

/** `length` elements of `type` at the start of `buffer` (default: as many as it holds); float16 as its bits. */
export function typedArrayOf(type: ElementType, buffer: ArrayBuffer, length = buffer.byteLength / ELEMENT_BYTES[type]): TypedData {
  switch (type) {
    case 'float32':
      return new Float32Array(buffer, 0, length);
    case 'float16':
      return new Uint16Array(buffer, 0, length);
    case 'int64':
      return new BigInt64Array(buffer, 0, length);
    case 'int32':
      return new Int32Array(buffer, 0, length);
    case 'int8':
      return new Int8Array(buffer, 0, length);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer, 0, length);
  }
}
