import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/index.js';
import { RegistryClient } from '../../src/image/index.js';
import { runServer, type RunningProcess } from '../../src/server/index.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { jsonOf } from '../support/http.js';
import { registryAvailable, startRegistry, startTokenServer, type LocalRegistry, type TokenServer } from '../registry/registry.js';

const ready = fixturesAvailable() && registryAvailable();

/** A host nobody configured: 127.0.0.2 is loopback too, but another host than the registries' 127.0.0.1. */
interface ForeignHost {
  host: string;
  url: string;
  requests: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}

async function startForeignHost(): Promise<ForeignHost> {
  const requests: ForeignHost['requests'] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"stolen"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  const host = `127.0.0.2:${(server.address() as { port: number }).port}`;
  return { host, url: `http://${host}`, requests, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * Palisade's registry connectors and client cannot be steered to a host the user did not
 * configure, nor hand a registry's stored password to one: hostile webhook names are refused
 * (400, nothing stored or queued), and a token realm on a foreign host gets no credentials.
 */
describe.skipIf(!ready)('registry protection: no server-side request forgery, no credential leak', () => {
  let dir: string;
  let server: RunningProcess;
  let admin: string;
  let registry: LocalRegistry;
  let foreign: ForeignHost;
  let ingestToken: string;
  const login = { username: 'scanner', password: 'registry-s3cret' };
  const api = (url: string, init: RequestInit = {}) => fetch(`${server.url}${url}`, { ...init, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const deliver = (body: unknown) => fetch(`${server.url}/ingest/registry/private`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ingestToken}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
    body: JSON.stringify(body),
  });
  const push = (target: Record<string, unknown>) => ({
    events: [{ id: 'e1', timestamp: new Date().toISOString(), action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, repository: 'demo/app', tag: '1', ...target } }],
  });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-ssrf-'));
    foreign = await startForeignHost();
    const printed: string[] = [];
    server = await runServer(loadConfig({ env: { PALISADE_SECRET_KEY: 'k'.repeat(40) }, cwd: dir, flags: { dataDir: dir, port: 0, logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' } }), { print: (l) => printed.push(l) });
    admin = /pal_[\w-]+/.exec(printed.join('\n'))![0];
    ingestToken = (await jsonOf(api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ scope: 'registry:private' }) }))).secret as string;
    // A real registry behind basic auth, whose password Palisade stores: what an attacker would like to read.
    registry = await startRegistry({ basicAuth: login, notifications: { url: `${server.url}/ingest/registry/private`, token: ingestToken } });
    const connected = await api('/api/v1/registries', { method: 'POST', body: JSON.stringify({ name: 'private', url: registry.url, kind: 'distribution', ...login }) });
    expect(connected.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
    await server?.stop().catch(() => {});
    await foreign?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses webhooks whose names would steer a scan to another host or path, stores nothing, and the foreign host hears nothing', async () => {
    const hostile: Array<[string, Record<string, unknown>, string, string]> = [
      ['an absolute URL as repository', { repository: `http://${foreign.host}/x` }, 'registry.webhook.invalid_repository', 'events[0].target.repository'],
      ['a scheme-relative URL as repository', { repository: `//${foreign.host}/x` }, 'registry.webhook.invalid_repository', 'events[0].target.repository'],
      ['a path climbing to the catalog', { repository: '../../v2/_catalog?x=' }, 'registry.webhook.invalid_repository', 'events[0].target.repository'],
      ['a 100 KB repository name', { repository: 'a'.repeat(100_000) }, 'registry.webhook.invalid_repository', 'events[0].target.repository'],
      ['a 256-character repository name', { repository: `a/${'b'.repeat(254)}` }, 'registry.webhook.invalid_repository', 'events[0].target.repository'],
      ['an encoded slash in the repository', { repository: 'demo%2F..%2Fx' }, 'registry.webhook.invalid_repository', 'events[0].target.repository'],
      ['a tag with a path and a host', { tag: `../../..//${foreign.host}/x` }, 'registry.webhook.invalid_tag', 'events[0].target.tag'],
      ['a tag with a query', { tag: '1?n=1000' }, 'registry.webhook.invalid_tag', 'events[0].target.tag'],
      ['a digest with a path', { digest: `sha256:${'a'.repeat(64)}/../../_catalog` }, 'registry.webhook.invalid_digest', 'events[0].target.digest'],
      ['a digest of unknown length', { digest: `sha256:${'a'.repeat(63)}` }, 'registry.webhook.invalid_digest', 'events[0].target.digest'],
    ];
    for (const [what, target, code, field] of hostile) {
      const response = await deliver(push(target));
      const body = await response.json() as { code: string; message: string };
      expect({ what, status: response.status, code: body.code }).toEqual({ what, status: 400, code });
      expect(body.message).toContain(field);
      expect(body.message.length).toBeLessThan(600);
    }
    // One hostile event refuses the whole delivery: its valid neighbour is not stored either.
    const mixed = await deliver({ events: [push({ repository: 'demo/fine' }).events[0], push({ repository: `//${foreign.host}/x` }).events[0]] });
    expect(mixed.status).toBe(400);

    // A real push through the same registry and webhook is scanned: the scan worker was running
    // all along, and would have reached anything the refused webhooks had queued.
    await registry.push(`oci:${fixture('images', 'debian12')}:minbase`, 'demo/app:1');
    const deadline = Date.now() + 120_000;
    let images: Array<{ repository: string; lastScanned: string | null }> = [];
    while (Date.now() < deadline) {
      images = (await jsonOf(api('/api/v1/images?registry=private'))).items;
      if (images.some((i) => i.lastScanned)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(images.map((i) => i.repository)).toEqual(['demo/app']);
    expect(images[0]!.lastScanned).not.toBeNull();
    expect(foreign.requests).toEqual([]);
  }, 240_000);

  it.skipIf(!existsSync('/usr/bin/openssl'))('sends no stored password to a token realm on a foreign host, and sends it only where the user allowed', async () => {
    // A real registry with token auth whose challenge points the realm at the foreign host.
    const tokenDir = path.join(dir, 'token');
    await mkdir(tokenDir, { recursive: true });
    let tokens: TokenServer | undefined;
    let guarded: LocalRegistry | undefined;
    try {
      tokens = await startTokenServer(tokenDir, {});
      guarded = await startRegistry({ tokenAuth: { server: { ...tokens, realm: `${foreign.url}/token` }, credentials: login } });
      const challenge = await fetch(`${guarded.url}/v2/demo/app/manifests/1`);
      expect(challenge.status).toBe(401);
      expect(challenge.headers.get('www-authenticate')).toContain(`realm="${foreign.url}/token"`);

      const client = new RegistryClient(guarded.host, 'demo/app', { insecure: true, credentials: login });
      await expect(client.getManifest('1')).rejects.toMatchObject({ code: 'registry.auth.realm-not-allowed', message: expect.stringContaining(foreign.host) });
      expect(foreign.requests).toEqual([]);

      // Allowed by the user (the registry's tokenRealms): the realm is asked, with the credentials.
      const allowed = new RegistryClient(guarded.host, 'demo/app', { insecure: true, credentials: { ...login, tokenRealms: ['127.0.0.2'] } });
      await expect(allowed.getManifest('1')).rejects.toMatchObject({ code: 'registry.unauthorized' });
      expect(foreign.requests.map((r) => r.headers.authorization)).toEqual([`Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}`]);
    } finally {
      foreign.requests.length = 0;
      await guarded?.stop();
      await tokens?.close();
    }
  }, 120_000);
});
