import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/index.js';
import { runServer, type RunningProcess } from '../../src/server/index.js';
import { openStore } from '../../src/store/index.js';
import { importOsv } from '../../src/vulndb/index.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { jsonOf } from '../support/http.js';
import { registryAvailable, startRegistry, type LocalRegistry } from '../registry/registry.js';

const run = promisify(execFile);
const ready = fixturesAvailable() && registryAvailable();

interface ApiImage { digest: string; repository: string; tags: string[]; lastScanned: string | null; lastPulled: string | null; counts: Record<string, number> }

describe.skipIf(!ready)('registry protection: scan on push through a real registry', () => {
  let dir: string;
  let server: RunningProcess;
  let admin: string;
  let registry: LocalRegistry;
  const api = (url: string, init: RequestInit = {}) => fetch(`${server.url}${url}`, { ...init, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-registry-e2e-'));
    // The fixture advisories, imported offline as an air-gapped user would.
    const store = await openStore({ dataDir: dir });
    await importOsv(store, [fixture('osv', 'debian'), fixture('osv', 'npm')]);
    await store.close();
    const printed: string[] = [];
    server = await runServer(loadConfig({ env: {}, cwd: dir, flags: { dataDir: dir, port: 0, logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' } }), { print: (l) => printed.push(l) });
    admin = /pal_[\w-]+/.exec(printed.join('\n'))![0];
    // The registry's ingest token goes into its notifications configuration before it starts.
    const token = (await jsonOf(api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ scope: 'registry:local' }) }))).secret as string;
    registry = await startRegistry({ notifications: { url: `${server.url}/ingest/registry/local`, token } });
    const connected = await api('/api/v1/registries', { method: 'POST', body: JSON.stringify({ name: 'local', url: registry.url, kind: 'distribution' }) });
    expect(connected.status).toBe(201);
  });

  afterAll(async () => {
    await registry?.stop();
    await server?.stop().catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scans a digest pushed under three tags once, with exactly the expected Debian findings', async () => {
    for (const tag of ['1', '2', 'latest']) await registry.push(`oci:${fixture('images', 'debian12')}:app`, `demo/app:${tag}`);
    const image = await waitFor('the scan', async () => {
      const items = ((await jsonOf(api('/api/v1/images?repository=demo/app'))) as { items: ApiImage[] }).items;
      return items[0]?.lastScanned && items[0].tags.length === 3 ? items[0] : undefined;
    });
    expect(image.tags.sort()).toEqual(['1', '2', 'latest']);

    const findings: Array<{ id: string; package: { name: string; ecosystem: string }; fixedVersion?: string; remediation: string }> = [];
    let cursor: string | undefined;
    do {
      const page = await jsonOf(api(`/api/v1/images/${image.digest}/findings?limit=100${cursor ? `&cursor=${cursor}` : ''}`));
      findings.push(...page.items);
      cursor = page.next;
    } while (cursor);
    const expected = JSON.parse(readFileSync(fixture('osv', 'debian', 'EXPECTED-debian12-app.json'), 'utf8')) as Array<{ package: string; id: string; fixed: string }>;
    const debian = findings.filter((f) => f.package.ecosystem.startsWith('Debian')).map((f) => `${f.package.name} ${f.id} ${f.fixedVersion}`).sort();
    expect(debian).toEqual(expected.map((e) => `${e.package} ${e.id} ${e.fixed}`).sort());
    // The npm packages in /app are matched too (lodash 4.17.20 is affected by GHSA-35jh-r3h4-6jhm).
    expect(findings.some((f) => f.package.ecosystem === 'npm' && f.package.name === 'lodash' && f.id === 'GHSA-35jh-r3h4-6jhm')).toBe(true);
    expect(findings.every((f) => f.remediation.length > 0)).toBe(true);
    expect(Object.values(image.counts).reduce((a, b) => a + b, 0)).toBe(findings.length);
  });

  it('records a pull as the image\'s last-pulled time', async () => {
    await run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/demo/app:1`]);
    const image = await waitFor('the pull', async () => {
      const items = ((await jsonOf(api('/api/v1/images?repository=demo/app'))) as { items: ApiImage[] }).items;
      return items[0]?.lastPulled ? items[0] : undefined;
    });
    expect(new Date(image.lastPulled!).getTime()).toBeGreaterThan(Date.now() - 60_000);
    // The inventory's repository view carries the same pull.
    const repositories = await jsonOf(api('/api/v1/repositories?registry=local'));
    expect(repositories.items.find((r: { name: string }) => r.name === 'demo/app')).toMatchObject({ registry: 'local', images: 1, lastPulled: image.lastPulled });
  });

  it('lists the image under its vulnerability, and as unhealthy in the registry recommendation', async () => {
    const byVulnerability = await jsonOf(api('/api/v1/vulnerabilities/GHSA-35jh-r3h4-6jhm/images'));
    expect(byVulnerability.items.map((i: { repository: string }) => i.repository)).toContain('demo/app');
    // By package: the image carries libssl3 at one version with every libssl3 finding the expected list has.
    const expected = (JSON.parse(readFileSync(fixture('osv', 'debian', 'EXPECTED-debian12-app.json'), 'utf8')) as Array<{ package: string; installed: string; fixed: string }>)
      .filter((f) => f.package === 'libssl3');
    const byPackage = await jsonOf(api('/api/v1/packages/libssl3/images'));
    const carriers = byPackage.items.filter((i: { repository: string }) => i.repository === 'demo/app');
    expect(carriers).toEqual([expect.objectContaining({
      installedVersion: expected[0]!.installed, vulnerabilities: expected.length, fixedVersions: [...new Set(expected.map((f) => f.fixed))].sort(),
    })]);
    expect((await jsonOf(api(`/api/v1/packages/libssl3/images?ecosystem=${encodeURIComponent(carriers[0].ecosystem)}`))).items).toHaveLength(byPackage.items.length);
    expect((await jsonOf(api('/api/v1/packages/libssl3/images?ecosystem=npm'))).items).toEqual([]);
    expect((await jsonOf(api('/api/v1/packages/no-such-package/images'))).items).toEqual([]);
    // One advisory found in two packages of one image (libssl3 and openssl), a page at a time: neither is skipped.
    const shared = (JSON.parse(readFileSync(fixture('osv', 'debian', 'EXPECTED-debian12-app.json'), 'utf8')) as Array<{ package: string; id: string }>)
      .find((f) => f.package === 'libssl3')!.id;
    const first = await jsonOf(api(`/api/v1/vulnerabilities/${shared}/images?limit=1`));
    const second = await jsonOf(api(`/api/v1/vulnerabilities/${shared}/images?limit=1&cursor=${first.next}`));
    expect([...first.items, ...second.items].map((i: { package: string }) => i.package).sort()).toEqual(['libssl3', 'openssl']);
    const recommendations = await jsonOf(api('/api/v1/recommendations?scope=registry:local'));
    expect(recommendations.items).toEqual([expect.objectContaining({
      policy: 'registry-images-vulnerabilities',
      title: 'Container registry images should have vulnerability findings resolved',
      unhealthy: [expect.objectContaining({ kind: 'image', id: expect.stringMatching(/^local\/demo\/app@sha256:/) })],
    })]);
  });

  it('refuses a webhook with a bad token with 401 and stores nothing', async () => {
    const body = readFileSync(path.join(import.meta.dirname, '../../src/registry/connectors/samples/distribution-manifest-push.json'), 'utf8');
    const response = await fetch(`${server.url}/ingest/registry/local`, { method: 'POST', body, headers: { authorization: 'Bearer pal_wrong', 'content-type': 'application/vnd.docker.distribution.events.v1+json' } });
    expect(response.status).toBe(401);
    const items = ((await jsonOf(api('/api/v1/images?repository=demo/base'))) as { items: ApiImage[] }).items;
    expect(items).toEqual([]);
  });

  it('answers a malformed webhook with 400 naming the field', async () => {
    const token = (await jsonOf(api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ scope: 'registry:local' }) }))).secret as string;
    const response = await fetch(`${server.url}/ingest/registry/local`, { method: 'POST', body: '{"events":{}}', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' } });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ code: 'registry.webhook.malformed', message: "distribution webhook: events must be an array (send the registry's own webhook payload unchanged)" });
  });

  it('keeps inventory but scans nothing while the registries plan is off, and says so', async () => {
    const connected = await jsonOf(api('/api/v1/registries', { method: 'POST', body: JSON.stringify({ name: 'quiet', url: 'http://127.0.0.1:9', kind: 'distribution' }) }));
    expect((await api('/api/v1/plans/registry:quiet', { method: 'PUT', body: JSON.stringify({ enabled: false }) })).status).toBe(200);
    const body = readFileSync(path.join(import.meta.dirname, '../../src/registry/connectors/samples/distribution-manifest-push.json'), 'utf8');
    const response = await fetch(`${server.url}/ingest/registry/quiet`, { method: 'POST', body, headers: { authorization: `Bearer ${connected.token}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' } });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: 1, scansQueued: 0, plan: 'off', message: expect.stringMatching(/registries plan is off for quiet/) });
    const items = ((await jsonOf(api('/api/v1/images?registry=quiet'))) as { items: ApiImage[] }).items;
    expect(items).toEqual([expect.objectContaining({ repository: 'demo/base', tags: ['1'], lastScanned: null })]);
  });

  it('accepts a Docker Hub webhook with the token in its URL, and queues the tag for scanning', async () => {
    const connected = await jsonOf(api('/api/v1/registries', { method: 'POST', body: JSON.stringify({ name: 'hub', url: 'https://registry-1.docker.io', kind: 'dockerhub' }) }));
    expect(connected.snippet).toContain(`/ingest/registry/hub?token=${connected.token}`);
    await api('/api/v1/plans/registry:hub', { method: 'PUT', body: JSON.stringify({ enabled: false }) });
    const body = readFileSync(path.join(import.meta.dirname, '../../src/registry/connectors/samples/dockerhub-push.json'), 'utf8');
    const response = await fetch(`${server.url}/ingest/registry/hub?token=${connected.token}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: 1 });
    const wrong = await fetch(`${server.url}/ingest/registry/hub?token=pal_nope`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(wrong.status).toBe(401);
    // The query token is accepted on registry webhooks only.
    expect((await fetch(`${server.url}/api/v1/alerts?token=${admin}`)).status).toBe(401);
  });

  it('refuses a registry token on another registry\'s webhook', async () => {
    const token = (await jsonOf(api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ scope: 'registry:other' }) }))).secret as string;
    const response = await fetch(`${server.url}/ingest/registry/local`, { method: 'POST', body: '{"events":[]}', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
    expect(response.status).toBe(403);
  });

  it('scanned the digest once for its three tags, metered one scan, raised the recommendation and an alert', async () => {
    await server.stop();
    const store = await openStore({ dataDir: dir });
    try {
      const scans = await store.db.selectFrom('image_scans').select(['digest', 'status']).execute();
      expect(scans).toHaveLength(1);
      expect(scans[0]!.status).toBe('succeeded');
      const usage = await store.db.selectFrom('usage').select(['meter', 'quantity', 'scope']).execute();
      expect(usage).toEqual([{ meter: 'image_scans', quantity: 1, scope: 'registry:local' }]);
      const recommendation = await store.db.selectFrom('recommendations').selectAll().where('scope', '=', 'registry:local').executeTakeFirstOrThrow();
      expect(recommendation.policy).toBe('registry-images-vulnerabilities');
      expect((recommendation.unhealthy as Array<{ id: string }>).map((r) => r.id)).toEqual([expect.stringMatching(/^local\/demo\/app@sha256:/)]);
      const alerts = await store.db.selectFrom('alerts').select(['rule', 'source', 'severity']).execute();
      expect(alerts).toEqual([{ rule: 'registry-image-new-vulnerabilities', source: 'registry', severity: expect.stringMatching(/high|medium/) }]);
    } finally {
      await store.close();
    }
  });
});

