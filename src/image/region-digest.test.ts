import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestRegion, uncompressedRegionDigest, WORKER_DIGEST_MIN_BYTES } from './region-digest.js';

/** The digest a worker computes of a file region must be the digest of exactly those bytes, or fail naming the layer. */
let root: string;
let file: string;
let bytes: Buffer;
const offset = 4096;
const size = WORKER_DIGEST_MIN_BYTES + 12345;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'palisade-region-'));
  file = path.join(root, 'archive.tar');
  bytes = randomBytes(offset + size + 777);
  bytes[offset] = 0x2e; // not a compression magic byte
  await writeFile(file, bytes);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('digest of an archive region on a worker thread', () => {
  it('is the digest of exactly the region, for sha256 and sha512', async () => {
    const region = bytes.subarray(offset, offset + size);
    const pending = await uncompressedRegionDigest({ file, offset, size }, 'sha256', 'layer x');
    expect(pending).toBeDefined();
    expect(await pending!.hex).toBe(createHash('sha256').update(region).digest('hex'));
    expect(await digestRegion({ file, offset, size }, 'sha512', 'layer x').hex).toBe(createHash('sha512').update(region).digest('hex'));
  });

  it('leaves small and compressed regions to the inline hash', async () => {
    expect(await uncompressedRegionDigest({ file, offset, size: WORKER_DIGEST_MIN_BYTES - 1 }, 'sha256', 'small')).toBeUndefined();
    const gz = path.join(root, 'layer.gz');
    await writeFile(gz, gzipSync(randomBytes(WORKER_DIGEST_MIN_BYTES + 10), { level: 1 }));
    expect(await uncompressedRegionDigest({ file: gz, offset: 0, size: WORKER_DIGEST_MIN_BYTES + 1 }, 'sha256', 'gzip')).toBeUndefined();
  });

  it('fails naming the layer when the file is shorter than the region (truncated archive)', async () => {
    await expect(digestRegion({ file, offset, size: bytes.length }, 'sha256', 'archive.tar: layer sha256:abc').hex).rejects.toMatchObject({
      code: 'image.layer.invalid',
      message: expect.stringMatching(/^archive\.tar: layer sha256:abc: cannot read the layer to check its digest: \d+ of \d+ bytes read$/),
    });
  });

  it('stops when cancelled, without an unhandled rejection', async () => {
    const pending = digestRegion({ file, offset, size }, 'sha256', 'cancelled');
    pending.cancel();
    await expect(pending.hex).rejects.toMatchObject({ code: 'image.layer.invalid' });
  });
});
