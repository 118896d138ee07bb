import { createServer, type IncomingHttpHeaders, type RequestListener } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient } from './client.js';
import { encodeRepositoryPath } from './origin.js';

interface Host { host: string; requests: Array<{ url: string; headers: IncomingHttpHeaders }>; close(): Promise<void> }

const open: Host[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

/** A loopback HTTP server on `address` (127.0.0.1 for the registry, 127.0.0.2 for a host nobody configured). */
async function serve(address: string, handler: RequestListener): Promise<Host> {
  const requests: Host['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const host: Host = { host: `${address}:${(server.address() as { port: number }).port}`, requests, close: () => new Promise((r) => server.close(() => r())) };
  open.push(host);
  return host;
}

const login = { username: 'u', password: 'secret-pass' };
const digest = `sha256:${'b'.repeat(64)}`;

describe('registry client: requests stay on the configured registry', () => {
  it('percent-encodes every path segment and refuses dot segments', () => {
    expect(encodeRepositoryPath('team/app')).toBe('team/app');
    expect(encodeRepositoryPath('a?b#c/d')).toBe('a%3Fb%23c/d');
    for (const hostile of ['../../v2/_catalog', 'a//b', '/a', 'a/.', 'x'.repeat(256)]) {
      expect(() => encodeRepositoryPath(hostile)).toThrow(expect.objectContaining({ code: 'registry.request.invalid_repository' }));
    }
  });

  it('asks the registry itself, never the host a name points at', async () => {
    const foreign = await serve('127.0.0.2', (_req, res) => res.writeHead(200).end('{}'));
    const registry = await serve('127.0.0.1', (_req, res) => res.writeHead(404).end());
    for (const reference of [`//${foreign.host}/x`, `http://${foreign.host}/x`, '../../_catalog?n=1']) {
      await new RegistryClient(registry.host, 'demo/app', { insecure: true }).getManifest(reference).catch(() => undefined);
    }
    expect(foreign.requests).toEqual([]);
    expect(registry.requests.map((r) => r.url)).toEqual([
      `/v2/demo/app/manifests/%2F%2F${foreign.host}%2Fx`,
      `/v2/demo/app/manifests/http:%2F%2F${foreign.host}%2Fx`,
      '/v2/demo/app/manifests/..%2F..%2F_catalog%3Fn%3D1',
    ]);
  });

  it('refuses a manifest redirect to another origin', async () => {
    const foreign = await serve('127.0.0.2', (_req, res) => res.writeHead(200).end('{}'));
    const registry = await serve('127.0.0.1', (_req, res) => res.writeHead(307, { location: `http://${foreign.host}/steal` }).end());
    const client = new RegistryClient(registry.host, 'demo/app', { insecure: true, credentials: login });
    await expect(client.getManifest('1')).rejects.toMatchObject({ code: 'registry.redirect.foreign' });
    expect(foreign.requests).toEqual([]);
  });

  it("does not answer a storage host's challenge with the registry's credentials", async () => {
    const foreign = await serve('127.0.0.2', (req, res) => {
      // The storage host names itself as the token realm: answering would send it the password.
      if (req.url?.startsWith('/storage')) res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="storage"` }).end();
      else res.writeHead(200).end('{"token":"t"}');
    });
    const registry = await serve('127.0.0.1', (_req, res) => res.writeHead(307, { location: `http://${foreign.host}/storage/blob` }).end());
    const client = new RegistryClient(registry.host, 'demo/app', { insecure: true, credentials: login });
    await expect(client.getBlob(digest, 1024)).rejects.toMatchObject({ code: 'registry.unauthorized' });
    expect(foreign.requests.map((r) => [r.url, r.headers.authorization])).toEqual([['/storage/blob', undefined]]);
  });
});
