import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

const run = promisify(execFile);

/**
 * Decompression bombs for tests, never written out uncompressed: GNU tar makes one member (a
 * 64 MiB file of zeros), gzip or the zstd CLI compresses it once, and the compressed member is
 * repeated. Both formats define a stream of concatenated members/frames as their concatenation
 * (RFC 1952 §2.2, RFC 8878 §3.1), so N copies inflate to N × 64 MiB of tar — 10 GiB from about
 * 10 MB of gzip or 350 KB of zstd (whose RLE blocks hold 128 KiB of zeros in 4 bytes).
 */
export interface Bomb {
  blob: Buffer;
  mediaType: string;
  /** Uncompressed size. */
  bytes: number;
}

const MEMBER = 64 * 1024 * 1024;

async function memberTar(): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'palisade-bomb-'));
  try {
    await writeFile(path.join(dir, 'zeros.bin'), '');
    await truncate(path.join(dir, 'zeros.bin'), MEMBER);
    const { stdout } = await run('tar', ['--format=gnu', '-cf', '-', '-C', dir, 'zeros.bin'], { encoding: 'buffer', maxBuffer: MEMBER * 2 });
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function repeat(member: Buffer, count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, () => member));
}

export async function buildBomb(kind: 'gzip' | 'zstd', totalBytes = 10 * 1024 ** 3): Promise<Bomb> {
  const tar = await memberTar();
  const count = Math.ceil(totalBytes / tar.length);
  let member: Buffer;
  if (kind === 'gzip') member = gzipSync(tar, { level: 9 });
  else {
    const dir = await mkdtemp(path.join(tmpdir(), 'palisade-bomb-'));
    try {
      await writeFile(path.join(dir, 'm.tar'), tar);
      await run('zstd', ['-q', '-3', '-f', path.join(dir, 'm.tar'), '-o', path.join(dir, 'm.tar.zst')]);
      member = await readFile(path.join(dir, 'm.tar.zst'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return { blob: repeat(member, count), mediaType: `application/vnd.oci.image.layer.v1.tar+${kind}`, bytes: count * tar.length };
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * An OCI layout with the bomb as its one layer. The config names a diff ID the bomb never
 * reaches: the limits must stop it long before its digest could be checked.
 */
export async function writeBombLayout(dir: string, bomb: Bomb, tag = 'bomb'): Promise<void> {
  await mkdir(path.join(dir, 'blobs/sha256'), { recursive: true });
  const put = async (data: Buffer) => {
    const digest = sha(data);
    await writeFile(path.join(dir, 'blobs/sha256', digest.slice(7)), data);
    return digest;
  };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(Buffer.from('bomb'))] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await put(config), size: config.length },
      layers: [{ mediaType: bomb.mediaType, digest: await put(bomb.blob), size: bomb.blob.length }],
    }),
  );
  const manifestDigest = await put(manifest);
  await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
  );
}

/** A `docker save` archive (manifest.json, config, one layer file) made with GNU tar. */
export async function writeBombDockerArchive(file: string, bomb: Bomb): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'palisade-bomb-'));
  try {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(Buffer.from('bomb'))] } }));
    const configName = `${sha(config).slice(7)}.json`;
    await writeFile(path.join(dir, configName), config);
    await mkdir(path.join(dir, 'layer0'));
    await writeFile(path.join(dir, 'layer0/layer.tar'), bomb.blob);
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: ['bomb:1'], Layers: ['layer0/layer.tar'] }]));
    await run('tar', ['-cf', file, '-C', dir, 'manifest.json', configName, 'layer0']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
