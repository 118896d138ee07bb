/**
 * The advisory database file: a compact, read-only, versioned file of validated OSV records indexed
 * by (ecosystem, package key), as Trivy's and Grype's databases are. `db update`/`db import` build it,
 * matching reads it in process, and a one-shot scan opens no database at all.
 *
 * Why this format and not an embedded key-value store: the file is written once and only read
 * after, lookups are by exact key, and it must run on Node 20 with no native build. So it is a
 * sorted index plus records in deflated blocks, read by position (`pread`): opening reads only the
 * index (a few MB for all of osv.dev), and a scan inflates just the blocks holding its packages'
 * advisories, so memory does not grow with the database. Records are laid out in key order, so a
 * package's advisories mostly sit in one block.
 *
 * Layout (integers are unsigned 32-bit little-endian):
 *   MAGIC (8 bytes)
 *   blocks: deflate-raw'd concatenations of record JSON texts (about BLOCK_BYTES each, uncompressed)
 *   block table:  per block   (file offset, compressed length)
 *   record table: per record  (block, start, length) in the block's inflated bytes
 *   key table:    per key     (string offset, string length, first posting, posting count), sorted by key bytes
 *   key strings:  `ecosystem \0 key` in UTF-8
 *   postings:     record numbers
 *   header JSON:  format, version, generation, builtAt, status, section offsets
 *   trailer:      header offset, header length, MAGIC
 * The version is a hash of everything before the header and of the recorded status: the same content has the same version.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { endianness } from 'node:os';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { PalisadeError } from '../core/index.js';
import { withCandidates, type AdvisoryLookup } from './match.js';
import type { OsvRecord } from './osv.js';
import { BoundedCache } from './versions/memo.js';

const MAGIC = Buffer.from('PALVDB01', 'latin1');
const FORMAT = 1;
const TRAILER_BYTES = 16;
/** Uncompressed bytes per block: big enough to compress well (~6x on OSV JSON), small enough to inflate in ~0.1 ms. */
const BLOCK_BYTES = 64 * 1024;
const FILE_LIMIT = 2 ** 32 - 1;

if (endianness() !== 'LE') throw new Error('the advisory database file is read through little-endian typed arrays');

/** `db status` as recorded when the file was built (dates as ISO strings in the file). */
export interface AdvisoryFileStatus {
  advisories: number;
  ecosystems: Array<{ ecosystem: string; advisories: number; newestModified?: string; lastUpdate?: string; lastUpdateSource?: string }>;
  lastImport?: { id: string; source: string; status: string; startedAt: string; finishedAt?: string; added: number; changed: number; warnings: number };
}

export interface AdvisoryFileHeader {
  format: number;
  /** Content hash: names this version everywhere (the store's blob, the workers' cached copies). */
  version: string;
  /** The store generation it was built from (palisade_meta `vulndb.generation`). */
  generation: string;
  builtAt: string;
  status: AdvisoryFileStatus;
  records: number;
  keys: number;
  blocks: number;
  sections: { blockTable: number; recordTable: number; keyTable: number; keyStrings: number; keyStringsBytes: number; postings: number };
}

/** What the builder needs about each record: its id, its JSON text, and the index keys it is listed under. */
export interface FileRecord {
  id: string;
  json: string;
}

/**
 * Builds a file in two passes, so a whole osv.dev database never sits in memory as records: first
 * every (ecosystem, key, record id) posting, then the records' JSON in the order `recordOrder()` gives.
 */
export class AdvisoryFileBuilder {
  private readonly postings = new Map<string, string[]>();
  private order: string[] | undefined;

  /** Lists record `id` under (ecosystem without release, package key). */
  addPosting(ecosystem: string, key: string, id: string): void {
    const k = `${ecosystem}\u0000${key}`;
    const list = this.postings.get(k);
    if (list) list.push(id);
    else this.postings.set(k, [id]);
  }

  private sortedKeys(): Array<{ key: string; bytes: Buffer; ids: string[] }> {
    return [...this.postings].map(([key, ids]) => ({ key, bytes: Buffer.from(key, 'utf8'), ids: [...new Set(ids)].sort() })).sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  }

