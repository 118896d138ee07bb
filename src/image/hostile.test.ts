import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yazl from 'yazl';
import { startBlobStore, startFakeRegistry } from '../../test/registry/fake.js';
import { registryAvailable, skopeoCopy, startRegistry, type LocalRegistry } from '../../test/registry/registry.js';
import { PALISADE_BIN, cleanEnv } from '../../test/support/cli.js';
import { createTestPostgres, postgresAvailable, type TestPostgres } from '../../test/support/postgres.js';
import { inventoryImage } from './index.js';
import { buildBomb, writeBombDockerArchive, writeBombLayout, type Bomb } from './testing/bombs.js';
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

/** A zip whose one entry is `size` zeros, deflated by yazl as the entry streams in. */
async function zipOfZeros(entryName: string, size: number): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const zeros = (async function* () {
    const block = Buffer.alloc(1024 * 1024);
    for (let left = size; left > 0; left -= block.length) yield left >= block.length ? block : block.subarray(0, left);
  })();
  const { Readable } = await import('node:stream');
  zip.addReadStream(Readable.from(zeros), entryName);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('nested archive bombs', () => {
  it('stops inflating a nested jar that expands more than the ratio limit, names it, and still reads the rest', async () => {
    // 48 MiB of zeros deflates to about 48 KB: under the nested size cap, far over the expansion limit.
    const inner = await zipOfZeros('BOOT-INF/lib/bomb.jar', 48 * 1024 * 1024);
    expect(inner.length).toBeLessThan(200 * 1024);
    const outer = new yazl.ZipFile();
    outer.addBuffer(inner, 'BOOT-INF/lib/outer-bomb.jar', { compress: false });
    outer.addBuffer(Buffer.from('groupId=org.example\nartifactId=app\nversion=1.2.3\n'), 'META-INF/maven/org.example/app/pom.properties');
    outer.end();
    const chunks: Buffer[] = [];
    for await (const chunk of outer.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
    const dir = await layout([await layerOf([{ name: 'app/app.jar', content: Buffer.concat(chunks) }])]);
    const r = await inventoryImage(`oci:${dir}:test`);
    expect(r.inventory.packages.map((p) => `${p.name}@${p.version}`)).toEqual(['org.example:app@1.2.3']);
    expect(r.warnings).toContainEqual(expect.stringMatching(/app\/app\.jar!BOOT-INF\/lib\/outer-bomb\.jar!BOOT-INF\/lib\/bomb\.jar: expands more than 200× its \d+ compressed bytes/));
  }, 60_000);
});

/**
 * 10 GiB of zeros as one gzip or zstd layer, behind each transport, scanned by the built CLI as a
 * user runs it. The scan must fail with the bomb named, and the process must never hold more than
 * 512 MiB (/usr/bin/time's maximum resident set size of the child).
 */
describe.skipIf(!registryAvailable() || !process.env.PATH?.split(':').some((d) => existsSync(path.join(d, 'zstd'))))('decompression bombs through `palisade scan`', () => {
  let db: TestPostgres | undefined;
  let registry: LocalRegistry;
  let gzip: Bomb;
  let zstd: Bomb;
  const images: Record<string, string> = {};

  beforeAll(async () => {
    if (await postgresAvailable()) db = await createTestPostgres();
    [gzip, zstd] = await Promise.all([buildBomb('gzip'), buildBomb('zstd')]);
    registry = await startRegistry();
    for (const [kind, bomb] of [['gzip', gzip], ['zstd', zstd]] as const) {
      const dir = path.join(root, `bomb-${kind}`);
      await writeBombLayout(dir, bomb);
      images[`oci ${kind}`] = `oci:${dir}:bomb`;
    }
    await skopeoCopy(images['oci zstd']!, `oci-archive:${path.join(root, 'bomb-zstd.tar')}`);
    images['oci-archive zstd'] = `oci-archive:${path.join(root, 'bomb-zstd.tar')}`;
    await writeBombDockerArchive(path.join(root, 'bomb-gzip-docker.tar'), gzip);
    images['docker-archive gzip'] = `docker-archive:${path.join(root, 'bomb-gzip-docker.tar')}`;
    // gzip is covered by oci and docker-archive; the registry carries the codec fzstd needed help with.
    await registry.push(images['oci zstd']!, 'bomb/zstd:1');
    images['registry zstd'] = `${registry.host}/bomb/zstd:1`;
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
    await db?.drop();
  });

  function scanUnderTime(image: string): Promise<{ code: number | null; stderr: string; peakKiB: number }> {
    const env = cleanEnv(db ? { PALISADE_DATABASE_URL: db.url } : { PALISADE_DATA_DIR: path.join(root, 'data') });
    return new Promise((resolve, reject) => {
      const child = spawn('/usr/bin/time', ['-f', 'peak-rss-kib=%M', process.execPath, PALISADE_BIN, 'scan', '--insecure', '--format', 'json', image], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr, peakKiB: Number(/peak-rss-kib=(\d+)/.exec(stderr)?.[1] ?? NaN) });
      });
    });
  }

  it('refuses each bomb with the layer and the limit named, in under 512 MiB', async () => {
    expect(gzip.bytes).toBeGreaterThanOrEqual(10 * 1024 ** 3);
    expect(zstd.bytes).toBeGreaterThanOrEqual(10 * 1024 ** 3);
    expect(gzip.blob.length).toBeLessThan(16 * 1024 * 1024);
    expect(zstd.blob.length).toBeLessThan(1024 * 1024);
    // The first scan creates the schema alone; the rest run two at a time (two cores).
    const names = Object.keys(images);
    const results: Record<string, Awaited<ReturnType<typeof scanUnderTime>>> = {};
    results[names[0]!] = await scanUnderTime(images[names[0]!]!);
    for (let i = 1; i < names.length; i += 2) {
      const pair = names.slice(i, i + 2);
      const done = await Promise.all(pair.map((n) => scanUnderTime(images[n]!)));
      pair.forEach((n, j) => (results[n] = done[j]!));
    }
    for (const name of names) {
      const r = results[name]!;
      const summary = `${name}: exit ${r.code}, peak ${r.peakKiB} KiB, ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`;
      expect(r.code, summary).toBe(1);
      expect(r.stderr, summary).toMatch(/layer sha256:[0-9a-f]{64}: expands more than 200× \(decompression bomb\?\)/);
      expect(r.peakKiB, summary).toBeLessThan(512 * 1024);
    }
    console.info(names.map((n) => `${n}: ${Math.round(results[n]!.peakKiB / 1024)} MiB`).join(', '));
  }, 240_000);
});
