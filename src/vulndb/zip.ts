/**
 * Reading OSV zip archives (osv.dev's all.zip holds one small JSON file per record, often
 * hundreds of thousands). yauzl parses the archive structure (central directory, zip64, local
 * headers) over a block-cached reader; each entry is then inflated synchronously from the
 * cache, because a zlib stream and several fs reads per 1 KB entry cost more than the entry.
 * Memory stays bounded by a few 1 MiB blocks (plus an entry larger than a block), never the archive.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { crc32, inflateRawSync } from 'node:zlib';
import yauzl from 'yauzl';

const BLOCK = 1 << 20;
/** yauzl alternates between the central directory (at the end) and entry data (from the start): keep a few blocks. */
const SLOTS = 4;

class BlockCacheReader extends yauzl.RandomAccessReader {
  private readonly blocks: Array<{ start: number; data: Buffer }> = [];

  constructor(private readonly fd: number, readonly size: number) {
    super();
  }

  private blockAt(at: number): { start: number; data: Buffer } {
    const start = at - (at % BLOCK);
    const index = this.blocks.findIndex((b) => b.start === start);
    if (index >= 0) {
      const hit = this.blocks[index]!;
      if (index > 0) this.blocks.unshift(...this.blocks.splice(index, 1));
      return hit;
    }
    const buf = Buffer.allocUnsafe(Math.min(BLOCK, this.size - start));
    const n = readSync(this.fd, buf, 0, buf.length, start);
    const block = { start, data: buf.subarray(0, n) };
    this.blocks.unshift(block);
    if (this.blocks.length > SLOTS) this.blocks.pop();
    return block;
  }

  /** Copies [position, position + length) into `target` synchronously; returns the bytes copied. */
  copy(target: Buffer, offset: number, length: number, position: number): number {
    const end = Math.min(position + length, this.size);
    if (end - position > BLOCK) return readSync(this.fd, target, offset, end - position, position);
    let copied = 0;
    while (position + copied < end) {
      const at = position + copied;
      const block = this.blockAt(at);
      const from = at - block.start;
      if (from >= block.data.length) break;
      copied += block.data.copy(target, offset + copied, from, Math.min(block.data.length, from + (end - at)));
    }
    return copied;
  }

  slice(position: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    const n = this.copy(out, 0, length, position);
    return out.subarray(0, n);
  }

  // yauzl calls back with (err, bytesRead); its type definitions (2.10) omit the second argument.
  override read(buffer: Buffer, offset: number, length: number, position: number, done: (err: Error | null) => void): void {
    const callback = done as (err: Error | null, bytesRead?: number) => void;
    let n: number;
    try {
      n = this.copy(buffer, offset, length, position);
    } catch (error) {
      queueMicrotask(() => callback(error as Error));
      return;
    }
    queueMicrotask(() => callback(null, n));
  }

  override _readStreamForRange(start: number, end: number): PassThrough {
    const stream = new PassThrough();
    try {
      stream.end(this.slice(start, end - start));
    } catch (error) {
      queueMicrotask(() => stream.destroy(error as Error));
    }
    return stream;
  }

  override close(callback: (err: Error | null) => void): void {
    try {
      closeSync(this.fd);
      queueMicrotask(() => callback(null));
    } catch (error) {
      queueMicrotask(() => callback(error as Error));
    }
  }
}

interface ZipFileWithHeaders extends yauzl.ZipFile {
  readLocalFileHeader(entry: yauzl.Entry, options: { minimal: true }, callback: (err: Error | null, header?: { fileDataStart: number }) => void): void;
}

export interface ZipTextEntry {
  name: string;
  text: string;
}

function openArchive(reader: BlockCacheReader): Promise<ZipFileWithHeaders> {
  return new Promise((resolve, reject) =>
    yauzl.fromRandomAccessReader(reader, reader.size, { lazyEntries: true, autoClose: false, validateEntrySizes: true }, (error, zip) =>
      error ? reject(error) : resolve(zip as ZipFileWithHeaders),
    ),
  );
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise((resolve, reject) => {
    const onEntry = (entry: yauzl.Entry): void => done(() => resolve(entry));
    const onEnd = (): void => done(() => resolve(undefined));
    const onError = (error: Error): void => done(() => reject(error));
    const done = (then: () => void): void => {
      zip.off('entry', onEntry).off('end', onEnd).off('error', onError);
      then();
    };
    zip.on('entry', onEntry).on('end', onEnd).on('error', onError);
    zip.readEntry();
  });
}

function fileDataStart(zip: ZipFileWithHeaders, entry: yauzl.Entry): Promise<number> {
  return new Promise((resolve, reject) =>
    zip.readLocalFileHeader(entry, { minimal: true }, (error, header) => (error || !header ? reject(error ?? new Error('no local header')) : resolve(header.fileDataStart))),
  );
}

function decode(reader: BlockCacheReader, entry: yauzl.Entry, start: number): Buffer {
  if (entry.isEncrypted()) throw new Error(`${entry.fileName} is encrypted`);
  const raw = reader.slice(start, entry.compressedSize);
  if (raw.length !== entry.compressedSize) throw new Error(`${entry.fileName} is truncated`);
  let data: Buffer;
  if (entry.compressionMethod === 0) data = raw;
  else if (entry.compressionMethod === 8) data = inflateRawSync(raw);
  else throw new Error(`${entry.fileName} uses unsupported compression method ${entry.compressionMethod}`);
  if (data.length !== entry.uncompressedSize) throw new Error(`${entry.fileName}: size ${data.length} != ${entry.uncompressedSize}`);
  if (crc32(data) >>> 0 !== entry.crc32 >>> 0) throw new Error(`${entry.fileName}: CRC mismatch`);
  return data;
}

/**
 * The entries of a zip archive whose names satisfy `want`, as text, in archive order.
 * Throws on an archive that cannot be opened or is corrupt (after yielding what was readable).
 */
export async function* readZipText(file: string, want: (name: string) => boolean, progress?: (done: number, total: number) => void): AsyncGenerator<ZipTextEntry> {
  const fd = openSync(file, 'r');
  const reader = new BlockCacheReader(fd, fstatSync(fd).size);
  let zip: ZipFileWithHeaders;
  try {
    zip = await openArchive(reader);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  let done = 0;
  try {
    for (;;) {
      const entry = await nextEntry(zip);
      if (!entry) break;
      done++;
      if (entry.fileName.endsWith('/') || !want(entry.fileName)) continue;
      const data = decode(reader, entry, await fileDataStart(zip, entry));
      progress?.(done, zip.entryCount);
      yield { name: entry.fileName, text: data.toString('utf8') };
    }
  } catch (error) {
    (error as Error & { entriesRead?: number }).entriesRead = done;
    throw error;
  } finally {
    zip.close();
  }
}
