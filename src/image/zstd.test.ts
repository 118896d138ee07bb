import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { inflateZstd } from './zstd.js';

const run = promisify(execFile);

/** Compresses with the zstd CLI (the reference encoder), reading stdin so the frame size stays unknown. */
function zstd(args: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('zstd', ['-q', '-c', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`zstd exited ${code}`))));
    child.stdin.end(input);
  });
}

/** Text-like data with repeats near and far, so the encoder uses every block type. */
function sample(size: number, seed: number): Buffer {
  const words = Array.from({ length: 500 }, (_, i) => createHash('md5').update(`${seed}:${i}`).digest('hex').slice(0, 3 + (i % 9)));
  const out: string[] = [];
  let x = seed;
  let length = 0;
  while (length < size) {
    x = (x * 1103515245 + 12345) >>> 0;
    const w = words[x % words.length]!;
    out.push(w);
    length += w.length + 1;
  }
  return Buffer.from(out.join(' ')).subarray(0, size);
}

/** Splits a buffer at pseudo-random points, from single bytes to 300 KB. */
function* pieces(data: Buffer, seed: number): Generator<Buffer> {
  let x = seed;
  for (let at = 0; at < data.length; ) {
    x = (x * 1664525 + 1013904223) >>> 0;
    const n = x % 7 === 0 ? 1 + (x % 5) : 1 + (x % 300_000);
    yield data.subarray(at, at + n);
    at += n;
  }
}

async function inflateAll(chunks: Iterable<Buffer>, maxWindowBytes = 128 * 1024 ** 2): Promise<Buffer> {
  const source = (async function* () {
    yield* chunks;
  })();
  const out: Buffer[] = [];
  for await (const c of inflateZstd(source, { maxWindowBytes, what: 'test layer' })) out.push(c);
  return Buffer.concat(out);
}

describe('inflateZstd', () => {
  it('inflates what the zstd CLI wrote, however the input is split: frames with and without checksums, skippable frames, empty frames', async () => {
    const a = sample(3 * 1024 * 1024, 1);
    const b = sample(700_000, 2);
    const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18]), Buffer.from([5, 0, 0, 0]), Buffer.from('hello')]);
    const stream = Buffer.concat([await zstd(['-19', '--check'], a), skippable, await zstd(['-1', '--no-check'], b), await zstd([], Buffer.alloc(0)), await zstd(['--fast=3'], a)]);
    const expected = Buffer.concat([a, b, a]);
    for (const seed of [1, 2, 3]) {
      const out = await inflateAll(pieces(stream, seed));
      expect(out.length).toBe(expected.length);
      expect(out.equals(expected)).toBe(true);
    }
    expect((await inflateAll([stream])).equals(expected)).toBe(true);
  }, 60_000);

  it('hands over an RLE bomb in bounded pieces, even when the whole bomb arrives as one chunk', async () => {
    // 512 MiB of zeros is about 17 KB of zstd; fzstd alone would return all 512 MiB from one push.
    const { stdout } = await run('sh', ['-c', 'head -c 536870912 /dev/zero | zstd -q -3 -c'], { encoding: 'buffer', maxBuffer: 1 << 24 });
    expect(stdout.length).toBeLessThan(64 * 1024);
    let largest = 0;
    let total = 0;
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    for await (const chunk of inflateZstd((async function* () { yield stdout; })(), { maxWindowBytes: 128 * 1024 ** 2, what: 'bomb' })) {
      largest = Math.max(largest, chunk.length);
      total += chunk.length;
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }
    expect(total).toBe(536870912);
    expect(largest).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(rssPeak - rssBefore).toBeLessThan(128 * 1024 ** 2);
  }, 60_000);

  it('refuses a frame whose window is over the limit before allocating it', async () => {
    const frame = await zstd(['--long=28', '-1'], sample(64 * 1024, 3));
    await expect(inflateAll([frame])).rejects.toMatchObject({ code: 'image.layer.zstd-window', message: expect.stringMatching(/268435456 byte window, over the 134217728 byte limit/) });
    expect((await inflateAll([frame], 256 * 1024 ** 2)).equals(sample(64 * 1024, 3))).toBe(true);
  });

  it('refuses an RLE block larger than the format allows, and a truncated stream', async () => {
    const frame = await zstd(['-1', '--no-check'], Buffer.alloc(4096));
    // Frame header is 6 bytes here (magic, descriptor, window); then an RLE block claiming 2 MiB.
    const header = frame.subarray(0, 6);
    const size = 2 * 1024 * 1024 - 1;
    const block = Buffer.from([((size << 3) | (1 << 1) | 1) & 0xff, (size >> 5) & 0xff, (size >> 13) & 0xff, 0]);
    await expect(inflateAll([Buffer.concat([header, block])])).rejects.toMatchObject({ code: 'image.layer.invalid', message: expect.stringMatching(/over the \d+ byte maximum/) });
    await expect(inflateAll([frame.subarray(0, frame.length - 2)])).rejects.toMatchObject({ code: 'image.layer.invalid', message: expect.stringMatching(/truncated/) });
  });
});
