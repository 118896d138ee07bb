import { createReadStream, open as fsOpen, read as fsRead } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { PalisadeError } from '../../core/index.js';
import type { FileRegion } from '../region-digest.js';
import { isRegularFile, tarEntries, WindowReader } from '../tar-headers.js';
import { safeName } from './archive.js';
import { readAll } from './source.js';

/**
 * An index of an image archive (`docker save`, `oci-archive`, `ctr export`): where each regular
 * file's bytes start and how long they are, found by reading the 512-byte headers only and seeking
 * over contents. Layers are then streamed straight from their offsets: nothing is unpacked, and a
 * layer whose analysis is cached is never read at all.
 *
 * The headers are read as GNU tar reads them (../tar-headers.ts). Names are normalised (`./a` =
 * `a`); names climbing out (`..`) are left out, as are macOS metadata (`._*` AppleDouble files,
 * `.DS_Store`). A later member of the same name wins, as when GNU tar extracts.
 */
export interface TarMember {
  offset: number;
  size: number;
  /** Symlink or hardlink: the member it points at (legacy `docker save` links shared layer.tar files). */
  link?: string;
  /** Stored as a GNU sparse file: its data is not its content. */
  sparse?: boolean;
}

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

function ignoredName(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return base.startsWith('._') || base === '.DS_Store';
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
    const entries = tarEntries(new WindowReader(handle.fd), { start: 0, end: fileSize, fail: (why) => invalid(what, why), maxEntries: MAX_MEMBERS });
    for (const entry of entries) {
      const normalized = safeName(entry.name);
      if (!normalized || ignoredName(normalized)) continue;
      const type = entry.type;
      if (entry.sparse) members.set(normalized, { offset: entry.dataOffset, size: entry.size, sparse: true });
      else if (isRegularFile(type)) members.set(normalized, { offset: entry.dataOffset, size: entry.size });
      else if (type === '1' || type === '2') {
        // A symlink's target is relative to its own directory; a hardlink's to the archive root.
        const base = type === '2' && !entry.linkname.startsWith('/') ? normalized.slice(0, normalized.lastIndexOf('/') + 1) : '';
        const target = safeName(path.posix.normalize(`${base}${entry.linkname}`));
        if (target) members.set(normalized, { offset: 0, size: 0, link: target });
      }
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
    if (found.sparse) {
      throw new PalisadeError('image.archive.sparse', `${name}: ${m} is stored as a GNU sparse file, whose holes are not expanded`, {
        kind: 'unprocessable',
        hint: 'create the archive without --sparse (-S)',
      });
    }
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
      // A sparse member is not its content: opening it says so.
      return found && !found.sparse ? { handle, offset: found.offset, size: found.size } : undefined;
    },
    close: () => handle.close(),
    async read(m, maxBytes) {
      const found = member(m);
      if (found && found.size > maxBytes) throw new PalisadeError('image.document.too-large', `${name}: ${m} is larger than ${maxBytes} bytes`, { kind: 'too-large' });
      return readAll(open(m), maxBytes, `${name}: ${m}`);
    },
  };
}
