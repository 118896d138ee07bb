import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegionDigester, WORKER_DIGEST_MIN_BYTES } from './region-digest.js';

/** The digest a worker computes of a file region must be the digest of exactly those bytes, or fail naming the layer. */
let root: string;
let digester: RegionDigester;
let file: string;
let handle: FileHandle;
let bytes: Buffer;
const offset = 4096;
const size = WORKER_DIGEST_MIN_BYTES + 12345;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'palisade-region-'));
  file = path.join(root, 'archive.tar');
  bytes = randomBytes(offset + size + 777);
  bytes[offset] = 0x2e; // not a compression magic byte
  await writeFile(file, bytes);
  handle = await open(file, 'r');
  digester = new RegionDigester();
});
afterAll(async () => {
  await digester.close();
  await handle.close();
  await rm(root, { recursive: true, force: true });
});

/** Runs `use` on `name` opened with `flags` (written first when `content` is given), closing it after. */
async function withFile<T>(name: string, flags: string, use: (handle: FileHandle, file: string) => Promise<T>, content?: Buffer): Promise<T> {
  const file = path.join(root, name);
  if (content) await writeFile(file, content);
  const opened = await open(file, flags);
  try {
    return await use(opened, file);
  } finally {
    await opened.close();
  }
}

describe('digest of an archive region on a worker thread', () => {
  it('is the digest of exactly the region, for sha256 and sha512', async () => {
    const region = bytes.subarray(offset, offset + size);
    const pending = await digester.uncompressed({ handle, offset, size }, 'sha256', 'layer x');
    expect(pending).toBeDefined();
    const other = digester.digest({ handle, offset: 0, size: 1000 }, 'sha512', 'layer y');
    expect(await pending!.settle()).toBe(createHash('sha256').update(region).digest('hex'));
    expect(await other).toBe(createHash('sha512').update(bytes.subarray(0, 1000)).digest('hex'));
  });

  it('digests several regions at once, each over its own bytes, however they are shared among the workers', async () => {
    const regions = [0, 1, 2, 3, 4].map((i) => ({ offset: offset + i * 1000, size: size - 5000 + i }));
    const digests = await Promise.all(regions.map((r, i) => digester.digest({ handle, ...r }, 'sha256', `layer ${i}`)));
    expect(digests).toEqual(regions.map((r) => createHash('sha256').update(bytes.subarray(r.offset, r.offset + r.size)).digest('hex')));
  });

  it('leaves small and compressed regions to the inline hash', async () => {
    expect(await digester.uncompressed({ handle, offset, size: WORKER_DIGEST_MIN_BYTES - 1 }, 'sha256', 'small')).toBeUndefined();
    await withFile('layer.gz', 'r', async (compressed) => {
      expect(await digester.uncompressed({ handle: compressed, offset: 0, size: WORKER_DIGEST_MIN_BYTES + 1 }, 'sha256', 'gzip')).toBeUndefined();
    }, gzipSync(randomBytes(WORKER_DIGEST_MIN_BYTES + 10), { level: 1 }));
  });

  it('reads through the archive\'s own descriptor, not its path again', async () => {
    await withFile('held.tar', 'r', async (held, copy) => {
      // The path is gone: only the descriptor the archive was indexed through can be read.
      await rm(copy);
      const pending = await digester.uncompressed({ handle: held, offset, size }, 'sha256', 'layer held');
      expect(await pending!.settle()).toBe(createHash('sha256').update(bytes.subarray(offset, offset + size)).digest('hex'));
    }, bytes);
  });

  it('fails when the archive is written to between the two reads, naming the layer', async () => {
    await withFile('written.tar', 'r+', async (written) => {
      const pending = await digester.uncompressed({ handle: written, offset, size }, 'sha256', 'written.tar: layer sha256:abc');
      await written.write(Buffer.from('x'), 0, 1, offset + 10);
      await expect(pending!.settle()).rejects.toMatchObject({ code: 'image.archive.changed', message: 'written.tar: layer sha256:abc: the archive was written to while it was read' });
    }, bytes);
  });

  it('fails naming the layer when the file is shorter than the region (truncated archive)', async () => {
    await expect(digester.digest({ handle, offset, size: bytes.length }, 'sha256', 'archive.tar: layer sha256:abc')).rejects.toMatchObject({
      code: 'image.layer.invalid',
      message: expect.stringMatching(/^archive\.tar: layer sha256:abc: cannot read the layer to check its digest: \d+ of \d+ bytes read$/),
    });
  });

  it('fails naming the layer when its descriptor cannot be read, and keeps serving later regions', async () => {
    await withFile('.', 'r', async (directory) => {
      await expect(digester.digest({ handle: directory, offset: 0, size: 10 }, 'sha256', 'dir.tar: layer 1')).rejects.toMatchObject({
        code: 'image.layer.invalid',
        message: expect.stringMatching(/^dir\.tar: layer 1: cannot read the layer to check its digest: EISDIR/),
      });
    });
    expect(await digester.digest({ handle, offset: 1, size: 10 }, 'sha256', 'x')).toBe(createHash('sha256').update(bytes.subarray(1, 11)).digest('hex'));
  });

  it('fails what is pending when closed, without an unhandled rejection', async () => {
    const own = new RegionDigester();
    const pending = own.digest({ handle, offset, size }, 'sha256', 'cancelled');
    await own.close();
    await expect(pending).rejects.toMatchObject({ code: 'image.layer.invalid', message: expect.stringContaining('the scan ended first') });
  });
});
