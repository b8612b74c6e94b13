/**
 * A minimal protocol-buffers wire-format reader: enough to decode ONNX's ModelProto.
 * Length-delimited fields come back as views into the input (no copies), so a model's weights
 * are never duplicated while decoding. Field numbers live in onnx-reader.ts.
 */

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

export class ProtoDecodeError extends Error {}

export interface ProtoField {
  field: number;
  wire: number;
  /** Varint fields: the value (int64 two's complement folded to a signed number). */
  int: number;
  /** Length-delimited fields: a view of the bytes; fixed32/64: their raw bytes. */
  bytes: Uint8Array;
}

const EMPTY = new Uint8Array(0);

export class ProtoReader {
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** A varint as a JS number; 64-bit values above 2^53 lose precision, negative int64s come back negative. */
  varint(): number {
    let result = 0;
    let shift = 0;
    let byte: number;
    // Fast path: up to 4 bytes fit a 32-bit-safe accumulation.
    do {
      if (this.pos >= this.buf.length) throw new ProtoDecodeError('truncated varint');
      byte = this.buf[this.pos++]!;
      if (shift < 28) result |= (byte & 0x7f) << shift;
      else return this.slowVarint(result, shift, byte);
      shift += 7;
    } while (byte & 0x80);
    return result;
  }

  private slowVarint(low: number, shift: number, first: number): number {
    let v = BigInt(low >>> 0) | (BigInt(first & 0x7f) << BigInt(shift));
    let byte = first;
    shift += 7;
    while (byte & 0x80) {
      if (this.pos >= this.buf.length || shift > 70) throw new ProtoDecodeError('bad varint');
      byte = this.buf[this.pos++]!;
      v |= BigInt(byte & 0x7f) << BigInt(shift);
      shift += 7;
    }
    return Number(BigInt.asIntN(64, v));
  }

  next(): ProtoField {
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field === 0) throw new ProtoDecodeError('field number 0');
    switch (wire) {
      case WIRE_VARINT:
        return { field, wire, int: this.varint(), bytes: EMPTY };
      case WIRE_LEN: {
        const len = this.varint();
        const end = this.pos + len;
        if (len < 0 || end > this.buf.length) throw new ProtoDecodeError(`field ${field} runs past the end (${len} bytes)`);
        const bytes = this.buf.subarray(this.pos, end);
        this.pos = end;
        return { field, wire, int: 0, bytes };
      }
      case WIRE_FIXED32:
      case WIRE_FIXED64: {
        const n = wire === WIRE_FIXED32 ? 4 : 8;
        if (this.pos + n > this.buf.length) throw new ProtoDecodeError('truncated fixed field');
        const bytes = this.buf.subarray(this.pos, this.pos + n);
        this.pos += n;
        return { field, wire, int: 0, bytes };
      }
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wire}`);
    }
  }

  /** Every field of a message, in order. */
  static *fields(buf: Uint8Array): Generator<ProtoField> {
    const r = new ProtoReader(buf);
    while (!r.done) yield r.next();
  }
}

export function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

export function fixedFloat(f: ProtoField): number {
  return new DataView(f.bytes.buffer, f.bytes.byteOffset, 4).getFloat32(0, true);
}

/** A repeated varint field, packed (one LEN field) or not (one varint field per value). */
export function pushInts(out: number[], f: ProtoField): void {
  if (f.wire === WIRE_VARINT) {
    out.push(f.int);
    return;
  }
  const r = new ProtoReader(f.bytes);
  while (!r.done) out.push(r.varint());
}

/** A repeated float field, packed or not. */
export function pushFloats(out: number[], f: ProtoField): void {
  if (f.wire === WIRE_FIXED32) {
    out.push(fixedFloat(f));
    return;
  }
  const view = new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength);
  for (let i = 0; i + 4 <= f.bytes.byteLength; i += 4) out.push(view.getFloat32(i, true));
}

/** A repeated double field, packed or not. */
export function pushDoubles(out: number[], f: ProtoField): void {
  const view = new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength);
  for (let i = 0; i + 8 <= f.bytes.byteLength; i += 8) out.push(view.getFloat64(i, true));
}