  /** Record ids in the order the records must be given to `write` (by their first key, then id). */
  recordOrder(): string[] {
    if (!this.order) {
      const seen = new Set<string>();
      for (const { ids } of this.sortedKeys()) for (const id of ids) seen.add(id);
      this.order = [...seen];
    }
    return this.order;
  }

  /**
   * Writes the file atomically (a temporary file renamed over `file`). `records` yields every id of
   * `recordOrder()`, in that order.
   */
  async write(file: string, records: AsyncIterable<FileRecord> | Iterable<FileRecord>, meta: { generation: string; builtAt: Date; status: AdvisoryFileStatus }): Promise<AdvisoryFileHeader> {
    const order = this.recordOrder();
    const numberOf = new Map(order.map((id, i) => [id, i]));
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    const out = await open(tmp, 'w');
    const hash = createHash('sha256');
    let offset = 0;
    const append = async (bytes: Uint8Array): Promise<void> => {
      if (offset + bytes.length > FILE_LIMIT) {
        throw new PalisadeError('vulndb.file.too_large', 'the advisory database file would exceed 4 GiB', { kind: 'internal', hint: 'update fewer ecosystems (--ecosystem)' });
      }
      hash.update(bytes);
      await out.write(bytes, 0, bytes.length, offset);
      offset += bytes.length;
    };
    try {
      await append(MAGIC);
      const blockTable: number[] = [];
      const recordTable = new Uint32Array(order.length * 3);
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flushBlock = async (): Promise<void> => {
        if (pendingBytes === 0) return;
        const compressed = deflateRawSync(Buffer.concat(pending, pendingBytes));
        blockTable.push(offset, compressed.length);
        await append(compressed);
        pending = [];
        pendingBytes = 0;
      };
      let expected = 0;
      for await (const record of records) {
        if (order[expected] !== record.id) {
          throw new Error(`advisory file: record ${record.id} given out of order (expected ${order[expected] ?? 'no more'})`);
        }
        const bytes = Buffer.from(record.json, 'utf8');
        const n = expected++;
        recordTable[n * 3] = blockTable.length / 2;
        recordTable[n * 3 + 1] = pendingBytes;
        recordTable[n * 3 + 2] = bytes.length;
        pending.push(bytes);
        pendingBytes += bytes.length;
        if (pendingBytes >= BLOCK_BYTES) await flushBlock();
      }
      if (expected !== order.length) throw new Error(`advisory file: ${order.length - expected} record(s) missing (first ${order[expected]})`);
      await flushBlock();

      const keys = this.sortedKeys();
      const keyTable = new Uint32Array(keys.length * 4);
      const strings = Buffer.concat(keys.map((k) => k.bytes));
      const postings = new Uint32Array(keys.reduce((n, k) => n + k.ids.length, 0));
      let stringAt = 0;
      let postingAt = 0;
      keys.forEach((k, i) => {
        keyTable.set([stringAt, k.bytes.length, postingAt, k.ids.length], i * 4);
        for (const id of k.ids) postings[postingAt++] = numberOf.get(id)!;
        stringAt += k.bytes.length;
      });
      const bytesOf = (a: Uint32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      const sections = { blockTable: 0, recordTable: 0, keyTable: 0, keyStrings: 0, keyStringsBytes: strings.length, postings: 0 };
      sections.blockTable = offset;
      await append(bytesOf(Uint32Array.from(blockTable)));
      sections.recordTable = offset;
      await append(bytesOf(recordTable));
      sections.keyTable = offset;
      await append(bytesOf(keyTable));
      sections.keyStrings = offset;
      await append(strings);
      // Postings are read as a Uint32Array: keep them 4-byte aligned.
      if (offset % 4) await append(new Uint8Array(4 - (offset % 4)));
      sections.postings = offset;
      await append(bytesOf(postings));

      // The version names the records and the status recorded with them (not the build time).
      hash.update(JSON.stringify({ generation: meta.generation, status: meta.status }));
      const header: AdvisoryFileHeader = {
        format: FORMAT,
        version: hash.digest('hex').slice(0, 24),
        generation: meta.generation,
        builtAt: meta.builtAt.toISOString(),
        status: meta.status,
        records: order.length,
        keys: keys.length,
        blocks: blockTable.length / 2,
        sections,
      };
      const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
      const headerAt = offset;
      const trailer = Buffer.alloc(TRAILER_BYTES);
      trailer.writeUInt32LE(headerAt, 0);
      trailer.writeUInt32LE(headerBytes.length, 4);
      MAGIC.copy(trailer, 8);
      await out.write(headerBytes, 0, headerBytes.length, headerAt);
      await out.write(trailer, 0, TRAILER_BYTES, headerAt + headerBytes.length);
      await out.sync();
      await out.close();
      await rename(tmp, file);
      return header;
    } catch (error) {
      await out.close().catch(() => {});
      await rm(tmp, { force: true });
      throw error;
    }
  }
}

function corrupt(file: string, why: string): PalisadeError {
  return new PalisadeError('vulndb.file.corrupt', `${file} is not a readable Palisade advisory database: ${why}`, {
    kind: 'unavailable',
    field: 'file',
    hint: 'run `palisade db update` (or `db import`) to build it again',
  });
}

/**
 * Parsed records kept per open file, up to this count; then the cache starts afresh. Lists per key
 * are not kept here: the matcher keeps its compiled candidates per key (withCandidates).
 */
const RECORD_CACHE = 50_000;
const BLOCK_CACHE = 64;

/**
 * An open advisory database file. Opening reads the header and the index; records are read by
 * position and parsed on first lookup of a key that lists them, then shared by every key (so the
 * matcher's per-record caches apply across packages).
 */
/**
 * Files replaced by a newer version are not closed by whoever replaced them: a scan that took the
 * file before the swap may still be matching with it. Their descriptor closes once nothing holds
 * the file any more (collected); close() is for owners that know they are the only user.
 */
const unclosed = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
});

