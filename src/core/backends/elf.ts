/**
 * The dynamic section of an ELF64 little-endian shared library: the libraries it names (DT_NEEDED) and its
 * RUNPATH/RPATH. `devices` reads it from onnxruntime's provider libraries to learn which CUDA, cuDNN and
 * TensorRT libraries they were built against (CUDA 12 for onnxruntime-node's NuGet package, CUDA 13 for
 * other builds), instead of assuming one. Only the section headers, the dynamic section and its string
 * table are read, not the (hundreds of MB of) code.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export interface ElfDynamic {
  needed: string[];
  runpath: string[];
}

const SHT_DYNAMIC = 6;
const DT_NEEDED = 1n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;
const MAX_SECTION = 16 << 20;

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, offset);
  if (n !== length) throw new Error('short read');
  return buf;
}

/** undefined when the file is missing, not ELF64 little-endian, or malformed. */
export function readElfDynamic(path: string): ElfDynamic | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const h = readAt(fd, 0, 64);
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return undefined; // \x7fELF, 64-bit, LE
    const shoff = Number(h.readBigUInt64LE(0x28));
    const shentsize = h.readUInt16LE(0x3a);
    const shnum = h.readUInt16LE(0x3c);
    if (shoff === 0 || shentsize < 64 || shnum === 0 || shnum > 4096) return undefined;
    const table = readAt(fd, shoff, shentsize * shnum);
    const section = (i: number): { type: number; offset: number; size: number; link: number } => ({
      type: table.readUInt32LE(i * shentsize + 4),
      offset: Number(table.readBigUInt64LE(i * shentsize + 0x18)),
      size: Number(table.readBigUInt64LE(i * shentsize + 0x20)),
      link: table.readUInt32LE(i * shentsize + 0x28),
    });
    for (let i = 0; i < shnum; i++) {
      const dyn = section(i);
      if (dyn.type !== SHT_DYNAMIC) continue;
      if (dyn.link >= shnum) return undefined;
      const strtab = section(dyn.link);
      if (dyn.size > MAX_SECTION || strtab.size > MAX_SECTION) return undefined;
      const entries = readAt(fd, dyn.offset, dyn.size);
      const strings = readAt(fd, strtab.offset, strtab.size);
      const str = (off: bigint): string => {
        const start = Number(off);
        if (start >= strings.length) throw new Error('string offset out of range');
        const end = strings.indexOf(0, start);
        return strings.toString('utf8', start, end < 0 ? strings.length : end);
      };
      const out: ElfDynamic = { needed: [], runpath: [] };
      for (let o = 0; o + 16 <= entries.length; o += 16) {
        const tag = entries.readBigInt64LE(o);
        if (tag === 0n) break;
        const val = entries.readBigUInt64LE(o + 8);
        if (tag === DT_NEEDED) out.needed.push(str(val));
        else if (tag === DT_RUNPATH || tag === DT_RPATH) out.runpath.push(...str(val).split(':').filter(Boolean));
      }
      return out;
    }
    return { needed: [], runpath: [] };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
