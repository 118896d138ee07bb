import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register as registerVex } from '../../src/cli/vex.js';
import { runCommands } from '../../src/cli/testing/run.js';
import { loadConfig } from '../../src/core/index.js';
import { runServer, type RunningProcess } from '../../src/server/index.js';
import { openStore } from '../../src/store/index.js';
import { importOsv } from '../../src/vulndb/index.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { jsonOf } from '../support/http.js';
import { postgresAvailable } from '../support/postgres.js';
import { createTestStoreLocation, STORE_BACKENDS, type TestStoreLocation } from '../support/store.js';
import { registryAvailable, startRegistry, type LocalRegistry } from '../registry/registry.js';
import { waitFor } from '../support/wait.js';

/**
 * VEX across the center, end to end: a real server (on each store backend), a real Distribution
 * registry, images pushed with skopeo and scanned on push, OpenVEX documents uploaded through the
 * CLI and the API. The documents follow the shape of go-vex's v0.2.0 sample (testdata/go-vex):
 * a `pkg:oci` product naming the image (they must name this run's registry and digest, so they
 * are written here).
 */
const ready = fixturesAvailable() && registryAvailable();
const pgReady = await postgresAvailable();

interface VexView { status: string; justification?: string; impactStatement?: string; actionStatement?: string; author: string; statedAt: string; documentId: string }
interface ApiFinding { id: string; aliases: string[]; severity: string; package: { name: string; purl: string }; vex?: VexView }
interface ApiImage { digest: string; repository: string; lastScanned: string | null; counts: Record<string, number> }

const SERIOUS = ['critical', 'high', 'medium'];
const COUNTED = ['critical', 'high', 'medium', 'low', 'unknown'] as const;
const suppressedStatus = (f: ApiFinding) => f.vex?.status === 'not_affected' || f.vex?.status === 'fixed';

