import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { PalisadeError } from '../core/index.js';
import type { Cataloger, FileAnalysis, FileBytes, FileFacts, FileSink } from './catalog/types.js';
import { basename, dirname } from './catalog/types.js';
import { isRegularFile, readFully, tarEntries, WindowReader, type TarEntry } from './tar-headers.js';
import { walkTarStream } from './tar-stream-walk.js';
import type { FileRegion } from './region-digest.js';
import { inflateZstd } from './zstd.js';

/**
 * Reads one layer tar exactly once. Only files a cataloger asks for are held in memory (one at a
 * time, up to its cap); large binaries stream through sinks; everything else is skipped unread.
 * The result is plain JSON so it can be cached by diff ID and cataloger versions.
 */

export interface LayerLink {
  path: string;
  /** Symlink: the raw link text. Hardlink: the normalised path of the earlier entry. */
  target: string;
  hard: boolean;
}

export interface AnalyzedFile {
  path: string;
  cataloger: string;
  analysis: FileAnalysis;
}

export interface LayerAnalysis {
  diffId: string;
  files: AnalyzedFile[];
  /** Paths deleted from lower layers (`.wh.NAME`). */
  whiteouts: string[];
  /** Directories whose lower-layer contents are hidden (`.wh..wh..opq`). */
  opaqueDirs: string[];
  links: LayerLink[];
  warnings: string[];
  entries: number;
  /** Uncompressed size of the tar. */
  bytes: number;
}

export interface LayerLimits {
  /** Largest uncompressed layer accepted. */
  maxLayerBytes: number;
  /** Past `ratioCheckAfter` uncompressed bytes, uncompressed/compressed above this is treated as a decompression bomb. */
  maxCompressionRatio: number;
  ratioCheckAfter: number;
  /** Largest single file any cataloger may hold in memory. */
  maxFileBytes: number;
  /** Largest zstd window a layer may ask for; the decoder allocates it. */
  maxZstdWindowBytes: number;
}

export const DEFAULT_LIMITS: LayerLimits = {
  maxLayerBytes: 16 * 1024 ** 3,
  maxCompressionRatio: 200,
  ratioCheckAfter: 256 * 1024 ** 2,
  maxFileBytes: 256 * 1024 ** 2,
  maxZstdWindowBytes: 128 * 1024 ** 2,
};

export interface LayerProgress {
  compressedBytes: number;
  bytes: number;
  entries: number;
}

export interface AnalyzeLayerOptions {
  catalogers: readonly Cataloger[];
  /** Expected digest of the uncompressed tar; a mismatch fails the layer. '' when unknown: computed and reported. */
  diffId: string;
  limits?: Partial<LayerLimits>;
  onProgress?: (progress: LayerProgress) => void;
  what?: string;
  /**
   * The uncompressed tar's digest (hex), computed elsewhere from the same bytes (a worker reading
   * the archive), asked for once the layer has been read: the layer is then not hashed inline, and
   * this is checked against `diffId` at the end.
   */
  uncompressedDigest?: () => Promise<string>;
}

/** Normalises a tar member name to an image path; names climbing out with `..` give undefined. */
export function normalizeEntryPath(name: string): string | undefined {
  // Most names are already plain (`usr/bin/ls`): no leading `/` or `./`, no `//`, `.` or `..` step, no trailing `/`.
  if (name !== '' && name[0] !== '/' && name[0] !== '.' && !name.endsWith('/') && !name.includes('//') && !name.includes('/.')) return name;
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.includes('..')) return undefined;
  return parts.join('/');
}

type Compression = 'gzip' | 'zstd' | 'none';

export function detectCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** What analyzing a layer starts from, whichever way its bytes are read. */
function startAnalysis(options: AnalyzeLayerOptions) {
  const progress: LayerProgress = { compressedBytes: 0, bytes: 0, entries: 0 };
  let lastReport = 0;
  const what = options.what ?? `layer ${options.diffId}`;
  return {
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    what,
    /** The error for a layer that is not a well-formed tar, with why (the walk's `fail`). */
    fail: (why: string) => layerInvalid(what, new Error(why)),
    result: { diffId: options.diffId, files: [], whiteouts: [], opaqueDirs: [], links: [], warnings: [], entries: 0, bytes: 0 } as LayerAnalysis,
    progress,
    /** Progress at most every 100 ms. */
    report() {
      const now = Date.now();
      if (options.onProgress && now - lastReport > 100) {
        lastReport = now;
        options.onProgress({ ...progress });
      }
    },
  };
}

function diffIdMismatch(what: string, diffId: string, algorithm: string, actual: string): PalisadeError {
  return new PalisadeError('image.digest.mismatch', `${what}: uncompressed content ${algorithm}:${actual} does not match diff ID ${diffId}`, {
    kind: 'unprocessable',
    hint: 'the layer is corrupt, truncated or does not belong to this image config',
  });
}