export class AdvisoryFile {
  readonly header: AdvisoryFileHeader;
  private fd: number | undefined;
  private readonly blockTable: Uint32Array;
  private readonly recordTable: Uint32Array;
  private readonly keyTable: Uint32Array;
  private readonly keyStrings: Buffer;
  private readonly postings: Uint32Array;
  private readonly records = new BoundedCache<number, OsvRecord>(RECORD_CACHE);
  private readonly blocks = new Map<number, Buffer>();
  /** Matching results valid for this file's records (see AdvisoryLookup.memo). */
  readonly memo = new Map<string, unknown>();

  private constructor(readonly path: string, fd: number) {
    this.fd = fd;
    const size = fstatSync(fd).size;
    if (size < MAGIC.length + TRAILER_BYTES) throw corrupt(path, 'too short');
    const trailer = this.read(size - TRAILER_BYTES, TRAILER_BYTES);
    if (!trailer.subarray(8).equals(MAGIC) || !this.read(0, MAGIC.length).equals(MAGIC)) throw corrupt(path, 'no Palisade advisory database signature (or a newer format)');
    const headerAt = trailer.readUInt32LE(0);
    const headerLength = trailer.readUInt32LE(4);
    if (headerAt + headerLength + TRAILER_BYTES !== size) throw corrupt(path, 'truncated');
    try {
      this.header = JSON.parse(this.read(headerAt, headerLength).toString('utf8')) as AdvisoryFileHeader;
    } catch (error) {
      throw corrupt(path, `header: ${(error as Error).message}`);
    }
    const h = this.header;
    if (h.format !== FORMAT) throw corrupt(path, `format ${h.format}, this Palisade reads ${FORMAT}`);
    const s = h.sections;
    this.blockTable = this.readWords(s.blockTable, h.blocks * 2);
    this.recordTable = this.readWords(s.recordTable, h.records * 3);
    this.keyTable = this.readWords(s.keyTable, h.keys * 4);
    this.keyStrings = this.read(s.keyStrings, s.keyStringsBytes);
    this.postings = this.readWords(s.postings, (headerAt - s.postings) / 4);
  }

