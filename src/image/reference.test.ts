import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatReference, parseImageSource, parseReference, parseWrittenReference } from './reference.js';
import { dockerConfigCredentials, parseChallenges } from './registry/auth.js';
import { parsePlatform, selectPlatform } from './oci.js';

describe('image references', () => {
  it.each([
    ['nginx', 'docker.io', 'library/nginx', 'latest', undefined],
    ['nginx:1.27', 'docker.io', 'library/nginx', '1.27', undefined],
    ['bitnami/redis', 'docker.io', 'bitnami/redis', 'latest', undefined],
    ['index.docker.io/library/alpine:3.19', 'docker.io', 'library/alpine', '3.19', undefined],
    ['ghcr.io/org/team/app:v1.2.3', 'ghcr.io', 'org/team/app', 'v1.2.3', undefined],
    ['localhost/app', 'localhost', 'app', 'latest', undefined],
    ['localhost:5000/app:dev', 'localhost:5000', 'app', 'dev', undefined],
    ['127.0.0.1:5000/demo/app@sha256:' + 'a'.repeat(64), '127.0.0.1:5000', 'demo/app', undefined, 'sha256:' + 'a'.repeat(64)],
    ['registry.local:8443/app:1@sha256:' + 'b'.repeat(64), 'registry.local:8443', 'app', '1', 'sha256:' + 'b'.repeat(64)],
  ])('%s', (input, registry, repository, tag, digest) => {
    const ref = parseReference(input);
    expect(ref).toEqual({ registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) });
    expect(parseReference(formatReference(ref))).toEqual(ref);
  });

  it.each(['', 'app/UPPER', 'app:bad tag', 'app@sha256:short', 'a//b', 'app:-tag'])('rejects %j with a typed error', (input) => {
    expect(() => parseReference(input)).toThrow(expect.objectContaining({ code: 'image.reference.invalid', field: 'image' }));
  });

  it('reads a reference as a manifest writes it: no latest filled in, undefined for what is no reference', () => {
    expect(parseWrittenReference('nginx')).toEqual({ registry: 'docker.io', repository: 'library/nginx' });
    expect(parseWrittenReference('docker.io/nginx:1.27')).toEqual({ registry: 'docker.io', repository: 'library/nginx', tag: '1.27' });
    expect(parseWrittenReference('registry.example.com:5000/shop/app')).toEqual({ registry: 'registry.example.com:5000', repository: 'shop/app' });
    expect(parseWrittenReference('app@sha256:' + 'c'.repeat(64))).toEqual({ registry: 'docker.io', repository: 'library/app', digest: 'sha256:' + 'c'.repeat(64) });
    for (const bad of ['', 'app/UPPER', 'app:bad tag', 'app@sha256:short']) expect(parseWrittenReference(bad)).toBeUndefined();
  });

  it('splits transports the way skopeo does', () => {
    expect(parseImageSource('oci:/images/debian12:app')).toEqual({ transport: 'oci', path: '/images/debian12', tag: 'app' });
    expect(parseImageSource('oci:./layout')).toEqual({ transport: 'oci', path: './layout' });
    expect(parseImageSource('oci-archive:/tmp/a.tar:v1')).toEqual({ transport: 'oci-archive', path: '/tmp/a.tar', tag: 'v1' });
    expect(parseImageSource('docker-archive:/tmp/s.tar:demo/app:1')).toEqual({ transport: 'docker-archive', path: '/tmp/s.tar', name: 'demo/app:1' });
    expect(parseImageSource('docker://alpine')).toMatchObject({ transport: 'registry', reference: { registry: 'docker.io', repository: 'library/alpine' } });
    expect(parseImageSource('localhost:5000/app')).toMatchObject({ transport: 'registry', reference: { registry: 'localhost:5000', repository: 'app' } });
    expect(() => parseImageSource('docker:alpine')).toThrow(expect.objectContaining({ code: 'image.reference.invalid' }));
  });
});

describe('registry auth', () => {
  it('parses bearer and basic challenges, including quoted commas', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull,push' } },
    ]);
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    expect(parseChallenges(null)).toEqual([]);
  });

  it('reads docker config.json auths, Docker Hub under its v1 URL', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'palisade-auth-'));
    try {
      const file = path.join(dir, 'config.json');
      await writeFile(
        file,
        JSON.stringify({
          auths: {
            'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hub:pass').toString('base64') },
            'registry.local:5000': { username: 'u', password: 'p' },
          },
          credsStore: 'desktop',
        }),
      );
      expect(await dockerConfigCredentials('docker.io', file)).toEqual({ username: 'hubuser', password: 'hub:pass' });
      expect(await dockerConfigCredentials('registry.local:5000', file)).toEqual({ username: 'u', password: 'p' });
      expect(await dockerConfigCredentials('other.io', file)).toBeUndefined();
      expect(await dockerConfigCredentials('docker.io', path.join(dir, 'missing.json'))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('platform selection', () => {
  const d = (os: string, architecture: string, variant?: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${architecture}${variant ?? ''}`, size: 1, platform: { os, architecture, ...(variant ? { variant } : {}) } });
  const index = { mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [d('linux', 'amd64'), d('linux', 'arm', 'v7'), d('linux', 'arm64', 'v8'), d('windows', 'amd64')] };
  it('picks the requested platform; arm64 matches v8 without a variant', () => {
    expect(selectPlatform(index, parsePlatform('linux/amd64'), 'x').digest).toBe('sha256:amd64');
    expect(selectPlatform(index, parsePlatform('linux/arm64'), 'x').digest).toBe('sha256:arm64v8');
    expect(selectPlatform(index, parsePlatform('linux/arm/v7'), 'x').digest).toBe('sha256:armv7');
  });
  it('names the available platforms when the one asked for is missing', () => {
    expect(() => selectPlatform(index, parsePlatform('linux/s390x'), 'x')).toThrow(expect.objectContaining({ code: 'image.platform.missing', hint: expect.stringContaining('linux/arm64/v8') }));
    expect(() => parsePlatform('amd64')).toThrow(expect.objectContaining({ code: 'image.platform.invalid' }));
  });
});
