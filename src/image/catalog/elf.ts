import type { FileBytes } from './types.js';

/** Minimal ELF reading: enough to find a named section in a buffered binary (64- and 32-bit, either byte order). */
export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

export function isElf(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

/** Random access over the chunks of a streamed file, without joining them. */
export class Chunks implements FileBytes {
  private readonly starts: number[] = [];
  private readonly parts: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.starts.push(this.length);
    this.parts.push(chunk);
    this.length += chunk.length;
  }

  slice(start: number, end: number): Buffer {
    if (start < 0 || end > this.length || start > end) throw new RangeError('outside the file');
    const out: Buffer[] = [];
    let i = this.find(start);
    for (let pos = start; pos < end; i++) {
      const part = this.parts[i]!;
      const from = pos - this.starts[i]!;
      const take = Math.min(part.length - from, end - pos);
      out.push(part.subarray(from, from + take));
      pos += take;
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  private find(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** A held file's bytes by position. */
export function bufferBytes(buffer: Buffer): FileBytes {
  return { length: buffer.length, slice: (start, end) => buffer.subarray(start, end) };
}

/** The bytes of section `name`, read by position: from a held binary, its streamed chunks, or the file where it lies. */
export function elfSection(input: Buffer | FileBytes, name: string): Buffer | undefined {
  const file = Buffer.isBuffer(input) ? bufferBytes(input) : input;
  if (file.length < 64) return undefined;
  const head = file.slice(0, 64);
  if (!isElf(head)) return undefined;
  const is64 = head[4] === 2;
  const le = head[5] === 1;
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const addr = (b: Buffer, o: number) => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o));
  const shoff = addr(head, is64 ? 0x28 : 0x20);
  const shentsize = u16(head, is64 ? 0x3a : 0x2e);
  const shnum = u16(head, is64 ? 0x3c : 0x30);
  const shstrndx = u16(head, is64 ? 0x3e : 0x32);
  if (!shoff || shentsize < (is64 ? 0x40 : 0x28) || shoff + shnum * shentsize > file.length || shstrndx >= shnum) return undefined;
  const table = file.slice(shoff, shoff + shnum * shentsize);
  const header = (i: number) => {
    const o = i * shentsize;
    return { name: u32(table, o), offset: addr(table, o + (is64 ? 0x18 : 0x10)), size: addr(table, o + (is64 ? 0x20 : 0x14)) };
  };
  const strtab = header(shstrndx);
  if (strtab.offset + strtab.size > file.length) return undefined;
  const names = file.slice(strtab.offset, strtab.offset + strtab.size);
  const wanted = Buffer.from(name, 'latin1');
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    // Compared as bytes: most sections are not the one asked for, and a string per section per executable adds up.
    if (h.name + wanted.length >= names.length || names[h.name + wanted.length] !== 0) continue;
    if (names.compare(wanted, 0, wanted.length, h.name, h.name + wanted.length) !== 0) continue;
    if (h.offset + h.size > file.length) return undefined;
    return file.slice(h.offset, h.offset + h.size);
  }
  return undefined;
}

/** How far into a binary its program headers are looked for: past this, the whole file is searched instead. */
export const PROGRAM_HEADERS_WITHIN = 64 * 1024;

/**
 * The file range of the loadable segments that are writable and not executable: where Go's
 * `debug/buildinfo` looks for the build info blob when it does not find the `.go.buildinfo`
 * section (the linker puts the blob at the start of the data segment). Read from the program
 * headers at the start of the file, so a streamed binary needs only its first bytes to know which
 * of its bytes can hold the blob. `need-more` until the headers have arrived; undefined for a
 * binary without such a segment or with headers out of reach.
 */
export function writableDataRange(head: Buffer, maxHeaderBytes = PROGRAM_HEADERS_WITHIN): { start: number; end: number } | 'need-more' | undefined {
  if (head.length < 64) return 'need-more';
  if (!isElf(head)) return undefined;
  const is64 = head[4] === 2;
  const le = head[5] === 1;
  const u16 = (o: number) => (le ? head.readUInt16LE(o) : head.readUInt16BE(o));
  const u32 = (o: number) => (le ? head.readUInt32LE(o) : head.readUInt32BE(o));
  const addr = (o: number) => (is64 ? Number(le ? head.readBigUInt64LE(o) : head.readBigUInt64BE(o)) : u32(o));
  const phoff = addr(is64 ? 0x20 : 0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  if (!phoff || phentsize < (is64 ? 0x38 : 0x20)) return undefined;
  const end = phoff + phnum * phentsize;
  if (end > maxHeaderBytes) return undefined;
  if (head.length < end) return 'need-more';
  const PT_LOAD = 1;
  const PF_X = 1;
  const PF_W = 2;
  // All writable data segments, not only the first: the `.go.buildinfo` section Go reads first
  // can sit in a later one (PIE binaries have a RELRO segment before the data segment).
  let range: { start: number; end: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (u32(o) !== PT_LOAD) continue;
    const flags = u32(is64 ? o + 4 : o + 24);
    if ((flags & (PF_X | PF_W)) !== PF_W) continue;
    const offset = addr(is64 ? o + 8 : o + 4);
    const size = addr(is64 ? o + 32 : o + 16);
    range = { start: Math.min(range?.start ?? offset, offset), end: Math.max(range?.end ?? 0, offset + size) };
  }
  return range;
}

/** Unsigned LEB128, as Go writes string lengths in its build info. */
export function readUvarint(data: Uint8Array, offset: number): [value: number, next: number] | undefined {
  let value = 0;
  let shift = 0;
  for (let i = offset; i < data.length && i < offset + 10; i++) {
    const byte = data[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, i + 1];
    shift += 7;
  }
  return undefined;
}

export const isExecutable = (f: { mode: number; size: number }) => (f.mode & 0o111) !== 0 && f.size >= 64;
