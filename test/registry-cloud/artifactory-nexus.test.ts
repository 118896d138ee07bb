import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, ManualClock, systemClock } from '../../src/core/index.js';
import { openImage } from '../../src/image/index.js';
import { clientOptions, connectRegistry, pollRegistry, registryAccess } from '../../src/registry/index.js';
import { buildApp } from '../../src/server/index.js';
import { createToken, getRegistry } from '../../src/store/index.js';
import { bearer } from '../support/app.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { storeWithScanQueue, type StoreWithScanQueue } from '../support/scan-queue.js';
import { registryAvailable, startRegistry, type LocalRegistry } from '../registry/registry.js';
import { json, startLoopback, type Loopback } from './loopback.js';

const SAMPLES = path.join(import.meta.dirname, '../../src/registry/connectors/samples');
const sample = (name: string) => readFileSync(path.join(SAMPLES, name), 'utf8');
const secretKey = 'a-test-secret-key-of-at-least-32-characters';

/** Artifactory's and Nexus' webhooks (samples/README.md), over loopback HTTP to a listening Palisade. */
describe('Artifactory and Nexus webhooks over loopback HTTP', () => {
  let q: StoreWithScanQueue;
  let app: FastifyInstance;
  let admin: string;
  let base: string;

  beforeAll(async () => {
    q = await storeWithScanQueue('artifactory-nexus');
    app = await buildApp({ config: loadConfig({ env: { PALISADE_SECRET_KEY: secretKey }, flags: {} }), store: q.store, jobs: q.jobs, clock: systemClock });
    admin = (await createToken(q.store.db, 'admin', 'test admin')).secret;
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await q?.close();
  });

  async function connect(body: Record<string, unknown>): Promise<Response> {
    return fetch(`${base}/api/v1/registries`, { method: 'POST', headers: { ...bearer(admin), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  const queued = (registry: string) => q.queuedScanRequests(registry);

  it('Artifactory: the docker pushed event with the custom Authorization header, against the repository API path', async () => {
    const response = await connect({ name: 'jfrog', kind: 'artifactory', url: 'https://acme.jfrog.io/artifactory/api/docker/docker-remote-cache' });
    expect(response.status).toBe(201);
    const { token, snippet, registry } = (await response.json()) as { token: string; snippet: string; registry: { url: string } };
    expect(registry.url).toBe('https://acme.jfrog.io/artifactory/api/docker/docker-remote-cache');
    expect(snippet).toContain(`Custom header: Authorization = Bearer ${token}`);
    const event = { domain: 'docker', event_type: 'pushed', data: JSON.parse(sample('artifactory-docker-pushed.json')), subscription_key: 'palisade', jpd_origin: 'https://acme.jfrog.io', source: 'jfrog/admin' };
    const pushed = await fetch(`${base}/ingest/registry/jfrog`, { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify(event) });
    expect(pushed.status).toBe(202);
    expect(await queued('jfrog')).toEqual([{ repository: 'library/ubuntu', digest: 'sha256:35c4a2c15539c6c1e4e5fa4e554dac323ad0107d8eb5c582d6ff386b383b7dce', tag: 'latest' }]);
    const bad = await fetch(`${base}/ingest/registry/jfrog`, { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify({ ...event, data: { ...event.data, sha256: 'sample_checksum' } }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'registry.webhook.malformed', message: expect.stringContaining('data.sha256') });
  });

  it('refuses an Artifactory or Nexus URL whose path is not a Docker API path, naming the field', async () => {
    for (const [kind, url] of [['artifactory', 'https://acme.jfrog.io/ui/repos'], ['nexus', 'https://nexus.example.com/service/rest/v1']]) {
      const response = await connect({ name: `bad-${kind}`, kind, url });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'registry.url', message: expect.stringContaining('Docker API path') });
    }
  });

  it('Nexus: the recorded signed delivery is taken; a changed body or signature is refused with 401 and queues nothing', async () => {
    const key = sample('nexus-component-created.key');
    const response = await connect({ name: 'nexus', kind: 'nexus', url: 'https://nexus.example.com/repository/app1', webhookSecret: key });
    expect(response.status).toBe(201);
    const { token, snippet } = (await response.json()) as { token: string; snippet: string };
    expect(snippet).toContain(`Secret Key: ${key}`);
    expect(snippet).toContain(`/ingest/registry/nexus?token=${token}`);
    const headers = { 'content-type': 'application/json; charset=UTF-8', 'x-nexus-webhook-id': 'rm:repository:component', 'x-nexus-webhook-delivery': 'bd9e6aef-0e27-4570-980d-f639c49ab5ed' };
    const url = `${base}/ingest/registry/nexus?token=${token}`;
    const forged = await fetch(url, { method: 'POST', headers: { ...headers, 'x-nexus-webhook-signature': 'd06eea380d4631e8c1180b689d10d9ba83ab68f6' }, body: sample('nexus-component-created.json').replace('"3.4"', '"3.5"') });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ code: 'registry.webhook.signature' });
    const unsigned = await fetch(url, { method: 'POST', headers, body: sample('nexus-component-created.json') });
    expect(unsigned.status).toBe(401);
    expect(await queued('nexus')).toEqual([]);
    const signed = await fetch(url, { method: 'POST', headers: { ...headers, 'x-nexus-webhook-signature': 'd06eea380d4631e8c1180b689d10d9ba83ab68f6' }, body: sample('nexus-component-created.json') });
    expect(signed.status).toBe(202);
    expect(await queued('nexus')).toEqual([{ repository: 'app1/alpine', tag: '3.4' }]);
  });

  it('Nexus: without a secret given, Palisade makes one, shows it once in the snippet, and checks deliveries with it', async () => {
    const response = await connect({ name: 'nexus-port', kind: 'nexus', url: 'https://nexus.example.com:8083' });
    const { token, snippet } = (await response.json()) as { token: string; snippet: string };
    const secret = /Secret Key: (\S+)/.exec(snippet)![1]!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const body = sample('nexus-component-created.json');
    const signature = createHmac('sha1', secret).update(body).digest('hex');
    const signed = await fetch(`${base}/ingest/registry/nexus-port?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-nexus-webhook-signature': signature }, body });
    expect(signed.status).toBe(202);
    const other = await fetch(`${base}/ingest/registry/nexus-port?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-nexus-webhook-signature': 'd06eea380d4631e8c1180b689d10d9ba83ab68f6' }, body });
    expect(other.status).toBe(401);
  });
});

/**
 * Pulling and polling through Artifactory's and Nexus' repository API paths: a loopback front serves
 * a real docker-registry's API under `/artifactory/api/docker/KEY/v2/` or `/repository/NAME/v2/` only,
 * with `/v2/_catalog` refused (as ECR, Artifact Registry and many tokens refuse it).
 */
describe.skipIf(!fixturesAvailable() || !registryAvailable())('Artifactory and Nexus API paths; polling without a catalog', () => {
  let q: StoreWithScanQueue;
  let registry: LocalRegistry;
  let front: Loopback;
  let digest: string;
  const clock = new ManualClock('2026-06-30T12:00:00Z');
  const PREFIXES = ['/artifactory/api/docker/docker-local', '/repository/docker-hosted'];

  beforeAll(async () => {
    q = await storeWithScanQueue('api-paths');
    registry = await startRegistry();
    await registry.push(`oci:${fixture('images', 'debian12')}:minbase`, 'demo/base:1');
    await registry.push(`oci:${fixture('images', 'debian12')}:app`, 'demo/app:1');
    front = await startLoopback((request, response, proxy) => {
      const prefix = PREFIXES.find((p) => request.url.startsWith(`${p}/v2/`));
      if (!prefix) return json(response, 404, { errors: [{ code: 'NOT_FOUND' }] });
      const rest = request.url.slice(prefix.length);
      if (rest.startsWith('/v2/_catalog') && prefix.startsWith('/artifactory')) return json(response, 403, { errors: [{ code: 'DENIED' }] });
      proxy(registry.url, rest);
    });
    digest = (await fetch(`${registry.url}/v2/demo/base/manifests/1`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } })).headers.get('docker-content-digest')!;
    await connectRegistry(q.store, { name: 'art', kind: 'artifactory', url: `${front.url}/artifactory/api/docker/docker-local`, poll: true, repositories: ['demo/base'], secretKey, actor: 'test', clock });
    await connectRegistry(q.store, { name: 'nx', kind: 'nexus', url: `${front.url}/repository/docker-hosted`, poll: true, secretKey, actor: 'test', clock });
  }, 180_000);
  afterAll(async () => {
    await front?.close();
    await registry?.stop();
    await q?.close();
  });

  it('pulls an image through the repository API path, every request under it', async () => {
    const access = await registryAccess(await getRegistry(q.store.db, 'art'), { secretKey });
    const before = front.requests.length;
    const source = await openImage({ transport: 'registry', reference: { registry: access.host, repository: 'demo/base', tag: '1' } }, clientOptions(access));
    await source.close();
    expect(source.manifestDigest).toBe(digest);
    const requests = front.requests.slice(before);
    expect(requests.length).toBeGreaterThan(1);
    expect(requests.every((r) => r.url.startsWith('/artifactory/api/docker/docker-local/v2/demo/base/'))).toBe(true);
  });

  it('polls the configured repositories without asking for the catalog', async () => {
    const before = front.requests.length;
    const result = await pollRegistry({ store: q.store, jobs: q.jobs, clock, config: { secretKey } }, await getRegistry(q.store.db, 'art'));
    expect(result).toEqual({ repositories: 1, tags: 1, newImages: 1, scansQueued: 1, invalidNames: 0, source: 'configured' });
    expect(front.requests.slice(before).some((r) => r.url.includes('_catalog'))).toBe(false);
    const images = await q.store.db.selectFrom('images').select(['repository', 'digest', 'tags']).where('registry', '=', 'art').execute();
    expect(images).toEqual([{ repository: 'demo/base', digest, tags: ['1'] }]);
  });

  it('polls a registry with no repositories listed through its catalog, under the Nexus path', async () => {
    const result = await pollRegistry({ store: q.store, jobs: q.jobs, clock, config: { secretKey } }, await getRegistry(q.store.db, 'nx'));
    expect(result).toMatchObject({ repositories: 2, tags: 2, newImages: 2, source: 'catalog' });
  });

  it('refuses listed repositories outside the distribution grammar, naming the entry', async () => {
    await expect(connectRegistry(q.store, { name: 'bad', kind: 'distribution', url: registry.url, repositories: ['demo/base', '../../v2/_catalog'], secretKey, actor: 'test', clock }))
      .rejects.toMatchObject({ code: 'registry.repositories', field: 'repositories[1]' });
  });
});