describe.skipIf(!ready).each(STORE_BACKENDS)('VEX across the center (%s)', (backend) => {
  const skip = backend === 'postgres' && !pgReady;
  let place: TestStoreLocation;
  let server: RunningProcess;
  let admin: string;
  let registryToken: string;
  let registry: LocalRegistry;
  const api = (url: string, init: RequestInit = {}, token = admin) => fetch(`${server.url}${url}`, {
    ...init, headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.headers ?? {}) },
  });
  const appDigest = (JSON.parse(readFileSync(fixture('images', 'debian12', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> })
    .manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === 'app')!.digest;

  const image = async (repository: string) => ((await jsonOf(api(`/api/v1/images?repository=${repository}`))) as { items: ApiImage[] }).items[0];
  const scanned = (repository: string) => waitFor(`the scan of ${repository}`, async () => {
    const found = await image(repository);
    return found?.lastScanned ? found : undefined;
  });
  async function findings(digest: string, query = ''): Promise<ApiFinding[]> {
    const all: ApiFinding[] = [];
    let cursor: string | undefined;
    do {
      const page = await jsonOf(api(`/api/v1/images/${digest}/findings?limit=200${query}${cursor ? `&cursor=${cursor}` : ''}`));
      all.push(...(page.items as ApiFinding[]));
      cursor = page.next as string | undefined;
    } while (cursor);
    return all;
  }
  /** The counts the image list must show: unsuppressed findings by severity. */
  const expectedCounts = (list: ApiFinding[]) => Object.fromEntries(COUNTED.map((s) => [s, list.filter((f) => !suppressedStatus(f) && (s === 'unknown' ? !['critical', 'high', 'medium', 'low'].includes(f.severity) : f.severity === s)).length]));
  const recommendation = async () => (await jsonOf(api('/api/v1/recommendations?scope=registry:local'))).items.find((r: { policy: string }) => r.policy === 'registry-images-vulnerabilities') as { healthy: Array<{ id: string }>; unhealthy: Array<{ id: string }> };
  const score = async () => ((await jsonOf(api('/api/v1/score'))) as { current?: { score: number; percentage: number } }).current!;
  async function upload(doc: unknown) {
    const response = await api('/api/v1/vex', { method: 'POST', body: JSON.stringify(doc) });
    const body = await jsonOf(response);
    expect(response.status, JSON.stringify(body)).toBe(201);
    return body;
  }
  const document = (author: string, timestamp: string, statements: unknown[]) => ({
    '@context': 'https://openvex.dev/ns/v0.2.0', '@id': `https://palisade.test/vex/${author.replace(/\W+/g, '-')}-${timestamp}`,
    author, role: 'Test Writer', timestamp, version: 1, statements,
  });

  beforeAll(async () => {
    if (skip) return;
    place = await createTestStoreLocation({ backend, name: 'vex' });
    const store = await openStore(place.location);
    await importOsv(store, [fixture('osv', 'debian'), fixture('osv', 'npm')]);
    await store.close();
    const printed: string[] = [];
    server = await runServer(loadConfig({ env: {}, cwd: place.dir, flags: { ...place.location, port: 0, logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' } }), { print: (l) => printed.push(l) });
    admin = /pal_[\w-]+/.exec(printed.join('\n'))![0];
    registryToken = (await jsonOf(api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ scope: 'registry:local' }) }))).secret as string;
    registry = await startRegistry({ notifications: { url: `${server.url}/ingest/registry/local`, token: registryToken } });
    expect((await api('/api/v1/registries', { method: 'POST', body: JSON.stringify({ name: 'local', url: registry.url, kind: 'distribution' }) })).status).toBe(201);
  }, 300_000);

  afterAll(async () => {
    await registry?.stop();
    await server?.stop().catch(() => {});
    await place?.cleanup();
  });

  let appFindings: ApiFinding[];

  it.skipIf(skip)('statements for the app image (uploaded with `palisade vex add`) suppress its findings at scan time, not the base image\'s: shown with who stated it and why, out of the counts, no alert', async () => {
    await registry.push(`oci:${fixture('images', 'debian12')}:minbase`, 'demo/base:1');
    const base = await scanned('demo/base');
    const baseBefore = await findings(base.digest);
    // A vulnerability the base image has and the app image (built on it) has too, named by its CVE alias.
    const expected = JSON.parse(readFileSync(fixture('osv', 'debian', 'EXPECTED-debian12-app.json'), 'utf8')) as Array<{ id: string; cve: string }>;
    const shared = baseBefore.find((f) => expected.some((e) => e.id === f.id && f.aliases.includes(e.cve)));
    expect(shared, 'the base image shares a finding with the app image').toBeDefined();
    const cve = shared!.aliases.find((a) => a.startsWith('CVE-'))!;
    const lodash = 'GHSA-35jh-r3h4-6jhm';

    const file = path.join(place.dir, 'app.vex.json');
    const appProduct = `pkg:oci/app@${encodeURIComponent(appDigest)}?repository_url=${registry.host}/demo/app`;
    await writeFile(file, JSON.stringify(document('App Team <app@example.com>', '2026-01-01T00:00:00Z', [
      {
        vulnerability: { name: cve }, products: [{ '@id': appProduct }],
        status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path', impact_statement: 'the app never calls the vulnerable code',
      },
      {
        vulnerability: { name: lodash }, products: [{ '@id': appProduct, subcomponents: [{ '@id': 'pkg:npm/lodash' }] }],
        status: 'not_affected', justification: 'vulnerable_code_not_present',
      },
    ])));
    const tokenFile = path.join(place.dir, 'admin.token');
    await writeFile(tokenFile, admin);
    const added = await runCommands([registerVex], ['vex', 'add', file, '--server', server.url!, '--token-file', tokenFile]);
    expect(added.err).toBe('');
    // Must not apply: the statements name the app image, not the base image stored already.
    expect(added.out).toMatch(/^added vex_\S+: 2 statements by App Team <app@example.com>; 0 stored findings changed$/);
    expect((await findings(base.digest)).filter((f) => f.vex)).toEqual([]);
    expect((await image('demo/base'))!.counts).toEqual(base.counts);

    await registry.push(`oci:${fixture('images', 'debian12')}:app`, 'demo/app:1');
    const app = await scanned('demo/app');
    expect(app.digest).toBe(appDigest);
    const all = await findings(app.digest);
    appFindings = all;
    const documentId = (await jsonOf(api('/api/v1/vex'))).items[0].id as string;
    const byCve = all.filter((f) => f.aliases.includes(cve));
    expect(byCve.length).toBeGreaterThan(0);
    for (const f of byCve) {
      expect(f.vex).toEqual({
        status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path', impactStatement: 'the app never calls the vulnerable code',
        author: 'App Team <app@example.com>', statedAt: '2026-01-01T00:00:00.000Z', documentId,
      });
    }
    const byGhsa = all.filter((f) => f.id === lodash || f.aliases.includes(lodash));
    expect(byGhsa.filter((f) => f.package.name === 'lodash').map((f) => f.vex?.status)).toEqual(['not_affected']);
    // The subcomponent names lodash: the same advisory in another package (if any) is not covered.
    expect(byGhsa.filter((f) => f.package.name !== 'lodash' && f.vex)).toEqual([]);
    const suppressed = all.filter(suppressedStatus);
    expect(suppressed.length).toBe(byCve.length + 1);
    // Listed last by default, alone with ?suppressed=only, left out with ?suppressed=exclude.
    expect(all.slice(-suppressed.length).every(suppressedStatus)).toBe(true);
    expect((await findings(app.digest, '&suppressed=only')).map((f) => `${f.id} ${f.package.purl}`).sort()).toEqual(suppressed.map((f) => `${f.id} ${f.package.purl}`).sort());
    expect((await findings(app.digest, '&suppressed=exclude')).length).toBe(all.length - suppressed.length);
    // Severity counts leave the suppressed findings out.
    const counts = (await image('demo/app'))!.counts;
    expect(counts).toEqual(expectedCounts(all));
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(all.length - suppressed.length);

    // The scan's alert names the image's new critical/high findings, not the suppressed lodash one.
    const lodashFinding = byGhsa.find((f) => f.package.name === 'lodash')!;
    expect(['critical', 'high']).toContain(lodashFinding.severity);
    const alerts = (await jsonOf(api('/api/v1/alerts?source=registry'))).items as Array<{ resource: { id: string }; title: string; evidence: Array<{ id: string }> }>;
    const alert = alerts.find((a) => a.resource.id === `local/demo/app@${app.digest}`);
    const worst = new Map<string, string>();
    for (const f of all) if (!suppressedStatus(f) && ['critical', 'high'].includes(f.severity) && worst.get(f.id) !== 'critical') worst.set(f.id, f.severity);
    if (worst.size === 0) {
      expect(alert).toBeUndefined();
    } else {
      expect(alert!.evidence.some((e) => e.id === lodash)).toBe(false);
      const counted = ['critical', 'high'].map((s) => [s, [...worst.values()].filter((v) => v === s).length] as const).filter(([, n]) => n > 0);
      expect(alert!.title).toBe(`Image demo/app gained ${counted.map(([s, n]) => `${n} ${s}`).join(', ')}-severity vulnerabilit${worst.size === 1 ? 'y' : 'ies'}`);
    }
    // The upload is in the audit trail.
    const activity = await jsonOf(api(`/api/v1/activity?target=vex:${documentId}`));
    expect(activity.items).toEqual([expect.objectContaining({ action: 'vex.add', details: expect.objectContaining({ statements: 2 }) })]);
  }, 600_000);

  it.skipIf(skip)('statements for every remaining serious finding of the app image make it healthy and raise the score; a later affected statement re-enables one, removing it suppresses it again', async () => {
    const before = await score();
    expect((await recommendation()).unhealthy.map((r) => r.id)).toEqual([`local/demo/app@${appDigest}`]);
    const serious = [...new Set(appFindings.filter((f) => SERIOUS.includes(f.severity) && !suppressedStatus(f)).map((f) => f.id))];
    expect(serious.length).toBeGreaterThan(0);
    const quiet = await upload(document('Platform Team', '2026-01-01T00:00:00Z', serious.map((id) => ({
      vulnerability: { name: id }, products: [{ '@id': `pkg:oci/app?repository_url=${registry.host}/demo/app` }],
      status: 'not_affected', justification: 'vulnerable_code_not_present',
    }))));
    expect(quiet).toMatchObject({ author: 'Platform Team', statements: serious.length, timestamp: '2026-01-01T00:00:00.000Z', uploadedBy: expect.any(String) });
    const quieted = await findings(appDigest);
    expect(quieted.filter((f) => SERIOUS.includes(f.severity)).every(suppressedStatus)).toBe(true);
    expect(quiet.applied.findings).toBe(quieted.filter((f) => f.vex?.documentId === quiet.id).length);
    const appCounts = (await image('demo/app'))!.counts;
    expect(appCounts).toEqual(expectedCounts(quieted));
    expect([appCounts.critical, appCounts.high, appCounts.medium]).toEqual([0, 0, 0]);
    const healthy = await recommendation();
    expect(healthy.unhealthy).toEqual([]);
    expect(healthy.healthy.map((r) => r.id)).toContain(`local/demo/app@${appDigest}`);
    const raised = await score();
    expect(raised.score).toBeGreaterThan(before.score);

    // A later statement (in time) that one vulnerability does affect the image wins over the earlier one.
    const reopened = appFindings.find((f) => f.id === serious[0])!;
    const affected = await upload(document('Platform Team', '2026-02-01T00:00:00Z', [{
      vulnerability: { name: reopened.id }, products: [{ '@id': `pkg:oci/app@${encodeURIComponent(appDigest)}` }],
      status: 'affected', action_statement: 'upgrade the package to its fixed version',
    }]));
    const after = await findings(appDigest);
    const again = after.filter((f) => f.id === reopened.id);
    expect(again.map((f) => [f.vex?.status, f.vex?.actionStatement, f.vex?.documentId])).toEqual(again.map(() => ['affected', 'upgrade the package to its fixed version', affected.id]));
    expect((await image('demo/app'))!.counts).toEqual(expectedCounts(after));
    expect((await image('demo/app'))!.counts[reopened.severity]).toBe(again.filter((f) => f.severity === reopened.severity).length);
    expect((await recommendation()).unhealthy.map((r) => r.id)).toEqual([`local/demo/app@${appDigest}`]);
    expect((await score()).score).toBeLessThan(raised.score);

    // Removing the later document: the earlier not_affected statement speaks again.
    expect((await api(`/api/v1/vex/${affected.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await findings(appDigest)).filter((f) => f.id === reopened.id).every((f) => f.vex?.status === 'not_affected' && f.vex.documentId === quiet.id)).toBe(true);
    expect((await recommendation()).unhealthy).toEqual([]);
    expect((await jsonOf(api(`/api/v1/activity?target=vex:${affected.id}`))).items.map((e: { action: string }) => e.action)).toEqual(['vex.add', 'vex.remove']);
    const list = await runCommands([registerVex], ['vex', 'list', '--server', server.url!, '--token-file', path.join(place.dir, 'admin.token'), '--format', 'json']);
    expect(JSON.parse(list.out).items.map((d: { author: string; statements: number }) => `${d.author} ${d.statements}`)).toEqual(['App Team <app@example.com> 2', `Platform Team ${serious.length}`]);
  }, 600_000);

  it.skipIf(skip)('refuses bad documents with 400 naming the field, oversized ones with 413, and writes from a non-admin token with 403', async () => {
    const post = (body: string, token = admin) => api('/api/v1/vex', { method: 'POST', body }, token);
    const goVexNoTimestamp = readFileSync(path.join(import.meta.dirname, 'testdata', 'go-vex', 'v020-1.vex.json'), 'utf8');
    const refused = await post(goVexNoTimestamp);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ code: 'vex.invalid', message: expect.stringMatching(/^VEX document: timestamp: is required/) });
    const badStatus = await post(JSON.stringify(document('X', '2026-01-01T00:00:00Z', [{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': 'pkg:oci/app' }], status: 'fine' }])));
    expect(badStatus.status).toBe(400);
    expect((await jsonOf(badStatus)).message).toMatch(/^VEX document: statements\[0\]\.status: must be one of not_affected, affected, fixed, under_investigation/);
    const notJson = await post('{"statements": [');
    expect(notJson.status).toBe(400);
    const huge = await post(JSON.stringify(document('X', '2026-01-01T00:00:00Z', [{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': 'pkg:oci/app' }], status: 'fixed', status_notes: 'x'.repeat(5 * 1024 * 1024) }])));
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ code: 'vex.too_large' });
    const good = readFileSync(path.join(import.meta.dirname, 'testdata', 'go-vex', 'v0.2.0.json'), 'utf8');
    expect((await post(good, registryToken)).status).toBe(403);
    expect((await api('/api/v1/vex/vex_nope', { method: 'DELETE' })).status).toBe(404);
    // Nothing was stored by the refused requests.
    expect((await jsonOf(api('/api/v1/vex'))).items).toHaveLength(2);
  }, 120_000);
});
