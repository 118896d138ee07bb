import { Decompress } from 'fzstd';
import { PalisadeError } from '../core/index.js';

/**
 * Streaming zstd inflation with bounded memory. fzstd decodes synchronously and hands over every
 * block of a pushed chunk at once: a 1 MiB chunk of RLE blocks (4 bytes each for 128 KiB of zeros)
 * would become 32 GiB before the caller could look at it. So the frame and block headers
 * (RFC 8878 §3.1) are read here first, and fzstd is fed whole blocks, at most `BATCH_OUTPUT` bytes
 * of output at a time; the caller's backpressure then holds between batches. Frame headers are
 * checked before fzstd allocates its window, which it sizes from the header (up to 2 GiB).
 */

/** Largest output one push to fzstd may produce. */
const BATCH_OUTPUT = 8 * 1024 * 1024;
/** RFC 8878 §3.1.1.2: no block decompresses to more than this. */
const BLOCK_MAX = 128 * 1024;
const ZSTD_MAGIC = 0xfd2fb528;

export interface ZstdOptions {
  /** Largest window a frame may ask for (zstd's own default decompression limit is 128 MiB, windowLog 27). */
  maxWindowBytes: number;
  what: string;
}

/** fzstd 0.1.1 keeps each pushed chunk in `c` while nothing is pending (`l` = 0); cleared after each push. */
interface FzstdInternals {
  c: Uint8Array[];
  l: number;
}

type State = { at: 'frame' } | { at: 'skip'; remaining: number } | { at: 'block'; blockMax: number; checksum: boolean } | { at: 'checksum' };

export async function* inflateZstd(source: AsyncIterable<Buffer>, options: ZstdOptions): AsyncGenerator<Buffer> {
  const corrupt = (why: string) =>
    new PalisadeError('image.layer.invalid', `${options.what}: zstd stream ${why}`, { kind: 'unprocessable', hint: 'the layer is truncated or corrupt' });
  const out: Buffer[] = [];
  const decoder = new Decompress((data) => {
    if (data.length) out.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
  const internals = decoder as unknown as FzstdInternals;
  const push = (data: Uint8Array, final = false) => {
    try {
      decoder.push(data, final);
    } catch (error) {
      throw corrupt(`cannot be decoded: ${(error as Error).message}`);
    }
    if (internals.l === 0) internals.c = [];
  };

  let buf: Buffer = Buffer.alloc(0);
  let pos = 0;
  let state: State = { at: 'frame' };
  let batch: Buffer[] = [];
  let batchOutput = 0;
  const take = (n: number) => {
    batch.push(buf.subarray(pos, pos + n));
    pos += n;
  };
  const flush = function* () {
    if (batch.length === 0) return;
    const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
    batch = [];
    batchOutput = 0;
    push(data);
    while (out.length) yield out.shift()!;
  };

  for await (const chunk of source) {
    // What is left of the previous chunk is less than one block, so this copy stays small.
    buf = pos < buf.length ? Buffer.concat([buf.subarray(pos), chunk]) : chunk;
    pos = 0;
    for (;;) {
      const available = buf.length - pos;
      if (state.at === 'skip') {
        const n = Math.min(available, state.remaining);
        pos += n;
        state.remaining -= n;
        if (state.remaining > 0) break;
        state = { at: 'frame' };
        continue;
      }
      if (state.at === 'checksum') {
        if (available < 4) break;
        take(4);
        state = { at: 'frame' };
        continue;
      }
      if (state.at === 'block') {
        if (available < 3) break;
        const header = buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16);
        const last = header & 1;
        const type = (header >> 1) & 3;
        const size = header >>> 3;
        if (type === 3) throw corrupt('has a reserved block type');
        if (size > state.blockMax) throw corrupt(`has a block of ${size} bytes, over the ${state.blockMax} byte maximum`);
        const length = 3 + (type === 1 ? 1 : size);
        if (available < length) break;
        if (batchOutput + BLOCK_MAX > BATCH_OUTPUT) yield* flush();
        take(length);
        batchOutput += type === 2 ? state.blockMax : size;
        if (last) state = state.checksum ? { at: 'checksum' } : { at: 'frame' };
        continue;
      }
      // A frame starts: a zstd frame or a skippable one (magic 0x184D2A5?).
      if (available < 4) break;
      const magic = buf.readUInt32LE(pos);
      if ((magic & 0xfffffff0) === 0x184d2a50) {
        if (available < 8) break;
        state = { at: 'skip', remaining: 8 + buf.readUInt32LE(pos + 4) };
        continue;
      }
      if (magic !== ZSTD_MAGIC) throw corrupt('has no frame magic where a frame should start');
      if (available < 6) break;
      const descriptor = buf[pos + 4]!;
      const fcsFlag = descriptor >> 6;
      const singleSegment = (descriptor >> 5) & 1;
      if (descriptor & 0x08) throw corrupt('sets a reserved frame header bit');
      const dictBytes = [0, 1, 2, 4][descriptor & 3]!;
      const fcsBytes = fcsFlag === 0 ? singleSegment : [0, 2, 4, 8][fcsFlag]!;
      const headerLength = 5 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
      if (available < headerLength) break;
      let window: number;
      if (singleSegment) {
        // The window is the whole frame: its declared content size.
        const at = pos + 5 + dictBytes;
        window = fcsBytes === 1 ? buf[at]! : fcsBytes === 2 ? buf.readUInt16LE(at) + 256 : fcsBytes === 4 ? buf.readUInt32LE(at) : buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 2 ** 32;
      } else {
        const wd = buf[pos + 5]!;
        const base = 2 ** (10 + (wd >> 3));
        window = base + (base / 8) * (wd & 7);
      }
      if (window > options.maxWindowBytes) {
        throw new PalisadeError('image.layer.zstd-window', `${options.what}: zstd frame asks for a ${window} byte window, over the ${options.maxWindowBytes} byte limit`, {
          kind: 'unprocessable',
          hint: 'recompress the layer without --long, or raise the window limit if this image is trusted',
        });
      }
      take(headerLength);
      state = { at: 'block', blockMax: Math.min(window, BLOCK_MAX), checksum: ((descriptor >> 2) & 1) === 1 };
    }
    yield* flush();
  }
  if (state.at !== 'frame' || pos < buf.length) throw corrupt('ends in the middle of a frame (truncated?)');
  push(new Uint8Array(0), true);
  while (out.length) yield out.shift()!;
}
