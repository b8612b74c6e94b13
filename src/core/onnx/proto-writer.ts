/**
 * A minimal protocol-buffers wire-format writer: enough to serialise ONNX's ModelProto.
 * Field numbers live in onnx-writer.ts; this file only knows the wire format.
 */

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  private size = 0;

  get length(): number {
    this.flushScratch();
    return this.size;
  }

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    const bytes = Uint8Array.from(this.scratch);
    this.chunks.push(bytes);
    this.size += bytes.length;
    this.scratch = [];
  }

  private pushBytes(bytes: Uint8Array): void {
    this.flushScratch();
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  /** Unsigned or non-negative varint; negative int64 values use ten bytes (two's complement). */
  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    if (v < 0x80n) {
      this.scratch.push(Number(v));
      return;
    }
    while (v >= 0x80n) {
      this.scratch.push(Number((v & 0x7fn) | 0x80n));
      v >>= 7n;
    }
    this.scratch.push(Number(v));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    return this.fixed(field, WIRE_FIXED32, b);
  }

  double(field: number, value: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    return this.fixed(field, WIRE_FIXED64, b);
  }

  private fixed(field: number, wire: number, bytes: Uint8Array): this {
    this.tag(field, wire);
    this.pushBytes(bytes);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(value.length);
    this.pushBytes(value);
    return this;
  }

  /** Bytes already in wire format (e.g. the fields of a message read earlier): written as they are. */
  raw(encoded: Uint8Array): this {
    this.pushBytes(encoded);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  packedFloats(field: number, values: readonly number[]): this {
    const b = new Uint8Array(values.length * 4);
    const view = new DataView(b.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    this.flushScratch();
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }
}
