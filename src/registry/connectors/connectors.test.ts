import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPalisadeError } from '../../core/index.js';
import { MAX_WEBHOOK_EVENTS, parseQuayWebhook, parseRegistryWebhook, verifyNexusSignature } from './index.js';

const sample = (name: string): unknown => JSON.parse(readFileSync(path.join(import.meta.dirname, 'samples', name), 'utf8'));

describe('registry webhook connectors', () => {
  it('reads a real Distribution manifest push with its tag, digest and user agent', () => {
    const { events, ignored } = parseRegistryWebhook('distribution', sample('distribution-manifest-push.json'));
    expect(ignored).toBe(0);
    expect(events).toEqual([expect.objectContaining({
      action: 'push',
      repository: 'demo/base',
      tag: '1',
      digest: 'sha256:36422f534d0bde24d4db9fccbdf1abb889ef47f730ee6a48711fa05cd9d945a6',
      userAgent: 'skopeo/1.9.3',
      import: false,
    })]);
  });

  it('ignores Distribution blob events', () => {
    expect(parseRegistryWebhook('distribution', sample('distribution-blob-push.json'))).toEqual({ events: [], ignored: 1 });
  });

  it('reads a real Distribution manifest pull', () => {
    expect(parseRegistryWebhook('distribution', sample('distribution-manifest-pull.json')).events[0]).toMatchObject({ action: 'pull', repository: 'demo/base' });
  });

  it("ignores Palisade's own reads of an image (a scan is not a pull; it would keep the image in the daily rescan)", () => {
    const body = sample('distribution-manifest-pull.json') as { events: Array<{ request: { useragent: string } }> };
    body.events[0]!.request.useragent = 'palisade';
    expect(parseRegistryWebhook('distribution', body)).toEqual({ events: [], ignored: 1 });
  });

  it('labels pushes by palisade registry import as imports', () => {
    const body = sample('distribution-manifest-push.json') as { events: Array<{ request: { useragent: string } }> };
    body.events[0]!.request.useragent = 'palisade-import/0.1.0';
    expect(parseRegistryWebhook('distribution', body).events[0]!.import).toBe(true);
  });

  it('reads Harbor push and pull, and skips its scan events', () => {
    expect(parseRegistryWebhook('harbor', sample('harbor-push.json')).events[0]).toMatchObject({ action: 'push', repository: 'library/app', tag: '1.0', actor: 'admin' });
    expect(parseRegistryWebhook('harbor', sample('harbor-pull.json')).events[0]).toMatchObject({ action: 'pull' });
    expect(parseRegistryWebhook('harbor', { type: 'SCANNING_COMPLETED', event_data: {} })).toEqual({ events: [], ignored: 1 });
  });

  it('reads ACR push, delete and quarantine, and records chart pushes without scanning', () => {
    expect(parseRegistryWebhook('acr', sample('acr-push.json')).events[0]).toMatchObject({ action: 'push', repository: 'hello-world', tag: 'v1' });
    expect(parseRegistryWebhook('acr', sample('acr-delete.json')).events[0]).toMatchObject({ action: 'delete' });
    expect(parseRegistryWebhook('acr', sample('acr-quarantine.json')).events[0]).toMatchObject({ action: 'quarantine' });
    expect(parseRegistryWebhook('acr', sample('acr-chart-push.json'))).toEqual({ events: [], ignored: 1 });
  });

  it('reads ACR Event Grid deliveries (CloudEvents and Event Grid schema) as pushes and deletes', () => {
    expect(parseRegistryWebhook('acr', sample('acr-eventgrid-image-pushed.json'))).toEqual({ events: [expect.objectContaining({
      id: '831e1650-001e-001b-66ab-eeb76e069631', action: 'push', repository: 'aci-helloworld', tag: 'v1',
      digest: 'sha256:213bbc182920ab41e18edc2001e06abcca6735d87782d9cef68abd83941cf0e5', at: new Date('2018-04-25T21:39:47.276Z'),
    })], ignored: 0 });
    expect(parseRegistryWebhook('acr', sample('acr-eventgrid-image-deleted.json'))).toEqual({ events: [expect.objectContaining({
      action: 'delete', repository: 'aci-helloworld', digest: 'sha256:213bbc182920ab41e18edc2001e06abcca6735d87782d9cef68abd83941cf0e5',
    })], ignored: 0 });
    const chart = (sample('acr-eventgrid-image-pushed.json') as Array<Record<string, unknown>>).map((e) => ({ ...e, type: 'Microsoft.ContainerRegistry.ChartPushed' }));
    expect(parseRegistryWebhook('acr', chart)).toEqual({ events: [], ignored: 1 });
  });

  it("answers Event Grid's subscription validation with its code, recording nothing", () => {
    expect(parseRegistryWebhook('acr', sample('eventgrid-subscription-validation.json'))).toEqual({ events: [], ignored: 0, answer: { validationResponse: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' } });
    const hostile = sample('eventgrid-subscription-validation.json') as Array<{ data: Record<string, unknown> }>;
    hostile[0]!.data.validationCode = '<script>alert(1)</script>';
    expect(() => parseRegistryWebhook('acr', hostile)).toThrow(expect.objectContaining({ field: '[0].data.validationCode' }));
    expect(() => parseRegistryWebhook('acr', [{ eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', data: {} }])).toThrow(/\[0\]\.data\.validationCode must be a non-empty string/);
    expect(() => parseRegistryWebhook('acr', [{ data: {} }])).toThrow(/\[0\]\.eventType must be a non-empty string/);
    const mismatched = (sample('acr-eventgrid-image-pushed.json') as Array<{ data: Record<string, unknown> }>);
    mismatched[0]!.data.action = 'delete';
    expect(() => parseRegistryWebhook('acr', mismatched)).toThrow(expect.objectContaining({ field: '[0].data.action' }));
  });

  it('reads an Artifactory docker push: the documented data object and its delivery envelope, by the repository path method', () => {
    const data = sample('artifactory-docker-pushed.json') as Record<string, unknown>;
    const expected = { action: 'push', repository: 'docker-remote-cache/library/ubuntu', tag: 'latest', digest: 'sha256:35c4a2c15539c6c1e4e5fa4e554dac323ad0107d8eb5c582d6ff386b383b7dce', import: false };
    const at = new Date('2026-03-01T10:00:00Z');
    expect(parseRegistryWebhook('artifactory', data, { receivedAt: at })).toEqual({ events: [{ ...expected, at }], ignored: 0 });
    const envelope = { domain: 'docker', event_type: 'pushed', data, subscription_key: 'palisade', jpd_origin: 'https://acme.jfrog.io', source: 'jfrog/admin' };
    expect(parseRegistryWebhook('artifactory', envelope, { receivedAt: at })).toEqual({ events: [{ ...expected, actor: 'jfrog/admin', at }], ignored: 0 });
    // Older Artifactory names the event docker.tagPushed.
    expect(parseRegistryWebhook('artifactory', { ...data, event_type: 'docker.tagPushed' }).events[0]).toMatchObject({ repository: 'docker-remote-cache/library/ubuntu' });
    expect(parseRegistryWebhook('artifactory', { ...envelope, domain: 'artifact' })).toEqual({ events: [], ignored: 1 });
    expect(parseRegistryWebhook('artifactory', { ...envelope, event_type: 'promoted' })).toEqual({ events: [], ignored: 1 });
  });

  it("reads an Artifactory push against the repository's API path: the image name alone, other repositories' events ignored", () => {
    const data = sample('artifactory-docker-pushed.json') as Record<string, unknown>;
    expect(parseRegistryWebhook('artifactory', data, { url: 'https://acme.jfrog.io/artifactory/api/docker/docker-remote-cache' }).events[0]).toMatchObject({ repository: 'library/ubuntu' });
    expect(parseRegistryWebhook('artifactory', data, { url: 'https://acme.jfrog.io/artifactory/api/docker/docker-local' })).toEqual({ events: [], ignored: 1 });
    expect(() => parseRegistryWebhook('artifactory', { ...data, sha256: 'sample_checksum' })).toThrow(expect.objectContaining({ field: 'sha256' }));
    expect(() => parseRegistryWebhook('artifactory', { domain: 'docker', event_type: 'pushed', data: { ...data, image_name: '../../v2/_catalog' } })).toThrow(expect.objectContaining({ code: 'registry.webhook.invalid_repository', field: 'data.image_name' }));
    expect(() => parseRegistryWebhook('artifactory', { domain: 'docker', event_type: 'pushed', data: { ...data, tag: undefined } })).toThrow(/data\.tag must be a non-empty string/);
  });

  it('reads the recorded Nexus component event (a Docker image and tag, no digest)', () => {
    const body = sample('nexus-component-created.json');
    expect(parseRegistryWebhook('nexus', body, { headers: { 'x-nexus-webhook-id': 'rm:repository:component', 'x-nexus-webhook-delivery': 'bd9e6aef-0e27-4570-980d-f639c49ab5ed' } })).toEqual({ events: [{
      id: 'bd9e6aef-0e27-4570-980d-f639c49ab5ed', action: 'push', repository: 'app1/alpine', tag: '3.4', actor: 'admin', import: false, at: new Date('2020-04-05T21:49:44.219Z'),
    }], ignored: 0 });
    expect(parseRegistryWebhook('nexus', body, { url: 'https://nexus.example.com/repository/app1' }).events).toHaveLength(1);
    expect(parseRegistryWebhook('nexus', body, { url: 'https://nexus.example.com/repository/other' })).toEqual({ events: [], ignored: 1 });
    expect(parseRegistryWebhook('nexus', body, { headers: { 'x-nexus-webhook-id': 'rm:repository:asset' } })).toEqual({ events: [], ignored: 1 });
    const maven = { ...(body as object), component: { format: 'maven2', name: 'guava', version: '21.0' } };
    expect(parseRegistryWebhook('nexus', maven)).toEqual({ events: [], ignored: 1 });
    expect(parseRegistryWebhook('nexus', { ...(body as object), action: 'DELETED' })).toEqual({ events: [], ignored: 1 });
    expect(() => parseRegistryWebhook('nexus', { ...(body as object), component: { format: 'docker', name: 'App1/Alpine', version: '3.4' } })).toThrow(expect.objectContaining({ field: 'component.name' }));
  });

  it("checks the Nexus HMAC-SHA1 signature flux-recv recorded, in constant time, and refuses any change", () => {
    const raw = readFileSync(path.join(import.meta.dirname, 'samples', 'nexus-component-created.json'));
    const key = readFileSync(path.join(import.meta.dirname, 'samples', 'nexus-component-created.key'), 'utf8');
    expect(() => verifyNexusSignature(key, raw, 'd06eea380d4631e8c1180b689d10d9ba83ab68f6')).not.toThrow();
    expect(() => verifyNexusSignature(key, raw, 'D06EEA380D4631E8C1180B689D10D9BA83AB68F6')).not.toThrow();
    const tampered = Buffer.from(raw.toString('utf8').replace('"3.4"', '"3.5"'));
    expect(() => verifyNexusSignature(key, tampered, 'd06eea380d4631e8c1180b689d10d9ba83ab68f6')).toThrow(expect.objectContaining({ code: 'registry.webhook.signature', kind: 'unauthorized' }));
    expect(() => verifyNexusSignature('another-secret', raw, 'd06eea380d4631e8c1180b689d10d9ba83ab68f6')).toThrow(/does not match/);
    expect(() => verifyNexusSignature(key, raw, undefined)).toThrow(/missing/);
    expect(() => verifyNexusSignature(key, raw, 'deadbeef')).toThrow(/missing or not a hex HMAC-SHA1/);
  });

  it('reads a Docker Hub push, which names a tag but no digest', () => {
    const [event] = parseRegistryWebhook('dockerhub', sample('dockerhub-push.json')).events;
    expect(event).toMatchObject({ action: 'push', repository: 'svendowideit/testhook', tag: 'latest' });
    expect(event!.digest).toBeUndefined();
    expect(event!.at.toISOString()).toBe('2014-12-03T00:22:41.000Z');
  });

  it('reads a GitHub package event for a container version (ghcr.io/OWNER/NAME by digest), and ignores ping and other packages', () => {
    const { events, ignored } = parseRegistryWebhook('ghcr', sample('ghcr-package-published.json'));
    expect(ignored).toBe(0);
    expect(events).toEqual([{
      action: 'push', repository: 'codertocat/hello-world-npm', digest: 'sha256:3da1996a8115d7616457760d9920b815241d0a03b34cf5f04e9a0e9d8de37498',
      tag: undefined, actor: 'Codertocat', import: false, at: new Date('2019-05-09T23:28:29Z'),
    }]);
    expect(parseRegistryWebhook('ghcr', sample('github-ping.json'))).toEqual({ events: [], ignored: 1 });
    const npm = sample('ghcr-package-published.json') as { package: Record<string, unknown> };
    npm.package = { ...npm.package, ecosystem: 'npm', registry: { type: 'NPM' } };
    expect(parseRegistryWebhook('ghcr', npm)).toEqual({ events: [], ignored: 1 });
    // The newer registry_package event carries the same package document.
    const { package: pkg, ...rest } = sample('ghcr-package-published.json') as { package: unknown };
    expect(parseRegistryWebhook('ghcr', { ...rest, registry_package: pkg }).events[0]).toMatchObject({ repository: 'codertocat/hello-world-npm' });
  });

  it('reads a Quay repository push: one tag-only push per updated tag', () => {
    const at = new Date('2026-03-01T10:00:00Z');
    expect(parseQuayWebhook(sample('quay-repository-push.json'), at)).toEqual({ events: [{ action: 'push', repository: 'dgangaia/test', tag: 'latest', import: false, at }], ignored: 0 });
    const older = { ...(sample('quay-repository-push.json') as object), updated_tags: { latest: 'b750fe79269d', '1.0': 'b750fe79269d' } };
    expect(parseQuayWebhook(older, at).events.map((e) => e.tag)).toEqual(['latest', '1.0']);
    expect(parseRegistryWebhook('quay', { build_id: 'x', repository: 'dgangaia/test' })).toEqual({ events: [], ignored: 1 });
  });

  it('reads an ECR EventBridge image push; the documentation\'s shortened digest is refused naming the field', () => {
    const documented = sample('ecr-image-push.json') as { detail: Record<string, string> };
    expect(() => parseRegistryWebhook('ecr', documented)).toThrow(expect.objectContaining({ code: 'registry.webhook.invalid_digest', field: 'detail.image-digest' }));
    documented.detail['image-digest'] += 'abcd';
    expect(parseRegistryWebhook('ecr', documented)).toEqual({ events: [{
      id: '13cde686-328b-6117-af20-0e5566167482', action: 'push', repository: 'my-repository-name',
      digest: 'sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd', tag: 'latest', import: false, at: new Date('2019-11-16T01:54:34Z'),
    }], ignored: 0 });
    expect(parseRegistryWebhook('ecr', { ...documented, detail: { ...documented.detail, result: 'FAILURE' } })).toEqual({ events: [], ignored: 1 });
    expect(parseRegistryWebhook('ecr', { ...documented, 'detail-type': 'ECR Image Scan' })).toEqual({ events: [], ignored: 1 });
    expect(() => parseRegistryWebhook('ecr', { ...documented, source: 'aws.s3' })).toThrow(/ecr webhook: source must be aws.ecr/);
  });

  it('reads an Artifact Registry notification from its Pub/Sub push envelope', () => {
    expect(parseRegistryWebhook('artifact-registry', sample('artifact-registry-push.json'))).toEqual({ events: [{
      id: '2070443601311540', action: 'push', repository: 'freshly-docker/freshly',
      digest: 'sha256:17f4431497a07da98bc16e599ef9d38afb9817049b6e98b71b7e321b946a24d4', tag: 'PIG-267-refactor-email-service',
      import: false, at: new Date('2021-02-26T19:13:55.749Z'),
    }], ignored: 0 });
    const push = (data: unknown) => ({ message: { data: Buffer.from(JSON.stringify(data)).toString('base64'), messageId: '1', publishTime: '2026-03-01T10:00:00Z' } });
    const tagged = parseRegistryWebhook('artifact-registry', push({ action: 'INSERT', tag: 'us-east1-docker.pkg.dev/proj/repo/app:1.1' })).events[0]!;
    expect(tagged).toMatchObject({ repository: 'proj/repo/app', tag: '1.1' });
    expect(tagged.digest).toBeUndefined(); // a tag added to an image: resolved when scanned
    expect(parseRegistryWebhook('artifact-registry', push({ action: 'DELETE', tag: 'us-east1-docker.pkg.dev/proj/repo/app:1.1' }))).toEqual({ events: [], ignored: 1 });
    expect(() => parseRegistryWebhook('artifact-registry', push({ action: 'INSERT', digest: 'us-east1-docker.pkg.dev/../../v2/_catalog@sha256:x' }))).toThrow(expect.objectContaining({ field: 'message.data.digest' }));
    expect(() => parseRegistryWebhook('artifact-registry', { message: { data: 'bm90IGpzb24=' } })).toThrow(/message.data must be base64 of the notification's JSON/);
  });

  it.each([
    ['distribution', { events: 'nope' }, /distribution webhook: events must be an array/],
    ['distribution', { events: [{ action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', repository: 'a', digest: 'md5:1' } }] }, /events\[0\]\.target\.digest is not a digest/],
    ['distribution', { events: [{ action: 'explode', target: {} }] }, /events\[0\]\.action 'explode' is not push/],
    ['harbor', { type: 'PUSH_ARTIFACT', event_data: { repository: { repo_full_name: 'a/b' } } }, /event_data\.resources must be an array/],
    ['harbor', { type: 'NEW_THING' }, /'NEW_THING' is not a Harbor event type/],
    ['acr', [], /acr webhook: body must be an ACR webhook event or a non-empty Event Grid array/],
    ['acr', 'x', /acr webhook: body must be an object/],
    ['dockerhub', { push_data: { tag: 'x', pushed_at: 1 } }, /repository must be an object/],
  ] as const)('rejects a malformed %s payload naming the field', (kind, body, message) => {
    expect(() => parseRegistryWebhook(kind, body)).toThrow(message);
  });

  const harbor = (repository: string, tag = '1.0') => ({ type: 'PUSH_ARTIFACT', occur_at: 1, operator: 'x', event_data: { repository: { repo_full_name: repository }, resources: [{ digest: `sha256:${'c'.repeat(64)}`, tag }] } });
  const acr = (repository: string) => ({ action: 'push', target: { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', repository, digest: `sha256:${'d'.repeat(64)}`, tag: 'v1' } });
  const dockerhub = (repository: string, tag = 'latest') => ({ push_data: { tag, pushed_at: 1 }, repository: { repo_name: repository } });
  const distribution = (repository: string) => ({ events: [acr(repository)] });
  it.each([
    ['distribution', distribution('http://169.254.169.254/latest'), 'registry.webhook.invalid_repository', 'events[0].target.repository'],
    ['generic', distribution('//evil.example/x'), 'registry.webhook.invalid_repository', 'events[0].target.repository'],
    ['harbor', harbor('../../v2/_catalog?x='), 'registry.webhook.invalid_repository', 'event_data.repository.repo_full_name'],
    ['harbor', harbor('library/app', '../../x'), 'registry.webhook.invalid_tag', 'event_data.resources[0].tag'],
    ['acr', acr('a'.repeat(100_000)), 'registry.webhook.invalid_repository', 'body.target.repository'],
    ['dockerhub', dockerhub('Team/App'), 'registry.webhook.invalid_repository', 'repository.repo_name'],
    ['dockerhub', dockerhub('team/app', 'v1/../../x'), 'registry.webhook.invalid_tag', 'push_data.tag'],
  ] as const)('refuses a %s webhook naming what is outside the distribution grammar', (kind, body, code, field) => {
    expect(() => parseRegistryWebhook(kind, body)).toThrow(expect.objectContaining({ code, field, kind: 'invalid' }));
  });

  it('refuses more than MAX_WEBHOOK_EVENTS events in one Distribution envelope or Harbor push (413)', () => {
    const events = Array.from({ length: MAX_WEBHOOK_EVENTS + 1 }, () => acr('team/app'));
    expect(() => parseRegistryWebhook('distribution', { events })).toThrow(expect.objectContaining({ code: 'registry.webhook.too_many_events', kind: 'too-large' }));
    const push = harbor('library/app');
    push.event_data.resources = Array.from({ length: MAX_WEBHOOK_EVENTS + 1 }, () => push.event_data.resources[0]!);
    expect(() => parseRegistryWebhook('harbor', push)).toThrow(expect.objectContaining({ code: 'registry.webhook.too_many_events' }));
  });
  it.each(['acr', 'artifactory', 'nexus'] as const)('%s: any JSON body is either read or refused with a 4xx naming the field, never an internal error', (kind) => {
    const seeds = { acr: sample('acr-eventgrid-image-pushed.json'), artifactory: sample('artifactory-docker-pushed.json'), nexus: sample('nexus-component-created.json') };
    // Mutations of the real payload (a field replaced by anything) and arbitrary JSON.
    const mutated = fc.tuple(fc.jsonValue(), fc.nat()).map(([value, n]) => {
      const copy = JSON.parse(JSON.stringify(seeds[kind])) as Record<string, unknown> | Array<Record<string, unknown>>;
      const target = (Array.isArray(copy) ? copy[0]!.data : (copy as Record<string, unknown>).component ?? copy) as Record<string, unknown>;
      const keys = Object.keys(target);
      target[keys[n % keys.length]!] = value;
      return copy as unknown;
    });
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), mutated), (body) => {
      try {
        parseRegistryWebhook(kind, body, { url: 'https://registry.example.com', headers: {} });
      } catch (error) {
        expect(isPalisadeError(error)).toBe(true);
        expect((error as { status: number }).status).toBeGreaterThanOrEqual(400);
        expect((error as { status: number }).status).toBeLessThan(500);
        expect((error as { field?: string }).field).toBeTruthy();
      }
    }), { numRuns: 300 });
  });
});
