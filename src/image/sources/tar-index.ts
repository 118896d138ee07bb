import { createReadStream, open as fsOpen, read as fsRead } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { PalisadeError } from '../../core/index.js';
import type { FileRegion } from '../region-digest.js';
import { safeName } from './archive.js';
import { readAll } from './source.js';

/**
 * An index of an image archive (`docker save`, `oci-archive`, `ctr export`): where each regular
 * file's bytes start and how long they are, found by reading the 512-byte headers only and seeking
 * over contents. Layers are then streamed straight from their offsets: nothing is unpacked, and a
 * layer whose analysis is cached is never read at all.
 *
 * tar-stream (used for layers) reads sequentially and cannot seek, hence this reader of headers.
 * It follows what GNU tar reads: ustar (name + prefix), pax extended headers (`x`, and global `g`;
 * `path` and `size` apply, other records such as fractional `mtime`, `LIBARCHIVE.*` or `SCHILY.*`
 * are ignored), GNU long names (`L`, `K`), base-256 numbers, old-GNU sparse headers, and v7
 * headers. Names are normalised (`./a` = `a`); names climbing out (`..`) are left out, as are
 * macOS metadata (`._*` AppleDouble files, `.DS_Store`). A later member of the same name wins, as
 * when GNU tar extracts.
 */
export interface TarMember {
  offset: number;
  size: number;
  /** Symlink or hardlink: the member it points at (legacy `docker save` links shared layer.tar files). */
  link?: string;
}

const BLOCK = 512;
/** Extended headers (pax, long names) larger than this are not names: refuse instead of holding them. */
const MAX_EXTENDED = 1024 * 1024;
const MAX_MEMBERS = 1_000_000;

export interface ArchiveFiles {
  /** What the user named, for messages. */
  name: string;
  has(member: string): boolean;
  size(member: string): number | undefined;
  read(member: string, maxBytes: number): Promise<Buffer>;
  open(member: string): Readable;
  /** Where a member's bytes lie in a plain file, for readers beside the stream (a digest on another thread); undefined when not stored so. */
  region?(member: string): FileRegion | undefined;
  /** Releases what opening took (a temp file for a compressed archive). */
  close?(): Promise<void>;
}

function invalid(what: string, why: string): PalisadeError {
  return new PalisadeError('image.archive.invalid', `${what}: ${why}`, { kind: 'unprocessable', field: 'image', hint: 'the archive is truncated, compressed in an unknown way or not a tar archive' });
}

function cString(block: Buffer, start: number, length: number): string {
  const end = block.indexOf(0, start);
  return block.toString('utf8', start, end < 0 || end > start + length ? start + length : end);
}

/** Octal (NUL/space padded) or GNU base-256 (high bit of the first byte set). */
function numeric(block: Buffer, start: number, length: number): number {
  if (block[start]! & 0x80) {
    if (block[start] === 0xff) return NaN; // negative
    let value = block[start]! & 0x7f;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + block[i]!;
    return value;
  }
  const text = block.toString('latin1', start, start + length).replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : /^[0-7]+$/.test(text) ? parseInt(text, 8) : NaN;
}

