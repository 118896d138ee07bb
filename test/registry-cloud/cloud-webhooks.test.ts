import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { loadConfig, systemClock } from '../../src/core/index.js';
import { buildApp } from '../../src/server/index.js';
import { createToken } from '../../src/store/index.js';
import { bearer } from '../support/app.js';
import { storeWithScanQueue, type StoreWithScanQueue } from '../support/scan-queue.js';

const SAMPLES = path.join(import.meta.dirname, '../../src/registry/connectors/samples');
const sample = (name: string) => readFileSync(path.join(SAMPLES, name), 'utf8');

/**
 * The cloud registries' events, as their services deliver them (samples/README.md cites each), sent
 * over loopback HTTP to a listening Palisade: the registry is connected with its kind, the event is
 * authenticated the way that service can send a token (an EventBridge connection's header; a URL
 * token for GitHub, Quay and Pub/Sub push), stored, and its image queued for scanning.
 */
describe('cloud registry webhooks over loopback HTTP', () => {
  // The real scan queue, its jobs only queued (never run): what a webhook decides to scan is read back.
  let q: StoreWithScanQueue;
  let app: FastifyInstance;
  let admin: string;
  let base: string;

  beforeAll(async () => {
    q = await storeWithScanQueue('cloud-webhooks');
    app = await buildApp({ config: loadConfig({ env: {}, flags: {} }), store: q.store, jobs: q.jobs, clock: systemClock });
    admin = (await createToken(q.store.db, 'admin', 'test admin')).secret;
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await q?.close();
  });

  async function connect(name: string, kind: string, url: string): Promise<{ token: string; snippet: string }> {
    const response = await fetch(`${base}/api/v1/registries`, { method: 'POST', headers: { ...bearer(admin), 'content-type': 'application/json' }, body: JSON.stringify({ name, url, kind }) });
    expect(response.status, await response.clone().text()).toBe(201);
    return (await response.json()) as { token: string; snippet: string };
  }

  const queued = (registry: string) => q.queuedScanRequests(registry);

  it('ECR: an EventBridge API destination sends the event with the connection\'s Authorization header', async () => {
    const { token, snippet } = await connect('ecr', 'ecr', 'https://123456789012.dkr.ecr.us-west-2.amazonaws.com');
    expect(snippet).toContain(`ApiKeyValue=Bearer ${token}`);
    const event = JSON.parse(sample('ecr-image-push.json'));
    // As documented the digest is cut short and refused, naming the field; completed, it is taken.
    const refused = await fetch(`${base}/ingest/registry/ecr`, { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify(event) });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ code: 'registry.webhook.invalid_digest' });
    event.detail['image-digest'] += 'abcd';
    const response = await fetch(`${base}/ingest/registry/ecr`, { method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: JSON.stringify(event) });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: 1, scansQueued: 1 });
    expect(await queued('ecr')).toEqual([{ repository: 'my-repository-name', digest: event.detail['image-digest'], tag: 'latest' }]);
  });

  it('GHCR: GitHub\'s package webhook with the token in the URL; its ping is accepted and ignored', async () => {
    const { token, snippet } = await connect('ghcr', 'ghcr', 'https://ghcr.io');
    expect(snippet).toContain(`/ingest/registry/ghcr?token=${token}`);
    const headers = { 'content-type': 'application/json', 'x-github-event': 'package', 'user-agent': 'GitHub-Hookshot/abc' };
    const response = await fetch(`${base}/ingest/registry/ghcr?token=${token}`, { method: 'POST', headers, body: sample('ghcr-package-published.json') });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: 1, ignored: 0, scansQueued: 1 });
    expect(await queued('ghcr')).toEqual([{ repository: 'codertocat/hello-world-npm', digest: 'sha256:3da1996a8115d7616457760d9920b815241d0a03b34cf5f04e9a0e9d8de37498' }]);
    const ping = await fetch(`${base}/ingest/registry/ghcr?token=${token}`, { method: 'POST', headers: { ...headers, 'x-github-event': 'ping' }, body: sample('github-ping.json') });
    expect(await ping.json()).toMatchObject({ accepted: 0, ignored: 1 });
    expect((await fetch(`${base}/ingest/registry/ghcr?token=pal_wrong`, { method: 'POST', headers, body: sample('ghcr-package-published.json') })).status).toBe(401);
  });

  it('Quay: a repository push notification names tags only; each is queued to be resolved when scanned', async () => {
    const { token } = await connect('quay', 'quay', 'https://quay.io');
    const response = await fetch(`${base}/ingest/registry/quay?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: sample('quay-repository-push.json') });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: 1 });
    expect(await queued('quay')).toEqual([{ repository: 'dgangaia/test', tag: 'latest' }]);
  });

  it('Artifact Registry: a Pub/Sub push delivery of the gcr topic', async () => {
    const { token, snippet } = await connect('gar', 'artifact-registry', 'https://gcr.io');
    expect(snippet).toContain(`--push-endpoint='${base.replace(/^http:\/\/127\.0\.0\.1:\d+/, 'https://PALISADE_HOST')}/ingest/registry/gar?token=${token}'`);
    const response = await fetch(`${base}/ingest/registry/gar?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: sample('artifact-registry-push.json') });
    expect(response.status).toBe(202);
    expect(await queued('gar')).toEqual([{ repository: 'freshly-docker/freshly', digest: 'sha256:17f4431497a07da98bc16e599ef9d38afb9817049b6e98b71b7e321b946a24d4', tag: 'PIG-267-refactor-email-service' }]);
    const images = await (await fetch(`${base}/api/v1/images?registry=gar`, { headers: bearer(admin) })).json() as { items: Array<{ repository: string; tags: string[] }> };
    expect(images.items).toEqual([expect.objectContaining({ repository: 'freshly-docker/freshly', tags: ['PIG-267-refactor-email-service'] })]);
  });
  it('ACR through Event Grid: the validation handshake is answered 200 with its code, then pushes are queued and deletes recorded', async () => {
    const { token, snippet } = await connect('acr-eg', 'acr', 'https://demo.azurecr.io');
    expect(snippet).toContain(`--endpoint '${base.replace(/^http:\/\/127\.0\.0\.1:\d+/, 'https://PALISADE_HOST')}/ingest/registry/acr-eg?token=${token}'`);
    const headers = { 'content-type': 'application/json', 'aeg-event-type': 'SubscriptionValidation' };
    const validation = await fetch(`${base}/ingest/registry/acr-eg?token=${token}`, { method: 'POST', headers, body: sample('eventgrid-subscription-validation.json') });
    expect(validation.status).toBe(200);
    expect(await validation.json()).toEqual({ validationResponse: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' });
    expect(await queued('acr-eg')).toEqual([]);
    // Without the registry's token the handshake fails: nobody else can subscribe this endpoint.
    expect((await fetch(`${base}/ingest/registry/acr-eg`, { method: 'POST', headers, body: sample('eventgrid-subscription-validation.json') })).status).toBe(401);
    const pushed = await fetch(`${base}/ingest/registry/acr-eg?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json', 'aeg-event-type': 'Notification' }, body: sample('acr-eventgrid-image-pushed.json') });
    expect(pushed.status).toBe(202);
    expect(await pushed.json()).toMatchObject({ accepted: 1, scansQueued: 1 });
    expect(await queued('acr-eg')).toEqual([{ repository: 'aci-helloworld', digest: 'sha256:213bbc182920ab41e18edc2001e06abcca6735d87782d9cef68abd83941cf0e5', tag: 'v1' }]);
    const deleted = await fetch(`${base}/ingest/registry/acr-eg?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: sample('acr-eventgrid-image-deleted.json') });
    expect(deleted.status).toBe(202);
    const images = await (await fetch(`${base}/api/v1/images?registry=acr-eg`, { headers: bearer(admin) })).json() as { items: unknown[] };
    expect(images.items).toEqual([]);
    const bad = await fetch(`${base}/ingest/registry/acr-eg?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ eventType: 'Microsoft.ContainerRegistry.ImagePushed', data: { action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', repository: 'a', digest: 'md5:x' } } }]) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'registry.webhook.invalid_digest', message: expect.stringContaining('[0].data.target.digest') });
  });
});