  /** Opens `file`; throws `vulndb.file.corrupt` when it is not a whole advisory database file of this format. */
  static open(file: string): AdvisoryFile {
    const fd = openSync(file, 'r');
    try {
      const opened = new AdvisoryFile(file, fd);
      unclosed.register(opened, fd, opened);
      return opened;
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  get version(): string {
    return this.header.version;
  }

  private read(position: number, length: number): Buffer {
    if (this.fd === undefined) throw new Error(`${this.path} is closed`);
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buffer, done, length - done, position + done);
      if (n === 0) throw corrupt(this.path, 'truncated');
      done += n;
    }
    return buffer;
  }

  private readWords(position: number, count: number): Uint32Array {
    if (!Number.isInteger(count) || count < 0) throw corrupt(this.path, 'bad section size');
    // Copied into their own aligned buffer, so the view works whatever the section's offset.
    const bytes = this.read(position, count * 4);
    const words = new Uint32Array(count);
    new Uint8Array(words.buffer).set(bytes);
    return words;
  }

  /** Binary search over the sorted key table: the key's index, or -1. */
  private findKey(target: Buffer): number {
    let lo = 0;
    let hi = this.header.keys - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.keyTable[mid * 4]!;
      const c = target.compare(this.keyStrings, at, at + this.keyTable[mid * 4 + 1]!);
      if (c === 0) return mid;
      if (c > 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private block(n: number): Buffer {
    let block = this.blocks.get(n);
    if (!block) {
      block = inflateRawSync(this.read(this.blockTable[n * 2]!, this.blockTable[n * 2 + 1]!));
      if (this.blocks.size >= BLOCK_CACHE) this.blocks.delete(this.blocks.keys().next().value!);
      this.blocks.set(n, block);
    }
    return block;
  }

  private readonly parseRecord = (n: number): OsvRecord => {
    const block = this.block(this.recordTable[n * 3]!);
    const start = this.recordTable[n * 3 + 1]!;
    return JSON.parse(block.toString('utf8', start, start + this.recordTable[n * 3 + 2]!)) as OsvRecord;
  };

  private record(n: number): OsvRecord {
    return this.records.get(n, this.parseRecord);
  }

  /** Candidate records for (ecosystem without release, package key). */
  find(ecosystem: string, key: string): readonly OsvRecord[] {
    const i = this.findKey(Buffer.from(`${ecosystem}\u0000${key}`, 'utf8'));
    const list: OsvRecord[] = [];
    if (i >= 0) {
      const first = this.keyTable[i * 4 + 2]!;
      const count = this.keyTable[i * 4 + 3]!;
      for (let p = first; p < first + count; p++) list.push(this.record(this.postings[p]!));
    }
    return list;
  }

  /**
   * Entry `i` of the sorted key table, for walking two versions side by side (diff.ts): its key
   * bytes (`ecosystem \0 key`) and the raw JSON bytes of the records it lists, in posting order,
   * read only when asked. Records are not parsed; blocks are inflated through the same small cache as lookups.
   */
  keyEntry(i: number): { key: Buffer; records: () => Buffer[] } {
    const at = this.keyTable[i * 4]!;
    const key = this.keyStrings.subarray(at, at + this.keyTable[i * 4 + 1]!);
    const records = (): Buffer[] => {
      const first = this.keyTable[i * 4 + 2]!;
      const count = this.keyTable[i * 4 + 3]!;
      const out: Buffer[] = [];
      for (let p = first; p < first + count; p++) {
        const n = this.postings[p]!;
        const start = this.recordTable[n * 3 + 1]!;
        out.push(this.block(this.recordTable[n * 3]!).subarray(start, start + this.recordTable[n * 3 + 2]!));
      }
      return out;
    };
    return { key, records };
  }

  /** A lookup for the matcher: compiled candidates per key, and this file's result memo. */
  readonly lookup: AdvisoryLookup = withCandidates((ecosystem, key) => this.find(ecosystem, key), this.memo);

  close(): void {
    unclosed.unregister(this);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
