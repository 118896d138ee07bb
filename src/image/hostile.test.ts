import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBlobStore, startFakeRegistry } from '../../test/registry/fake.js';
import { inventoryImage } from './index.js';
import { gzipLayer, tarOf, writeLayout, type BuiltLayer, type TestEntry } from './testing/layout.js';

const run = promisify(execFile);
let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'palisade-hostile-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let n = 0;
async function layout(layers: BuiltLayer[]): Promise<string> {
  const dir = path.join(root, `img${++n}`);
  await writeLayout(dir, layers);
  return dir;
}
const layerOf = async (entries: TestEntry[]) => gzipLayer(await tarOf(entries));
const pkgJson = (name: string) => JSON.stringify({ name, version: '1.0.0' });

describe('hostile layers', () => {
  it('skips names that climb out of the image and never writes them anywhere', async () => {
    const dir = await layout([
      await layerOf([
        { name: '../../../../tmp/palisade-escape/node_modules/evil/package.json', content: pkgJson('evil') },
        { name: 'app/../../node_modules/evil2/package.json', content: pkgJson('evil2') },
        { name: '/app/node_modules/fine/package.json', content: pkgJson('fine') },
      ]),
    ]);
    const before = await readdir(tmpdir());
    const r = await inventoryImage(`oci:${dir}:test`);
    expect(r.inventory.packages.map((p) => `${p.name} ${p.path}`)).toEqual(['fine app/node_modules/fine/package.json']);
    expect(r.warnings.filter((w) => w.includes('climbing out'))).toHaveLength(2);
    const after = await readdir(tmpdir());
    expect(after.filter((f) => !before.includes(f) && f.includes('escape'))).toEqual([]);
  });

  it('resolves absolute symlinks inside the image, never on the host', async () => {
    // The host is Debian; reading through these links on the host would find its os-release.
    const dir = await layout([
      await layerOf([
        { name: 'etc/os-release', type: 'symlink', linkname: '/proc/self/root/etc/os-release' },
        { name: 'usr/lib/os-release', type: 'symlink', linkname: '../../../../../../etc/os-release' },
        { name: 'app/node_modules', type: 'symlink', linkname: '/usr/lib/node_modules' },
      ]),
    ]);
    const r = await inventoryImage(`oci:${dir}:test`);
    expect(r.inventory.os).toBeUndefined();
    expect(r.inventory.packages).toEqual([]);
  });

  it('passes over a 10 GB sparse file entry without holding it', async () => {
    const work = path.join(root, 'sparse');
    await mkdir(path.join(work, 'var/lib/rpm'), { recursive: true });
    await truncate(await writeFile(path.join(work, 'var/lib/rpm/rpmdb.sqlite'), '').then(() => path.join(work, 'var/lib/rpm/rpmdb.sqlite')), 10 * 1024 ** 3);
    await run('tar', ['--sparse', '-cf', path.join(root, 'sparse.tar'), '-C', work, 'var']);
    const tarBytes = await readFile(path.join(root, 'sparse.tar'));
    expect(tarBytes.length).toBeLessThan(1024 * 1024);
    const dir = await layout([gzipLayer(tarBytes)]);
    const rssBefore = process.memoryUsage().rss;
    const r = await inventoryImage(`oci:${dir}:test`);
    expect(r.inventory.packages).toEqual([]);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 ** 2);
  });

  it('refuses a wanted file larger than the cataloger cap, without reading it into memory', async () => {
    const big = Buffer.alloc(6 * 1024 * 1024, 0x61);
    const dir = await layout([await layerOf([{ name: 'app/node_modules/huge/package.json', content: big }])]);
    const r = await inventoryImage(`oci:${dir}:test`);
    expect(r.inventory.packages).toEqual([]);
    expect(r.warnings.some((w) => w.includes('app/node_modules/huge/package.json') && w.includes('limit'))).toBe(true);
  });

  it('stops a gzip bomb with a clear error', async () => {
    const zeros = Buffer.alloc(96 * 1024 * 1024);
    const tarBytes = await tarOf([{ name: 'zeros.bin', content: zeros }]);
    const dir = await layout([{ blob: gzipSync(tarBytes, { level: 9 }), tar: tarBytes }]);
    await expect(inventoryImage(`oci:${dir}:test`, { limits: { ratioCheckAfter: 16 * 1024 * 1024 } })).rejects.toMatchObject({ code: 'image.layer.bomb' });
    await expect(inventoryImage(`oci:${dir}:test`, { limits: { maxLayerBytes: 32 * 1024 * 1024, maxCompressionRatio: 1e9 } })).rejects.toMatchObject({ code: 'image.layer.too-large' });
  });

  it('fails a truncated layer with a clear error', async () => {
    const whole = await layerOf([{ name: 'app/node_modules/a/package.json', content: pkgJson('a') }, { name: 'filler.bin', content: createHash('sha512').update('x').digest().toString('hex').repeat(2000) }]);
    const dir = await layout([{ blob: whole.blob.subarray(0, Math.floor(whole.blob.length / 2)), tar: whole.tar }]);
    await expect(inventoryImage(`oci:${dir}:test`)).rejects.toMatchObject({ code: 'image.layer.invalid', message: expect.stringMatching(/end of|truncated/i) });
  });

  it('fails a large gzip stream that is not a tar archive, promptly', async () => {
    // tar parsing fails on the first header while most of the compressed input is still unread.
    const junk = randomBytes(24 * 1024 * 1024);
    const dir = await layout([{ blob: gzipSync(junk, { level: 1 }), tar: junk }]);
    await expect(inventoryImage(`oci:${dir}:test`)).rejects.toMatchObject({ code: 'image.layer.invalid' });
  }, 30_000);

  it('fails a layer whose uncompressed bytes do not match the config diff ID', async () => {
    const real = await layerOf([{ name: 'a.txt', content: 'a' }]);
    const other = await tarOf([{ name: 'b.txt', content: 'b' }]);
    const dir = await layout([{ blob: real.blob, tar: other }]);
    await expect(inventoryImage(`oci:${dir}:test`)).rejects.toMatchObject({ code: 'image.digest.mismatch' });
  });

  it('fails a manifest or blob whose content does not match its digest', async () => {
    const dir = await layout([await layerOf([{ name: 'a.txt', content: 'a' }])]);
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const manifestFile = path.join(dir, 'blobs/sha256', index.manifests[0]!.digest.slice(7));
    const manifest = await readFile(manifestFile, 'utf8');
    await writeFile(manifestFile, manifest.replace('"schemaVersion":2', '"schemaVersion": 2'));
    await expect(inventoryImage(`oci:${dir}:test`)).rejects.toMatchObject({ code: 'image.digest.mismatch' });
    await writeFile(manifestFile, manifest);
    const layerDigest = (JSON.parse(manifest) as { layers: Array<{ digest: string }> }).layers[0]!.digest;
    await writeFile(path.join(dir, 'blobs/sha256', layerDigest.slice(7)), (await layerOf([{ name: 'evil.txt', content: 'x' }])).blob);
    await expect(inventoryImage(`oci:${dir}:test`)).rejects.toMatchObject({ code: 'image.digest.mismatch' });
  });
});