/** A layer that cannot be read as a tar; an error already saying what went wrong passes as it is. */
function layerInvalid(what: string, error: unknown): PalisadeError {
  if (error instanceof PalisadeError) return error;
  return new PalisadeError('image.layer.invalid', `${what}: ${error instanceof Error ? error.message : String(error)}`, {
    kind: 'unprocessable',
    ...(error instanceof Error ? { cause: error } : {}),
    hint: 'the layer is truncated or not a tar archive',
  });
}

export async function analyzeLayer(input: Readable, options: AnalyzeLayerOptions): Promise<LayerAnalysis> {
  const { limits, what, fail, result, progress, report } = startAnalysis(options);

  const countCompressed = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      progress.compressedBytes += chunk.length;
      yield chunk;
    }
  };

  const [algorithm, expectedHex] = options.diffId ? options.diffId.split(':') : ['sha256', undefined];
  const elsewhere = expectedHex === undefined ? undefined : options.uncompressedDigest;
  const diffHash = elsewhere ? undefined : createHash(algorithm === 'sha512' ? 'sha512' : 'sha256');
  const checkDiffId = (actual: string) => {
    if (expectedHex === undefined) result.diffId = `${algorithm}:${actual}`;
    else if (actual !== expectedHex) throw diffIdMismatch(what, options.diffId, algorithm!, actual);
  };
  const checkUncompressed = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      progress.bytes += chunk.length;
      checkExpansion(progress, limits, what);
      diffHash?.update(chunk);
      report();
      yield chunk;
    }
    if (diffHash) checkDiffId(diffHash.digest('hex'));
  };

  const walkEntries = (source: AsyncIterable<Buffer>) => walkTarStream(source, { fail, maxEntries: MAX_LAYER_ENTRIES }, async (entry, body) => {
    await handleEntry(entry, body, options.catalogers, limits, result);
    result.entries++;
    progress.entries++;
  });

  try {
    await pipeline(input, countCompressed, (source: AsyncIterable<Buffer>) => decompress(source, limits, what), checkUncompressed, walkEntries);
  } catch (error) {
    throw layerInvalid(what, error);
  }
  if (elsewhere) checkDiffId(await elsewhere());
  result.bytes = progress.bytes;
  options.onProgress?.({ ...progress });
  return result;
}

/**
 * A large uncompressed layer lying in a plain file (a `docker save` archive's layer.tar), read in
 * place: its headers are walked by seeking, and only the files a cataloger asks for are read.
 * The bytes nobody reads are still checked: `uncompressedDigest` (required here) hashes the whole
 * region on another thread, and a mismatch with the diff ID fails the layer as in analyzeLayer.
 * Streamed, the main thread reads and splits every byte (most of a first scan's time and
 * its garbage); here it reads the headers and the few wanted files.
 */
export async function analyzeLayerInPlace(region: FileRegion, options: AnalyzeLayerOptions & { uncompressedDigest: () => Promise<string> }): Promise<LayerAnalysis> {
  const { limits, what, fail, result, progress, report } = startAnalysis(options);
  const fd = region.handle.fd;
  progress.compressedBytes = region.size;
  checkExpansion({ ...progress, bytes: region.size }, limits, what);
  const entries = tarEntries(new WindowReader(fd), { start: region.offset, end: region.offset + region.size, fail, maxEntries: MAX_LAYER_ENTRIES });
  try {
    for (const entry of entries) {
      await handleEntry(entry, regionBody(fd, entry.dataOffset, entry.size), options.catalogers, limits, result);
      result.entries++;
      progress.entries++;
      progress.bytes = entry.dataOffset + entry.size - region.offset;
      report();
    }
  } catch (error) {
    throw layerInvalid(what, error);
  }
  const [algorithm, expectedHex] = options.diffId.split(':');
  const actual = await options.uncompressedDigest();
  if (actual !== expectedHex) throw diffIdMismatch(what, options.diffId, algorithm!, actual);
  result.bytes = progress.bytes = region.size;
  options.onProgress?.({ ...progress });
  return result;
}

/** Entries in one layer: far beyond any real image, and a bound on the work a crafted one can ask for. */
const MAX_LAYER_ENTRIES = 4_000_000;
/** Pieces in which a wanted file is read (a sink's large binary is never held whole). */
const PIECE = 1024 * 1024;

/** What handleEntry does with an entry. */
type EntryKind = 'file' | 'sparse-file' | 'link' | 'symlink' | 'other';

function kindOf(entry: TarEntry): EntryKind {
  if (entry.sparse) return 'sparse-file';
  if (!isRegularFile(entry.type)) return entry.type === '1' ? 'link' : entry.type === '2' ? 'symlink' : 'other';
  // A v7 header's regular file whose name ends in `/` is a directory, as GNU tar reads it.
  return entry.type !== '7' && entry.name.endsWith('/') ? 'other' : 'file';
}

