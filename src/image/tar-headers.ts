import { readSync } from 'node:fs';

/**
 * The headers of a tar, walked once whoever reads it. In a plain file it is read by seeking:
 * contents are stepped over, not read. Image archives are indexed this way (sources/tar-index.ts),
 * and so are large uncompressed layers inside them (layers.ts analyzeLayerInPlace), where only the
 * files a cataloger wants are then read. Every other layer is a stream (inflated, or pulled from
 * a registry), walked by the same steps as it arrives (tar-stream-walk.ts).
 *
 * It follows what GNU tar reads: ustar (name + prefix), pax extended headers (`x`, and global `g`;
 * `path`, `linkpath` and `size` apply, other records such as fractional `mtime`, `LIBARCHIVE.*` or
 * `SCHILY.*` are ignored), GNU long names (`L`, `K`), base-256 numbers, old-GNU sparse headers,
 * and v7 headers. GNU sparse files are named as GNU tar names them and flagged: their holes are
 * not expanded, so their data is not their content.
 */
export interface TarEntry {
  /** As stored, after pax `path` and GNU long names: not normalised. */
  name: string;
  /** The type flag: '0' or '\0' file, '1' hardlink, '2' symlink, '5' directory, '7' contiguous file, ... */
  type: string;
  /** Bytes of data (0 for types that carry none here: links, directories, devices, FIFOs). */
  size: number;
  mode: number;
  /** Links: the target as stored (pax `linkpath`, GNU long link, or the header's field). */
  linkname: string;
  /** Where the entry's data starts in the file. */
  dataOffset: number;
  /** Where its header starts, for messages. */
  offset: number;
  /**
   * A GNU sparse file (old-GNU type `S`, or pax `GNU.sparse.*` records): its data holds only the
   * parts that are not holes, behind a map in some versions, so it is not the file's content.
   */
  sparse?: boolean;
}

/** A regular file's type flag: `0`, a v7 header's NUL, or `7` (contiguous, which GNU tar reads as a regular file). */
export function isRegularFile(type: string): boolean {
  return type === '0' || type === '\0' || type === '7';
}

const BLOCK = 512;
/** Extended headers (pax, long names) larger than this are not names: refuse instead of holding them. */
const MAX_EXTENDED = 1024 * 1024;
/** Headers are read through a window this large: the headers of a run of small files come in one read. */
const WINDOW = 128 * 1024;

/** Positioned reads of a file through a window; a returned buffer is valid until the next read. */
export class WindowReader {
  private window = Buffer.allocUnsafe(WINDOW);
  private start = 0;
  private length = 0;

  constructor(private readonly fd: number) {}

  /** `length` bytes at `offset`, fewer at the end of the file. */
  read(offset: number, length: number): Buffer {
    if (offset >= this.start && offset + length <= this.start + this.length) return this.window.subarray(offset - this.start, offset - this.start + length);
    if (length > WINDOW) return readFully(this.fd, Buffer.allocUnsafe(length), offset);
    const filled = readFully(this.fd, this.window, offset);
    this.start = offset;
    this.length = filled.length;
    return filled.subarray(0, Math.min(length, filled.length));
  }
}