describe('hostile registries', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await layout([await layerOf([{ name: 'usr/lib/os-release', content: 'ID=alpine\nVERSION_ID=3.20.0\n' }, { name: 'app/node_modules/ok/package.json', content: pkgJson('ok') }])]);
  });

  it('rejects a tampered manifest by tag and by digest', async () => {
    const registry = await startFakeRegistry({ layout: dir, tamperManifests: true });
    try {
      await expect(inventoryImage(`${registry.host}/demo/app:test`, { insecure: true })).rejects.toMatchObject({ code: 'image.digest.mismatch' });
      const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
      await expect(inventoryImage(`${registry.host}/demo/app@${index.manifests[0]!.digest}`, { insecure: true })).rejects.toMatchObject({ code: 'image.digest.mismatch' });
    } finally {
      await registry.close();
    }
  });

  it('follows a blob redirect to another host without sending it the registry credentials', async () => {
    const store = await startBlobStore(dir);
    const registry = await startFakeRegistry({ layout: dir, auth: { scheme: 'basic', username: 'u', password: 'p' }, redirectBlobsTo: store.url });
    try {
      const r = await inventoryImage(`${registry.host}/demo/app:test`, { insecure: true, credentials: { username: 'u', password: 'p' } });
      expect(r.inventory.packages.map((p) => p.name)).toEqual(['ok']);
      expect(store.requests.length).toBeGreaterThanOrEqual(2); // config and layer
      expect(store.requests.every((q) => q.headers.authorization === undefined)).toBe(true);
      expect(registry.requests.some((q) => q.headers.authorization?.startsWith('Basic '))).toBe(true);
    } finally {
      await registry.close();
      await store.close();
    }
  });

  it('walks the bearer-token challenge with credentials, and is refused without', async () => {
    const registry = await startFakeRegistry({ layout: dir, auth: { scheme: 'bearer', username: 'robot', password: 'tok-pass' } });
    try {
      const r = await inventoryImage(`docker://${registry.host}/demo/app:test`, { insecure: true, credentials: { username: 'robot', password: 'tok-pass' } });
      expect(r.inventory.os).toMatchObject({ id: 'alpine', ecosystem: 'Alpine:v3.20' });
      const tokenRequest = registry.requests.find((q) => q.url.startsWith('/token'));
      expect(tokenRequest?.url).toContain('scope=repository%3Ademo%2Fapp%3Apull');
      expect(tokenRequest?.url).toContain('service=fake-registry');
      await expect(inventoryImage(`${registry.host}/demo/app:test`, { insecure: true, dockerConfig: path.join(root, 'none.json') })).rejects.toMatchObject({ code: 'registry.unauthorized' });
    } finally {
      await registry.close();
    }
  });

  it('says to use --insecure when a plain-HTTP registry is reached over HTTPS', async () => {
    const registry = await startFakeRegistry({ layout: dir });
    try {
      await expect(inventoryImage(`${registry.host}/demo/app:test`)).rejects.toMatchObject({ code: 'registry.unreachable', hint: expect.stringContaining('--insecure') });
    } finally {
      await registry.close();
    }
  });
});