/**
 * An entry's data read from the file at its offset, in fresh pieces (catalogers may keep them);
 * nothing to skip. Catalogers that can inspect by position read only the parts they need.
 */
function regionBody(fd: number, offset: number, size: number): EntryBody {
  const bytes: FileBytes = {
    length: size,
    slice(start, end) {
      if (start < 0 || end > size || start > end) throw new RangeError('outside the file');
      let part: Buffer;
      try {
        part = readFully(fd, Buffer.allocUnsafe(end - start), offset + start);
      } catch (error) {
        throw new EntryReadError(`cannot read the layer at byte ${offset + start}: ${(error as Error).message}`);
      }
      if (part.length < end - start) throw new EntryReadError(`the file ended inside an entry at byte ${offset + start + part.length}`);
      return part;
    },
  };
  return {
    bytes,
    *chunks() {
      for (let at = 0; at < size; at += PIECE) yield bytes.slice(at, Math.min(size, at + PIECE));
    },
    skip() {},
  };
}

/** The size and expansion limits, checked on every inflated chunk. */
function checkExpansion(progress: LayerProgress, limits: LayerLimits, what: string): void {
  if (progress.bytes > limits.maxLayerBytes) {
    throw new PalisadeError('image.layer.too-large', `${what}: more than ${limits.maxLayerBytes} bytes uncompressed`, { kind: 'too-large', hint: 'raise the layer size limit if this image is trusted' });
  }
  if (progress.bytes > limits.ratioCheckAfter && progress.compressedBytes > 0 && progress.bytes / progress.compressedBytes > limits.maxCompressionRatio) {
    throw new PalisadeError('image.layer.bomb', `${what}: expands more than ${limits.maxCompressionRatio}× (decompression bomb?)`, {
      kind: 'unprocessable',
      hint: 'the layer was rejected to keep the scanner bounded',
    });
  }
}

/** Inflates gzip, zstd or nothing (by magic bytes) under the layer limits, for streams that are not layers (compressed archives). */
export async function* inflateBounded(source: AsyncIterable<Buffer>, what: string, overrides: Partial<LayerLimits> = {}): AsyncGenerator<Buffer> {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  const progress: LayerProgress = { compressedBytes: 0, bytes: 0, entries: 0 };
  const counted = async function* () {
    for await (const chunk of source) {
      progress.compressedBytes += chunk.length;
      yield chunk;
    }
  };
  for await (const chunk of decompress(counted(), limits, what)) {
    progress.bytes += chunk.length;
    checkExpansion(progress, limits, what);
    yield chunk;
  }
}

/**
 * Inflates by magic bytes: zlib runs on the libuv pool, so several layers inflate in parallel. Both
 * codecs hand on bounded pieces and wait for the next stage, so the limits checked there hold while
 * inflating, not after.
 */
async function* decompress(source: AsyncIterable<Buffer>, limits: LayerLimits, what: string): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  let first = await iterator.next();
  while (!first.done && first.value.length < 4) {
    const more = await iterator.next();
    if (more.done) break;
    first = { done: false, value: Buffer.concat([first.value, more.value]) };
  }
  if (first.done) return;
  const kind = detectCompression(first.value);
  const rest = async function* () {
    yield first.value;
    for (let step = await iterator.next(); !step.done; step = await iterator.next()) yield step.value;
  };
  if (kind === 'none') {
    yield* rest();
    return;
  }
  if (kind === 'zstd') {
    yield* inflateZstd(rest(), { maxWindowBytes: limits.maxZstdWindowBytes, what });
    return;
  }
  // 1 MiB pieces: every piece is a round trip between the libuv pool and the main thread (callback,
  // push, the next write), and on a 209 MiB oci-archive four times fewer cut a whole scan from 1.13 to
  // 1.03 s (same run, alternating); the limits are checked per piece, so they overshoot by 1 MiB at most.
  const gunzip = createGunzip({ chunkSize: 1024 * 1024 });
  // If a later stage fails, nobody drains gunzip any more: the abort releases the feeder.
  const stop = new AbortController();
  const feeding = (async () => {
    try {
      for await (const chunk of rest()) {
        if (stop.signal.aborted) return;
        if (!gunzip.write(chunk)) await once(gunzip, 'drain', { signal: stop.signal });
      }
      gunzip.end();
    } catch (error) {
      if (!stop.signal.aborted) gunzip.destroy(error as Error);
    }
  })();
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } finally {
    stop.abort();
    gunzip.destroy();
    await feeding;
  }
}

/**
 * The layer itself could not be read where a cataloger asked (a short file, an I/O error): that
 * fails the layer, as a failed stream does, and is never a cataloger's warning about one file.
 */
