import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryImage, memoryLayerCache, type ImageAnalysis } from './index.js';
import { WORKER_DIGEST_MIN_BYTES } from './region-digest.js';
import { openArchiveFiles } from './sources/archive.js';
import { readAll } from './sources/source.js';
import { indexTar } from './sources/tar-index.js';
import { gzipLayer, tarOf, writeLayout, writeTarChecksum } from './testing/layout.js';

/**
 * Image archives as real tools write them — GNU tar in each of its formats, skopeo, and the layout
 * `ctr export` writes — read in place. Expected inventories come from the same image read as an
 * OCI layout directory.
 */
const run = promisify(execFile);
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let root: string;
let layoutDir: string;
let expected: ImageAnalysis;
const summary = (r: ImageAnalysis) => ({ os: r.inventory.os, packages: r.inventory.packages.map((p) => `${p.ecosystem} ${p.name}@${p.version} ${p.path} ${p.layer}`) });

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'palisade-archives-'));
  layoutDir = path.join(root, 'layout');
  const base = gzipLayer(await tarOf([{ name: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.20.3\n' }, { name: 'lib/apk/db/installed', content: 'P:musl\nV:1.2.5-r0\nA:x86_64\n\nP:zlib\nV:1.3.1-r1\nA:x86_64\n\n' }]));
  const app = gzipLayer(await tarOf([{ name: 'app/node_modules/lodash/package.json', content: JSON.stringify({ name: 'lodash', version: '4.17.20' }) }]));
  await writeLayout(layoutDir, [base, app], 'test');
  expected = await inventoryImage(`oci:${layoutDir}:test`);
  expect(expected.inventory.packages).toHaveLength(3);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A copy of the layout with what macOS and other tools leave beside it: AppleDouble files, .DS_Store, a README, a long name, a sparse file. */
async function decoratedLayout(name: string): Promise<string> {
  const dir = path.join(root, name);
  await run('cp', ['-r', layoutDir, dir]);
  const blobs = await readdir(path.join(dir, 'blobs/sha256'));
  await writeFile(path.join(dir, '._index.json'), Buffer.alloc(4096, 1));
  await writeFile(path.join(dir, `blobs/sha256/._${blobs[0]}`), Buffer.alloc(4096, 2));
  await writeFile(path.join(dir, '.DS_Store'), Buffer.alloc(6148, 3));
  await writeFile(path.join(dir, 'README.md'), 'exported by hand\n');
  const long = path.join(dir, 'extra', 'a-directory-name-long-enough'.repeat(3), 'and-a-file-name-that-passes-one-hundred-characters.txt');
  await mkdir(path.dirname(long), { recursive: true });
  await writeFile(long, 'long\n');
  const sparse = path.join(dir, 'extra/sparse.bin');
  await writeFile(sparse, '');
  await truncate(sparse, 4 * 1024 * 1024);
  const handle = await open(sparse, 'r+');
  await handle.write(Buffer.from('data in the middle'), 0, 18, 2 * 1024 * 1024);
  await handle.close();
  return dir;
}

describe('archives GNU tar writes', () => {
  const formats: Array<[string, string[]]> = [
    ['pax with fractional times, LIBARCHIVE.* and SCHILY.* records', ['--format=pax', '--pax-option=mtime:=1700000000.123456789,LIBARCHIVE.creationtime:=1700000000.5,SCHILY.fflags:=nodump']],
    ['gnu with long names and old-GNU sparse headers', ['--format=gnu', '--sparse']],
    ['pax with GNU sparse records', ['--format=pax', '--sparse']],
    ['ustar', ['--format=ustar']],
  ];
  for (const [label, flags] of formats) {
    it(`reads an OCI archive in ${label}, with macOS metadata and extra files beside the layout`, async () => {
      const dir = await decoratedLayout(`layout-${formats.findIndex((f) => f[0] === label)}`);
      const file = `${dir}.tar`;
      // ustar cannot store the long name: GNU tar skips it with a warning and a non-zero exit.
      await run('tar', [...flags, '-cf', file, '-C', dir, '.']).catch((error: { stderr?: string }) => {
        if (!label.startsWith('ustar') || !/file name is too long/.test(error.stderr ?? '')) throw error;
      });
      const listing = (await run('tar', ['-tvf', file])).stdout;
      expect(listing).toContain('index.json');
      for (const transport of ['oci-archive', 'docker-archive']) {
        const r = await inventoryImage(`${transport}:${file}:test`);
        expect(summary(r)).toEqual(summary(expected));
        expect(r.image.id).toBe(expected.image.id);
      }
    });
  }

  it('reads sizes written in base-256, as GNU tar does for members over 8 GiB', async () => {
    const file = path.join(root, 'base256.tar');
    await run('tar', ['--format=gnu', '-cf', file, '-C', layoutDir, 'oci-layout', 'index.json', 'blobs']);
    // GNU tar switches a size to base-256 only past 8 GiB; rewrite every header's size that way and
    // let GNU tar itself confirm the archive still lists the same sizes.
    const bytes = await readFile(file);
    const before = (await run('tar', ['-tvf', file])).stdout;
    for (let at = 0; at + 512 <= bytes.length; ) {
      const header = bytes.subarray(at, at + 512);
      if (header.every((b) => b === 0)) break;
      const size = parseInt(header.toString('latin1', 124, 136).replace(/\0/g, '').trim() || '0', 8);
      header.fill(0, 124, 136);
      header[124] = 0x80;
      header.writeUIntBE(size, 136 - 6, 6);
      writeTarChecksum(header);
      at += 512 + Math.ceil(size / 512) * 512;
    }
    await writeFile(file, bytes);
    expect((await run('tar', ['-tvf', file])).stdout).toBe(before);
    expect(summary(await inventoryImage(`oci-archive:${file}:test`))).toEqual(summary(expected));
    expect(summary(await inventoryImage(`docker-archive:${file}:test`))).toEqual(summary(expected));
  });

  it('refuses a file that is not a tar archive, and a truncated one, with a clear error', async () => {
    const junk = path.join(root, 'junk.tar');
    await writeFile(junk, Buffer.alloc(4096, 0x41));
    await expect(inventoryImage(`oci-archive:${junk}`)).rejects.toMatchObject({ code: 'image.archive.invalid', message: expect.stringContaining('not a tar archive') });
    const whole = path.join(root, 'whole.tar');
    await run('tar', ['-cf', whole, '-C', layoutDir, '.']);
    const cut = path.join(root, 'cut.tar');
    await writeFile(cut, (await readFile(whole)).subarray(0, 3000));
    await expect(inventoryImage(`docker-archive:${cut}`)).rejects.toMatchObject({ code: 'image.archive.invalid', message: expect.stringMatching(/truncated|ends inside/) });
  });

  it('says so when a blob was stored as a GNU sparse file (tar --sparse), in every format GNU tar writes it', async () => {
    // An uncompressed layer holding zeros; copied with holes where they are, so tar --sparse stores it sparsely.
    const dir = path.join(root, 'sparse-layout');
    const layer = await tarOf([{ name: 'zeros', content: Buffer.alloc(256 * 1024) }]);
    await writeLayout(dir, [{ blob: layer, tar: layer }]);
    const blob = path.join(dir, 'blobs/sha256', createHash('sha256').update(layer).digest('hex'));
    await run('cp', ['--sparse=always', blob, `${blob}.holes`]);
    await rm(blob);
    await run('mv', [`${blob}.holes`, blob]);
    for (const format of ['gnu', 'pax']) {
      const file = path.join(root, `sparse-${format}.tar`);
      await run('tar', [`--format=${format}`, '--sparse', '-cf', file, '-C', dir, '.']);
      await expect(inventoryImage(`oci-archive:${file}:test`), format).rejects.toMatchObject({ code: 'image.archive.sparse', message: expect.stringContaining('is stored as a GNU sparse file') });
    }
    await expect(inventoryImage(`oci:${dir}:test`)).resolves.toMatchObject({ image: { name: expect.any(String) } });
  });
});

describe('docker save and containerd archives', () => {
  async function dockerSave(name: string): Promise<string> {
    const file = path.join(root, `${name}.tar`);
    await run('skopeo', ['copy', '--quiet', `oci:${layoutDir}:test`, `docker-archive:${file}:demo/app:1`]);
    const dir = path.join(root, name);
    await mkdir(dir);
    await run('tar', ['-xf', file, '-C', dir]);
    return dir;
  }

  it('reads a skopeo docker-archive in place: no temp dir, and a cached layer is never read', async () => {
    const file = path.join(root, 'saved.tar');
    await run('skopeo', ['copy', '--quiet', `oci:${layoutDir}:test`, `docker-archive:${file}:demo/app:1`]);
    const cache = memoryLayerCache();
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = path.join(root, 'no-such-tmp'); // unpacking anywhere would fail
    try {
      const first = await inventoryImage(`docker-archive:${file}:demo/app:1`, { cache });
      expect(summary(first)).toEqual(summary(expected));
      // Overwrite the middle of every layer member: only a read of the bytes could notice.
      const members = await indexTar(file, 'test');
      const manifest = JSON.parse((await readFile(file)).subarray(members.get('manifest.json')!.offset, members.get('manifest.json')!.offset + members.get('manifest.json')!.size).toString()) as Array<{ Layers: string[] }>;
      const handle = await open(file, 'r+');
      for (const layer of manifest[0]!.Layers) {
        const m = members.get(layer)!;
        await handle.write(Buffer.alloc(64, 0x5a), 0, 64, m.offset + Math.floor(m.size / 2));
      }
      await handle.close();
      const again = await inventoryImage(`docker-archive:${file}:demo/app:1`, { cache });
      expect(again.image.layers.every((l) => l.cached)).toBe(true);
      expect(summary(again)).toEqual(summary(expected));
      await expect(inventoryImage(`docker-archive:${file}:demo/app:1`)).rejects.toMatchObject({ code: expect.stringMatching(/^image\.(digest\.mismatch|layer\.invalid)$/) });
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });

  it('checks a large layer read in place against its diff ID (hashed beside the parse): a byte changed inside a file that no cataloger reads fails the scan', async () => {
    const big = path.join(root, 'big-layout');
    const filler = randomBytes(WORKER_DIGEST_MIN_BYTES + 1024 * 1024);
    const layer = await tarOf([{ name: 'opt/blob.bin', content: filler }, { name: 'app/node_modules/lodash/package.json', content: JSON.stringify({ name: 'lodash', version: '4.17.20' }) }]);
    await writeLayout(big, [gzipLayer(layer)], 'big');
    const file = path.join(root, 'big-saved.tar');
    await run('skopeo', ['copy', '--quiet', `oci:${big}:big`, `docker-archive:${file}:demo/big:1`]);
    const packages = (r: ImageAnalysis) => r.inventory.packages.map((p) => `${p.name}@${p.version}`);
    expect(packages(await inventoryImage(`docker-archive:${file}`))).toEqual(['lodash@4.17.20']);
    const members = await indexTar(file, 'test');
    const layerMember = [...members.values()].find((m) => m.size > WORKER_DIGEST_MIN_BYTES)!;
    const handle = await open(file, 'r+');
    await handle.write(Buffer.from([0x42 ^ filler[5000]!]), 0, 1, layerMember.offset + 512 + 5000); // inside opt/blob.bin's bytes
    await handle.close();
    await expect(inventoryImage(`docker-archive:${file}`)).rejects.toMatchObject({ code: 'image.digest.mismatch', message: expect.stringContaining('does not match diff ID') });
  });

  it('keeps the archive\'s one descriptor open for every reader when a layer\'s stream is torn down early, and closes it once', async () => {
    const file = path.join(root, 'shared-fd.tar');
    await run('skopeo', ['copy', '--quiet', `oci:${layoutDir}:test`, `docker-archive:${file}:demo/app:1`]);
    for (const plain of [true, false]) {
      const target = plain ? file : `${file}.gz`;
      if (!plain) await run('gzip', ['-k', '-1', file]);
      const files = await openArchiveFiles(target, 'test');
      const manifest = JSON.parse((await files.read('manifest.json', 1 << 20)).toString()) as Array<{ Layers: string[] }>;
      const [first, second] = manifest[0]!.Layers as [string, string];
      const torn = files.open(first);
      torn.once('data', () => torn.destroy(new Error('layer refused'))); // mid-read, as a failing layer's pipeline does
      await expect(finished(torn)).rejects.toThrow('layer refused');
      const bytes = (await readAll(files.open(second), 1 << 30, second)).length;
      expect(bytes, target).toBe(files.size(second));
      await expect(files.close!(), target).resolves.toBeUndefined();
    }
  });

  it('reads a compressed docker save (docker save | gzip, | zstd) and removes what it inflated', async () => {
    const file = path.join(root, 'compressed.tar');
    await run('skopeo', ['copy', '--quiet', `oci:${layoutDir}:test`, `docker-archive:${file}:demo/app:1`]);
    await run('gzip', ['-k', '-1', file]);
    await run('zstd', ['-q', '-k', file]);
    const before = (await readdir(tmpdir())).filter((f) => f.startsWith('palisade-archive-'));
    for (const compressed of [`${file}.gz`, `${file}.zst`]) {
      const r = await inventoryImage(`docker-archive:${compressed}:demo/app:1`);
      expect(summary(r), compressed).toEqual(summary(expected));
      await expect(inventoryImage(`docker-archive:${compressed}:no/such:1`)).rejects.toMatchObject({ code: 'image.tag.not-found' });
    }
    expect((await readdir(tmpdir())).filter((f) => f.startsWith('palisade-archive-'))).toEqual(before);
  });

  it('follows symlinked layer files, as legacy docker save writes for layers two images share', async () => {
    const dir = await dockerSave('linked');
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Array<{ Layers: string[] }>;
    await mkdir(path.join(dir, 'shared'));
    for (const [i, layer] of manifest[0]!.Layers.entries()) {
      await run('mv', [path.join(dir, layer), path.join(dir, 'shared', `layer${i}.tar`)]);
      await mkdir(path.join(dir, `id${i}`));
      await run('ln', ['-s', `../shared/layer${i}.tar`, path.join(dir, `id${i}`, 'layer.tar')]);
      manifest[0]!.Layers[i] = `id${i}/layer.tar`;
    }
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    const file = path.join(root, 'linked-repacked.tar');
    await run('tar', ['-cf', file, '-C', dir, '.']);
    expect((await run('tar', ['-tvf', file])).stdout).toMatch(/id0\/layer\.tar -> \.\.\/shared\/layer0\.tar/);
    expect(summary(await inventoryImage(`docker-archive:${file}`))).toEqual(summary(expected));
  });

  it('follows manifest.json when the config lists more diff IDs (an empty layer left out), with a warning', async () => {
    const dir = await dockerSave('trimmed');
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Array<{ Config: string; Layers: string[] }>;
    const config = JSON.parse(await readFile(path.join(dir, manifest[0]!.Config), 'utf8')) as { rootfs: { diff_ids: string[] }; history?: unknown[] };
    const empty = `sha256:${sha(Buffer.alloc(1024))}`;
    config.rootfs.diff_ids = [config.rootfs.diff_ids[0]!, empty, ...config.rootfs.diff_ids.slice(1)];
    config.history = [{ created_by: 'ADD base' }, { created_by: 'RUN true', empty_layer: false }, { created_by: 'ENV A=1', empty_layer: true }, { created_by: 'COPY app' }];
    const text = JSON.stringify(config);
    await rm(path.join(dir, manifest[0]!.Config));
    manifest[0]!.Config = `${sha(text)}.json`;
    await writeFile(path.join(dir, manifest[0]!.Config), text);
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    const file = path.join(root, 'trimmed-repacked.tar');
    await run('tar', ['--format=gnu', '-cf', file, '-C', dir, '.']);
    const r = await inventoryImage(`docker-archive:${file}`);
    expect(summary(r)).toEqual(summary(expected));
    expect(r.warnings).toContainEqual(expect.stringMatching(/3 diff IDs \(3 non-empty history steps\) but manifest\.json 2 layers; following manifest\.json/));
  });

  it('reads a containerd export (OCI layout plus manifest.json) under either transport name, skipping an attestation manifest', async () => {
    const dir = path.join(root, 'ctr');
    await run('cp', ['-r', layoutDir, dir]);
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    const image = index.manifests[0]!;
    const manifest = JSON.parse(await readFile(path.join(dir, 'blobs/sha256', image.digest.slice(7)), 'utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
    // containerd core/images/archive/exporter.go (containerd/containerd@02e0fef8): the full name in
    // io.containerd.image.name, the tag in ref.name, and a Docker manifest.json beside the layout.
    image.annotations = { 'io.containerd.image.name': 'docker.io/library/demo:1', 'org.opencontainers.image.ref.name': '1' };
    const attestation = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: manifest.config.digest, size: 2 }, layers: [] }));
    await writeFile(path.join(dir, 'blobs/sha256', sha(attestation)), attestation);
    index.manifests.push({ digest: `sha256:${sha(attestation)}`, annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': image.digest }, ...{ mediaType: 'application/vnd.oci.image.manifest.v1+json', size: attestation.length, platform: { os: 'unknown', architecture: 'unknown' } } });
    await writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify([{ Config: `blobs/sha256/${manifest.config.digest.slice(7)}`, RepoTags: ['demo:1'], Layers: manifest.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`) }]));
    const file = path.join(root, 'ctr-export.tar');
    await run('tar', ['--format=pax', '-cf', file, '-C', dir, 'blobs', 'index.json', 'manifest.json', 'oci-layout']);
    for (const image of [`docker-archive:${file}`, `docker-archive:${file}:demo:1`, `oci-archive:${file}`, `oci-archive:${file}:1`, `oci-archive:${file}:demo:1`]) {
      const r = await inventoryImage(image);
      expect(summary(r), image).toEqual(summary(expected));
      expect(r.image.id, image).toBe(expected.image.id);
    }
  });
});
