/** Minimal ELF reading: enough to find a named section in a buffered binary (64- and 32-bit, either byte order). */
export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

export function isElf(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

export function elfSection(data: Buffer, name: string): Buffer | undefined {
  if (!isElf(data) || data.length < 52) return undefined;
  const is64 = data[4] === 2;
  const le = data[5] === 1;
  const u16 = (o: number) => (le ? data.readUInt16LE(o) : data.readUInt16BE(o));
  const u32 = (o: number) => (le ? data.readUInt32LE(o) : data.readUInt32BE(o));
  const addr = (o: number) => (is64 ? Number(le ? data.readBigUInt64LE(o) : data.readBigUInt64BE(o)) : u32(o));
  const shoff = addr(is64 ? 0x28 : 0x20);
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  const shnum = u16(is64 ? 0x3c : 0x30);
  const shstrndx = u16(is64 ? 0x3e : 0x32);
  if (!shoff || shoff + shnum * shentsize > data.length || shstrndx >= shnum) return undefined;
  const header = (i: number) => {
    const o = shoff + i * shentsize;
    return { name: u32(o), offset: addr(o + (is64 ? 0x18 : 0x10)), size: addr(o + (is64 ? 0x20 : 0x14)) };
  };
  const strtab = header(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    const start = strtab.offset + h.name;
    const end = data.indexOf(0, start);
    if (end < 0 || data.toString('latin1', start, end) !== name) continue;
    if (h.offset + h.size > data.length) return undefined;
    return data.subarray(h.offset, h.offset + h.size);
  }
  return undefined;
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
