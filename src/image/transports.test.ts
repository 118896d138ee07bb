import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { registryAvailable, skopeoCopy, startRegistry, startTokenServer, type LocalRegistry, type TokenServer } from '../../test/registry/registry.js';
import { inventoryImage, openImage, analyzeImage, memoryLayerCache, type ImageAnalysis } from './index.js';

const run = promisify(execFile);
const LAYOUT = fixture('images/debian12');
const BASE_LAYER = '00d1cae82d0e88e2c95a35f50cf516bad52946bd7ada6504d89ffe78809fc2e1';
const APP_LAYER = '319598cc5b34cf4ab2836f6fb6955cdd59b49109b50c506476dd7f846bbfc8b1';

describe.skipIf(!fixturesAvailable() || !registryAvailable())('debian12 app image through every transport', () => {
  let dir: string;
  let open: LocalRegistry;
  let locked: LocalRegistry;
  let fromLayout: ImageAnalysis;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'palisade-image-test-'));
    [open, locked] = await Promise.all([startRegistry(), startRegistry({ basicAuth: { username: 'scanner', password: 's3cret-pass' } })]);
    await Promise.all([
      skopeoCopy(`oci:${LAYOUT}:app`, `oci-archive:${dir}/app-oci.tar:app`),
      skopeoCopy(`oci:${LAYOUT}:app`, `docker-archive:${dir}/app-docker.tar:demo/app:1`),
      open.push(`oci:${LAYOUT}:app`, 'demo/app:1'),
      locked.push(`oci:${LAYOUT}:app`, 'private/app:1'),
    ]);
    fromLayout = await inventoryImage(`oci:${LAYOUT}:app`);
  });

  afterAll(async () => {
    await Promise.all([open?.stop(), locked?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists exactly the packages dpkg-query reports for the image root filesystem', async () => {
    // Ground truth from Debian's own tools: the final status file (top layer) read by dpkg-query.
    const admin = path.join(dir, 'admin');
    await mkdir(admin, { recursive: true });
    await run('tar', ['-xzf', fixture('images/debian12/blobs/sha256', APP_LAYER), '-C', admin, '--strip-components=3', 'var/lib/dpkg/status']);
    const { stdout } = await run('dpkg-query', [`--admindir=${admin}`, '-W', '-f', '${db:Status-Abbrev}\t${Package}\t${Version}\n']);
    const expected = stdout.split('\n').filter((l) => l.startsWith('ii')).map((l) => l.split('\t').slice(1).join('@')).sort();
    const debian = fromLayout.inventory.packages.filter((p) => p.ecosystem === 'Debian').map((p) => `${p.name}@${p.version}`).sort();
    expect(expected.length).toBeGreaterThan(100);
    expect(debian).toEqual(expected);
    expect(fromLayout.inventory.os).toMatchObject({ id: 'debian', version: '12', ecosystem: 'Debian:12' });
  });

  it('lists the npm packages installed in /app with the layer that added them', async () => {
    const root = path.join(dir, 'rootfs');
    await mkdir(root, { recursive: true });
    await run('tar', ['-xzf', fixture('images/debian12/blobs/sha256', APP_LAYER), '-C', root, 'app/node_modules']);
    // Walk node_modules the way Node resolves it: each package dir, its @scope dirs, and nested node_modules.
    const expected: string[] = [];
    const walk = async (modules: string): Promise<void> => {
      for (const name of await readdir(modules).catch(() => [] as string[])) {
        if (name.startsWith('.')) continue;
        if (name.startsWith('@')) {
          for (const scoped of await readdir(path.join(modules, name))) await visit(path.join(modules, name, scoped));
        } else await visit(path.join(modules, name));
      }
    };
    const visit = async (dir: string) => {
      const doc = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { name: string; version: string };
      expected.push(`${doc.name}@${doc.version}`);
      await walk(path.join(dir, 'node_modules'));
    };
    await walk(path.join(root, 'app/node_modules'));
    const npm = fromLayout.inventory.packages.filter((p) => p.ecosystem === 'npm');
    expect(npm.map((p) => `${p.name}@${p.version}`).sort()).toEqual(expected.sort());
    expect(npm.map((p) => p.name)).toEqual(expect.arrayContaining(['lodash', 'minimist', 'express']));
    expect(npm.find((p) => p.name === 'lodash')).toMatchObject({ version: '4.17.20', purl: 'pkg:npm/lodash@4.17.20', path: 'app/node_modules/lodash/package.json' });
    const appDiffId = fromLayout.image.layers[1]!.diffId;
    expect(npm.every((p) => p.layer === appDiffId)).toBe(true);
    // curl arrived with the second layer, bash with the first.
    const debian = fromLayout.inventory.packages.filter((p) => p.ecosystem === 'Debian');
    expect(debian.find((p) => p.name === 'curl')?.layer).toBe(appDiffId);
    expect(debian.find((p) => p.name === 'bash')?.layer).toBe(fromLayout.image.layers[0]!.diffId);
  });

  it('gives the identical inventory from oci-archive:, docker-archive: and the registry', async () => {
    const [ociArchive, dockerArchive, registry] = await Promise.all([
      inventoryImage(`oci-archive:${dir}/app-oci.tar`),
      inventoryImage(`docker-archive:${dir}/app-docker.tar`),
      inventoryImage(`docker://${open.host}/demo/app:1`, { insecure: true }),
    ]);
    for (const other of [ociArchive, dockerArchive, registry]) {
      expect(other.inventory).toEqual(fromLayout.inventory);
      expect(other.image.id).toBe(fromLayout.image.id);
    }
    expect(registry.image.digest).toBe(fromLayout.image.digest);
    expect(registry.image.layers.map((l) => l.digest)).toEqual([`sha256:${BASE_LAYER}`, `sha256:${APP_LAYER}`]);
  });

  it('pulls from a registry with basic auth given credentials, and refuses without', async () => {
    await expect(inventoryImage(`${locked.host}/private/app:1`, { insecure: true, dockerConfig: path.join(dir, 'none.json') })).rejects.toMatchObject({
      code: 'registry.unauthorized',
    });
    const withCreds = await inventoryImage(`${locked.host}/private/app:1`, { insecure: true, credentials: locked.credentials! });
    expect(withCreds.inventory).toEqual(fromLayout.inventory);
  });

  it.skipIf(!existsSync('/usr/bin/openssl'))('walks the bearer-token flow of a real registry behind a token server', async () => {
    const tokenDir = path.join(dir, 'token');
    await mkdir(tokenDir, { recursive: true });
    let tokens: TokenServer | undefined;
    let guarded: LocalRegistry | undefined;
    try {
      tokens = await startTokenServer(tokenDir, { ci: 'token-pass' });
      guarded = await startRegistry({ tokenAuth: { server: tokens, credentials: { username: 'ci', password: 'token-pass' } } });
      await guarded.push(`oci:${LAYOUT}:minbase`, 'team/base:1');
      const anonymous = await fetch(`${guarded.url}/v2/team/base/manifests/1`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toContain(tokens.realm);
      const pulled = await inventoryImage(`${guarded.host}/team/base:1`, { insecure: true, credentials: { username: 'ci', password: 'token-pass' } });
      expect(pulled.inventory.packages.length).toBeGreaterThan(80);
      expect(tokens.requests.some((u) => u.includes('scope=repository%3Ateam%2Fbase%3Apull'))).toBe(true);
      await expect(inventoryImage(`${guarded.host}/team/base:1`, { insecure: true, credentials: { username: 'ci', password: 'wrong' } })).rejects.toMatchObject({ code: 'registry.unauthorized' });
    } finally {
      await guarded?.stop();
      await tokens?.close();
    }
  });

  it('reads credentials from a docker config.json', async () => {
    const config = path.join(dir, 'docker-config.json');
    const auth = Buffer.from('scanner:s3cret-pass').toString('base64');
    await writeFile(config, JSON.stringify({ auths: { [locked.host]: { auth } } }));
    const result = await inventoryImage(`docker://${locked.host}/private/app@${fromLayout.image.digest}`, { insecure: true, dockerConfig: config });
    expect(result.inventory.packages.length).toBe(fromLayout.inventory.packages.length);
  });

  it('reads a shared base layer once: the second image comes from the cache', async () => {
    const cache = memoryLayerCache();
    const opened: string[] = [];
    const analyze = async (image: string) => {
      const source = await openImage(image, { insecure: true });
      const openLayer = source.openLayer.bind(source);
      source.openLayer = (layer) => {
        opened.push(layer.digest);
        return openLayer(layer);
      };
      try {
        return await analyzeImage(source, { cache });
      } finally {
        await source.close();
      }
    };
    const app = await analyze(`${open.host}/demo/app:1`);
    expect(opened).toHaveLength(2);
    await open.push(`oci:${LAYOUT}:minbase`, 'demo/minbase:1');
    const minbase = await analyze(`${open.host}/demo/minbase:1`);
    expect(opened).toHaveLength(2);
    expect(minbase.image.layers[0]!.cached).toBe(true);
    expect(minbase.inventory.packages.length).toBeLessThan(app.inventory.packages.length);
    expect(minbase.inventory.packages.some((p) => p.name === 'curl')).toBe(false);
    const again = await analyze(`${open.host}/demo/app:1`);
    expect(opened).toHaveLength(2);
    expect(again.inventory).toEqual(app.inventory);
  });

  it('reads a Docker schema 2 manifest and zstd-compressed layers to the same inventory', async () => {
    // Push again as Docker schema 2 (skopeo converts the manifest and config media types).
    await skopeoCopy(`oci:${LAYOUT}:app`, `docker://${open.host}/demo/docker-format:1`, ['--dest-tls-verify=false', '--format', 'v2s2']);
    const manifest = await fetch(`${open.url}/v2/demo/docker-format/manifests/1`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
    expect(manifest.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
    const docker = await inventoryImage(`${open.host}/demo/docker-format:1`, { insecure: true });
    expect(docker.inventory).toEqual(fromLayout.inventory);

    await skopeoCopy(`oci:${LAYOUT}:app`, `oci:${dir}/zstd:app`, ['--dest-compress-format', 'zstd']);
    const zstd = await inventoryImage(`oci:${dir}/zstd:app`);
    expect(zstd.image.layers.map((l) => l.digest)).not.toEqual(fromLayout.image.layers.map((l) => l.digest));
    expect(zstd.inventory).toEqual(fromLayout.inventory);
  }, 180_000); // skopeo recompresses or pushes the whole Debian image; slow on a loaded 2-core machine

  it('picks the platform from a multi-platform index pushed to the registry', async () => {
    // An index over the real app image (amd64) and a copy of its config marked arm64/v8.
    const multi = path.join(dir, 'multi');
    await mkdir(path.join(multi, 'blobs/sha256'), { recursive: true });
    const blob = (d: string) => fixture('images/debian12/blobs/sha256', d.slice(7));
    const put = async (data: Buffer) => {
      const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      await writeFile(path.join(multi, 'blobs/sha256', digest.slice(7)), data);
      return { digest, size: data.length };
    };
    const amdManifest = await readFile(blob(fromLayout.image.digest!));
    const manifestDoc = JSON.parse(amdManifest.toString()) as { config: { digest: string; size: number }; layers: Array<{ digest: string }> };
    for (const l of manifestDoc.layers) await symlink(blob(l.digest), path.join(multi, 'blobs/sha256', l.digest.slice(7)));
    await put(await readFile(blob(manifestDoc.config.digest)));
    await put(amdManifest);
    const armConfig = JSON.parse((await readFile(blob(manifestDoc.config.digest))).toString()) as Record<string, unknown>;
    const armConfigRef = await put(Buffer.from(JSON.stringify({ ...armConfig, architecture: 'arm64', variant: 'v8' })));
    const armManifest = await put(Buffer.from(JSON.stringify({ ...manifestDoc, config: { ...manifestDoc.config, ...armConfigRef } })));
    const index = await put(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [
            { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: armManifest.digest, size: armManifest.size, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
            { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: fromLayout.image.digest, size: amdManifest.length, platform: { os: 'linux', architecture: 'amd64' } },
          ],
        }),
      ),
    );
    await writeFile(path.join(multi, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(path.join(multi, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', ...index, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] }));
    await skopeoCopy(`oci:${multi}:multi`, `docker://${open.host}/demo/multi:1`, ['--all', '--dest-tls-verify=false']);

    const amd = await inventoryImage(`${open.host}/demo/multi:1`, { insecure: true });
    expect(amd.image).toMatchObject({ digest: fromLayout.image.digest, platform: 'linux/amd64' });
    const arm = await inventoryImage(`${open.host}/demo/multi:1`, { insecure: true, platform: 'linux/arm64' });
    expect(arm.image).toMatchObject({ digest: armManifest.digest, platform: 'linux/arm64/v8' });
    expect(arm.inventory).toEqual(amd.inventory);
    await expect(inventoryImage(`${open.host}/demo/multi:1`, { insecure: true, platform: 'linux/s390x' })).rejects.toMatchObject({ code: 'image.platform.missing' });
  }, 180_000); // skopeo recompresses or pushes the whole Debian image; slow on a loaded 2-core machine

  it('reports an unknown tag and a missing platform clearly', async () => {
    await expect(inventoryImage(`${open.host}/demo/app:nope`, { insecure: true })).rejects.toMatchObject({ code: 'registry.not-found' });
    await expect(inventoryImage(`${open.host}/demo/app:1`, { insecure: true, platform: 'linux/arm64' })).rejects.toMatchObject({ code: 'image.platform.missing' });
    await expect(inventoryImage(`oci:${LAYOUT}:nope`)).rejects.toMatchObject({ code: 'image.tag.not-found' });
  });
});