class EntryReadError extends Error {}

/** An entry's data: read only when a cataloger wants it, else skipped (in a stream, drained). */
interface EntryBody {
  chunks(): AsyncIterable<Buffer> | Iterable<Buffer>;
  skip(): Promise<void> | void;
  /** Where the data can be read by position (a layer read in place). */
  bytes?: FileBytes;
}

async function handleEntry(entry: TarEntry, body: EntryBody, catalogers: readonly Cataloger[], limits: LayerLimits, result: LayerAnalysis): Promise<void> {
  const path = normalizeEntryPath(entry.name);
  if (!path) {
    if (entry.name.split('/').includes('..')) result.warnings.push(`skipped entry climbing out of the image: ${entry.name}`);
    return body.skip();
  }
  const base = basename(path);
  if (base.startsWith('.wh.')) {
    const dir = dirname(path);
    if (base === '.wh..wh..opq') result.opaqueDirs.push(dir);
    else {
      const hidden = base.slice(4);
      if (hidden && hidden !== '.' && hidden !== '..' && !hidden.startsWith('.wh.')) result.whiteouts.push(dir ? `${dir}/${hidden}` : hidden);
    }
    return body.skip();
  }
  const kind = kindOf(entry);
  if (kind === 'symlink') {
    if (entry.linkname) result.links.push({ path, target: entry.linkname, hard: false });
    return body.skip();
  }
  if (kind === 'link') {
    const target = entry.linkname ? normalizeEntryPath(entry.linkname) : undefined;
    if (target) result.links.push({ path, target, hard: true });
    else if (entry.linkname) result.warnings.push(`skipped hardlink climbing out of the image: ${path} → ${entry.linkname}`);
    return body.skip();
  }
  if (kind === 'sparse-file') {
    // Its data is the parts that are not holes (behind a map, in pax 1.0): read, it would be wrong.
    result.warnings.push(`skipped ${path}: stored as a GNU sparse file, whose holes are not expanded`);
    return body.skip();
  }
  if (kind !== 'file') return body.skip();

  const facts: FileFacts = { path, size: entry.size, mode: entry.mode };
  const readers: Cataloger[] = [];
  const sinks: FileSink[] = [];
  // Streaming catalogers answer after the file, in catalogers' order: from their sink, or by
  // position where the body allows it (a layer read in place), which reads only what they need.
  const streamers: Array<{ cataloger: Cataloger; answer: () => FileAnalysis | undefined }> = [];
  for (const cataloger of catalogers) {
    if (cataloger.wants?.(facts)) {
      const cap = Math.min(cataloger.maxBytes ?? limits.maxFileBytes, limits.maxFileBytes);
      if (facts.size > cap) result.warnings.push(`${cataloger.name}: skipped ${path} (${facts.size} bytes, over the ${cap} byte limit)`);
      else readers.push(cataloger);
    } else if (cataloger.streams?.(facts)) {
      const { inspect, sink: makeSink } = cataloger;
      const bytes = body.bytes;
      if (bytes && inspect) streamers.push({ cataloger, answer: () => inspect(facts, bytes) });
      else if (makeSink) {
        const sink = makeSink(facts);
        sinks.push(sink);
        streamers.push({ cataloger, answer: () => sink.end() });
      }
    }
  }
  // One buffer of the header's size, filled in place: holding chunks and then concatenating them
  // would hold a large file twice. A lying header cannot grow memory past it.
  const whole = readers.length ? Buffer.allocUnsafe(facts.size) : undefined;
  let held = 0;
  if (!whole && sinks.length === 0) await body.skip(); // nobody reads the stream (catalogers by position need not)
  else {
    for await (const chunk of body.chunks()) {
      if (whole) {
        if (held + chunk.length > facts.size) throw new Error(`entry ${path} is longer than its header says`);
        chunk.copy(whole, held);
        held += chunk.length;
      }
      for (const sink of sinks) sink.write(chunk);
    }
  }
  const content = whole ? whole.subarray(0, held) : Buffer.alloc(0);
  for (const cataloger of readers) {
    try {
      const analysis = await cataloger.analyze!({ ...facts, content });
      result.files.push({ path, cataloger: cataloger.name, analysis: analysis ?? {} });
    } catch (error) {
      result.warnings.push(`${cataloger.name}: cannot read ${path}: ${(error as Error).message}`);
    }
  }
  for (const { cataloger, answer } of streamers) {
    try {
      const analysis = answer();
      // A streaming cataloger answers undefined for files it does not recognise (most executables are not Go).
      if (analysis) result.files.push({ path, cataloger: cataloger.name, analysis });
    } catch (error) {
      if (error instanceof EntryReadError) throw error;
      result.warnings.push(`${cataloger.name}: cannot read ${path}: ${(error as Error).message}`);
    }
  }
}