function checksumOk(block: Buffer): boolean {
  const stored = numeric(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** pax records: `LEN KEY=VALUE\n`, LEN counting the whole record. */
function paxRecords(data: Buffer, what: string): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = space < 0 ? NaN : Number(data.toString('latin1', at, space));
    if (data[at] === 0) break; // padding
    if (!Number.isInteger(length) || length <= 0 || at + length > data.length) throw invalid(what, 'malformed pax extended header');
    const record = data.toString('utf8', space + 1, at + length - 1);
    const eq = record.indexOf('=');
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;

function ignoredName(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return base.startsWith('._') || base === '.DS_Store';
}

async function readAt(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, offset + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

/** Opens an archive for reading; a missing or unreadable file is named as such. */
export async function openArchiveHandle(file: string, what: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (error) {
    throw new PalisadeError('image.source.not-found', `${what}: cannot read ${file}: ${(error as Error).message}`, { kind: 'not-found', field: 'image' });
  }
}

/** Indexes an archive by path, or through a handle the caller keeps (and closes). */
export async function indexTar(source: string | FileHandle, what: string): Promise<Map<string, TarMember>> {
  const handle = typeof source === 'string' ? await openArchiveHandle(source, what) : source;
  try {
    const { size: fileSize } = await handle.stat();
    const members = new Map<string, TarMember>();
    let globalPax = new Map<string, string>();
    let pax: Map<string, string> | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    let offset = 0;
    let headers = 0;
    for (;;) {
      const block = await readAt(handle, offset, BLOCK);
      if (block.length === 0) break; // no end-of-archive blocks: GNU tar accepts that too
      if (block.length < BLOCK) throw invalid(what, `ends inside a header at byte ${offset}`);
      if (block.every((b) => b === 0)) break; // end of archive
      if (++headers > MAX_MEMBERS) throw invalid(what, `more than ${MAX_MEMBERS} members`);
      if (!checksumOk(block)) throw invalid(what, headers === 1 ? 'is not a tar archive' : `has a corrupt header at byte ${offset}`);
      const type = String.fromCharCode(block[156]!);
      let size = numeric(block, 124, 12);
      if (!Number.isFinite(size) || size < 0) throw invalid(what, `has an invalid size at byte ${offset}`);
      let dataStart = offset + BLOCK;

      if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
        if (size > MAX_EXTENDED) throw invalid(what, `has a ${size} byte extended header at byte ${offset}`);
        const data = await readAt(handle, dataStart, size);
        if (data.length < size) throw invalid(what, `ends inside an extended header at byte ${offset}`);
        if (type === 'x') pax = paxRecords(data, what);
        else if (type === 'g') globalPax = new Map([...globalPax, ...paxRecords(data, what)]);
        else if (type === 'L') longName = cString(data, 0, data.length);
        else longLink = cString(data, 0, data.length);
        offset = dataStart + padded(size);
        continue;
      }

      const magic = block.toString('latin1', 257, 263);
      let name = cString(block, 0, 100);
      if (magic === 'ustar\0') {
        const prefix = cString(block, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      if (type === 'S' && magic === 'ustar ') {
        // Old-GNU sparse: more sparse maps may follow in extension blocks before the data.
        let extended = block[482] === 1;
        while (extended) {
          const ext = await readAt(handle, dataStart, BLOCK);
          if (ext.length < BLOCK) throw invalid(what, `ends inside a sparse header at byte ${dataStart}`);
          extended = ext[504] === 1;
          dataStart += BLOCK;
        }
      }
      const records = pax ? new Map([...globalPax, ...pax]) : globalPax;
      if (records.has('path')) name = records.get('path')!;
      if (longName !== undefined) name = longName;
      if (records.has('size')) {
        size = Number(records.get('size'));
        if (!Number.isSafeInteger(size) || size < 0) throw invalid(what, `has an invalid pax size at byte ${offset}`);
      }
      pax = undefined;
      longName = undefined;
      // Directories, links, devices and FIFOs carry no data here; hardlinks' size is 0.
      const hasData = type !== '1' && type !== '2' && type !== '3' && type !== '4' && type !== '5' && type !== '6';
      if (!hasData) size = 0;
      if (dataStart + size > fileSize) throw invalid(what, `ends inside ${name} (${size} bytes at byte ${dataStart}; truncated?)`);
      const normalized = safeName(name);
      if (normalized && !ignoredName(normalized)) {
        if (type === '0' || type === '\0' || type === '7') members.set(normalized, { offset: dataStart, size });
        else if (type === '1' || type === '2') {
          const linkName = records.get('linkpath') ?? longLink ?? cString(block, 157, 100);
          // A symlink's target is relative to its own directory; a hardlink's to the archive root.
          const base = type === '2' && !linkName.startsWith('/') ? normalized.slice(0, normalized.lastIndexOf('/') + 1) : '';
          const target = safeName(path.posix.normalize(`${base}${linkName}`));
          if (target) members.set(normalized, { offset: 0, size: 0, link: target });
        }
      }
      longLink = undefined;
      offset = dataStart + padded(size);
    }
    return members;
  } finally {
    if (typeof source === 'string') await handle.close();
  }
}

/**
 * For streams over a descriptor others share: a stream destroyed early (a layer that failed, a
 * pipeline torn down) closes its descriptor even with `autoClose: false`; this one leaves it to
 * whoever opened it, so the other streams keep reading and the number is never closed twice.
 */
export const SHARED_DESCRIPTOR = { open: fsOpen, read: fsRead, close: (_fd: number, done: (error: NodeJS.ErrnoException | null) => void) => done(null) };

/**
 * The members of an archive indexed through `handle`, read straight from their offsets through that
 * one descriptor (each member's stream, a layer's digest on another thread): all of them read the
 * same file, even if its path is replaced meanwhile. `close` closes the handle.
 */
export function tarFiles(members: Map<string, TarMember>, name: string, handle: FileHandle): ArchiveFiles {
  const member = (m: string) => {
    let found = members.get(safeName(m) ?? m);
    for (let hops = 0; found?.link !== undefined && hops < 8; hops++) found = members.get(found.link);
    return found?.link === undefined ? found : undefined;
  };
  const open = (m: string): Readable => {
    const found = member(m);
    if (!found) throw new PalisadeError('image.blob.missing', `${name}: ${m} is missing from the archive`, { kind: 'unprocessable' });
    if (found.size === 0) return Readable.from([]);
    // Positioned reads, so streams of several members can share the descriptor (the path is unused).
    return createReadStream('', { start: found.offset, end: found.offset + found.size - 1, highWaterMark: 1 << 20, fd: handle.fd, fs: SHARED_DESCRIPTOR });
  };
  return {
    name,
    has: (m) => member(m) !== undefined,
    size: (m) => member(m)?.size,
    open,
    region(m) {
      const found = member(m);
      return found ? { handle, offset: found.offset, size: found.size } : undefined;
    },
    close: () => handle.close(),
    async read(m, maxBytes) {
      const found = member(m);
      if (found && found.size > maxBytes) throw new PalisadeError('image.document.too-large', `${name}: ${m} is larger than ${maxBytes} bytes`, { kind: 'too-large' });
      return readAll(open(m), maxBytes, `${name}: ${m}`);
    },
  };
}