/** Fills `buffer` from `offset` (fewer bytes at the end of the file). */
export function readFully(fd: number, buffer: Buffer, offset: number): Buffer {
  let done = 0;
  while (done < buffer.length) {
    const n = readSync(fd, buffer, done, buffer.length - done, offset + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

function cString(block: Buffer, start: number, length: number): string {
  const end = block.indexOf(0, start);
  return block.toString('utf8', start, end < 0 || end > start + length ? start + length : end);
}

/**
 * Octal (NUL/space padded) or GNU base-256 (high bit of the first byte set). Read byte by byte:
 * a layer has tens of thousands of headers, each with several numbers.
 */
function numeric(block: Buffer, start: number, length: number): number {
  if (block[start]! & 0x80) {
    if (block[start] === 0xff) return NaN; // negative
    let value = block[start]! & 0x7f;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + block[i]!;
    return value;
  }
  const end = start + length;
  let i = start;
  while (i < end && block[i] === 0x20) i++; // leading spaces
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const byte = block[i]!;
    if (byte === 0) break; // what follows a NUL is padding
    if (byte === 0x20) {
      // Trailing spaces end the number; anything after them but spaces or NULs does not belong in it.
      for (let j = i; j < end && block[j] !== 0; j++) if (block[j] !== 0x20) return NaN;
      break;
    }
    if (byte < 0x30 || byte > 0x37) return NaN;
    value = value * 8 + (byte - 0x30);
    digits++;
  }
  return digits === 0 ? 0 : value;
}

/** The stored checksum matches the header's bytes summed as unsigned (POSIX) or, from old tars, signed. */
function checksumOk(block: Buffer): boolean {
  const stored = numeric(block, 148, 8);
  let unsigned = 8 * 0x20; // the checksum field counts as spaces
  for (let i = 0; i < 148; i++) unsigned += block[i]!;
  for (let i = 156; i < BLOCK; i++) unsigned += block[i]!;
  if (stored === unsigned) return true;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) signed += block[i]! > 127 ? block[i]! - 256 : block[i]!;
  return stored === signed;
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** pax records: `LEN KEY=VALUE\n`, LEN counting the whole record. */
function paxRecords(data: Buffer, fail: (why: string) => Error): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = space < 0 ? NaN : Number(data.toString('latin1', at, space));
    if (data[at] === 0) break; // padding
    if (!Number.isInteger(length) || length <= 0 || at + length > data.length) throw fail('malformed pax extended header');
    const record = data.toString('utf8', space + 1, at + length - 1);
    const eq = record.indexOf('=');
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;

export interface TarWalk {
  /** Where the tar starts and ends in the file (a stream's end is not known: Infinity). */
  start: number;
  end: number;
  /** The error for a malformed tar, with why. */
  fail: (why: string) => Error;
  maxEntries: number;
}

/** Every entry of the tar in [start, end) of a file, in order, links and directories included. */
export function* tarEntries(reader: WindowReader, walk: TarWalk): Generator<TarEntry> {
  const steps = tarWalk(walk);
  let answer: Buffer | undefined;
  for (;;) {
    const step = steps.next(answer);
    if (step.done) return;
    if (step.value.read) answer = reader.read(step.value.read.offset, step.value.read.length);
    else {
      answer = undefined;
      yield step.value.entry!;
    }
  }
}

/**
 * A step of a walk: bytes it needs (`length` at `offset`, fewer only at the end of the tar; offsets
 * never go back, so a stream can answer), or the next entry. A driver answers each read with the
 * bytes, valid until its next answer: a file by seeking (tarEntries), a stream by reading on
 * (tar-stream-walk.ts). The format is known here once, whoever reads.
 */
export interface TarStep {
  read?: { offset: number; length: number };
  entry?: TarEntry;
}

/** The walk itself, reading only through its steps. */
export function* tarWalk(walk: TarWalk): Generator<TarStep, void, Buffer | undefined> {
  const { end, fail } = walk;
  const read = (offset: number, length: number): TarStep => ({ read: { offset, length } });
  const globalPax = new Map<string, string>();
  let globalBytes = 0;
  let pax: Map<string, string> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  let offset = walk.start;
  let headers = 0;
  for (;;) {
    if (offset >= end) break; // no end-of-archive blocks: GNU tar accepts that too
    const block = (yield read(offset, Math.min(BLOCK, end - offset)))!;
    if (block.length === 0) break;
    if (block.length < BLOCK) throw fail(`ends inside a header at byte ${offset - walk.start}`);
    if (isZeroBlock(block)) break; // end of archive
    if (++headers > walk.maxEntries) throw fail(`more than ${walk.maxEntries} members`);
    if (!checksumOk(block)) throw fail(headers === 1 ? 'is not a tar archive' : `has a corrupt header at byte ${offset - walk.start}`);
    const type = String.fromCharCode(block[156]!);
    let size = numeric(block, 124, 12);
    if (!Number.isFinite(size) || size < 0) throw fail(`has an invalid size at byte ${offset - walk.start}`);
    let dataStart = offset + BLOCK;

    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > MAX_EXTENDED) throw fail(`has a ${size} byte extended header at byte ${offset - walk.start}`);
      const data = (yield read(dataStart, Math.min(size, end - dataStart)))!;
      if (data.length < size) throw fail(`ends inside an extended header at byte ${offset - walk.start}`);
      if (type === 'x') pax = paxRecords(data, fail);
      else if (type === 'g') {
        for (const [key, value] of paxRecords(data, fail)) globalPax.set(key, value);
        globalBytes += size;
        // Each global header adds to what every later entry looks up: bounded like one extended header.
        if (globalBytes > MAX_EXTENDED) throw fail(`has more than ${MAX_EXTENDED} bytes of global pax headers`);
      }
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
    const mode = numeric(block, 100, 8);
    const headerLink = cString(block, 157, 100);
    if (type === 'S' && magic === 'ustar ') {
      // Old-GNU sparse: more sparse maps may follow in extension blocks before the data.
      let extended = block[482] === 1;
      while (extended) {
        const ext = (yield read(dataStart, Math.min(BLOCK, end - dataStart)))!;
        if (ext.length < BLOCK) throw fail(`ends inside a sparse header at byte ${dataStart - walk.start}`);
        extended = ext[504] === 1;
        dataStart += BLOCK;
      }
    }
    // This entry's records first, then the global ones (looked up, not merged: an entry costs the same however many there are).
    const record = (key: string) => pax?.get(key) ?? globalPax.get(key);
    const paxPath = record('path');
    if (paxPath !== undefined) name = paxPath;
    if (longName !== undefined) name = longName;
    // GNU tar's --sparse on a regular file: old-GNU `S`, or pax 0.0 (numblocks), 0.1 (map) and 1.0
    // (major; stored as GNUSparseFile.PID/NAME, named by GNU.sparse.name). Only this entry's own
    // records count, as in Go's archive/tar (containerd's reader): other GNU.sparse.* keys are ignored.
    const sparse = type === 'S' || (isRegularFile(type) && pax !== undefined && (pax.has('GNU.sparse.major') || pax.has('GNU.sparse.map') || pax.has('GNU.sparse.numblocks')));
    if (sparse && pax?.has('GNU.sparse.name')) name = pax.get('GNU.sparse.name')!;
    const paxSize = record('size');
    if (paxSize !== undefined) {
      size = Number(paxSize);
      if (!Number.isSafeInteger(size) || size < 0) throw fail(`has an invalid pax size at byte ${offset - walk.start}`);
    }
    const linkname = record('linkpath') ?? longLink ?? headerLink;
    pax = undefined;
    longName = undefined;
    longLink = undefined;
    // Directories, links, devices and FIFOs carry no data here; hardlinks' size is 0.
    const hasData = type !== '1' && type !== '2' && type !== '3' && type !== '4' && type !== '5' && type !== '6';
    if (!hasData) size = 0;
    if (dataStart + size > end) throw fail(`ends inside ${name} (${size} bytes at byte ${dataStart - walk.start}; truncated?)`);
    const entry: TarEntry = { name, type, size, mode: Number.isFinite(mode) ? mode : 0, linkname, dataOffset: dataStart, offset };
    if (sparse) entry.sparse = true;
    yield { entry };
    offset = dataStart + padded(size);
  }
}
