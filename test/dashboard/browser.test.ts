import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectedThreat } from '../../src/center/alerts.js';
import { recordThreatsAndPublish } from '../../src/center/live.js';
import { createUser } from '../../src/center/users.js';
import { createToken, openStore, type Store } from '../../src/store/index.js';
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

function threat(name: string, severity: DetectedThreat['severity']): DetectedThreat {
  return {
    rule: 'k8s.exec-into-container', title: `Exec into container ${name}`, severity, tactic: 'Execution', technique: 'T1609',
    resource: { kind: 'pod', id: `prod/payments/pod/${name}`, name, cluster: 'prod', namespace: 'payments' },
    evidence: [{ verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', name }, user: { username: 'mallory' } }],
    remediation: 'Limit pods/exec to break-glass roles.', source: 'audit', at: new Date(),
  };
}

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
  let store: Store;
  let stop: () => Promise<void> = async () => {};
  let pgdb: TestPostgres | undefined;
  let mode = '';

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    if (builtServerHasDashboard() && (await postgresAvailable())) {
      // The real built server; alerts come from a second connection (as a worker's would) over LISTEN/NOTIFY.
      mode = 'built server on PostgreSQL';
      pgdb = await createTestPostgres();
      const cwd = await mkdtemp(path.join(os.tmpdir(), 'palisade-web-'));
      const server: ServerProcess = await startProcess(['server', '--port', '0'], { cwd, env: { PALISADE_DATABASE_URL: pgdb.url } });
      base = server.url;
      store = await openStore({ databaseUrl: pgdb.url });
      adminToken = server.adminToken ?? (await createToken(store.db, 'admin', 'browser test')).secret;
      stop = async () => {
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

  it('shows a new alert live, with a toast for high severity, without a reload', async () => {
    await page.getByRole('link', { name: 'Security alerts' }).click();
    await page.getByRole('heading', { name: 'Security alerts' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    await page.evaluate("window.marker = 'same page'");
    await recordThreatsAndPublish(store, [threat('checkout-7d9f', 'high')]);
    const row = page.getByRole('link', { name: 'Exec into container checkout-7d9f', exact: true });
    await row.first().waitFor({ timeout: 15_000 });
    await page.getByText('High severity alert: Exec into container checkout-7d9f').waitFor();
    // Still the same document: it arrived over server-sent events, not a reload.
    expect(await page.evaluate('window.marker')).toBe('same page');
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('alerts');
  });

  it('filters and searches alerts', async () => {
    await recordThreatsAndPublish(store, [threat('ledger-55', 'low')]);
    await page.getByLabel('Search').fill('ledger');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('link', { name: 'Exec into container ledger-55', exact: true }).waitFor();
    await expect.poll(() => page.getByRole('link', { name: 'Exec into container checkout-7d9f', exact: true }).count()).toBe(0);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('Severity').selectOption('high');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('link', { name: 'Exec into container checkout-7d9f', exact: true }).first().waitFor();
    await expect.poll(() => page.getByRole('link', { name: 'Exec into container ledger-55', exact: true }).count()).toBe(0);
  });

  it('opens an alert with its evidence and remediation, and dismisses it', async () => {
    await page.getByRole('link', { name: 'Exec into container checkout-7d9f', exact: true }).first().click();
    await page.getByRole('heading', { name: 'Exec into container checkout-7d9f' }).waitFor();
    await page.getByText('Limit pods/exec to break-glass roles.').waitFor();
    await page.getByText('"username": "mallory"').waitFor();
    await page.getByText('T1609').waitFor();
    await page.getByLabel('Reason (recorded in the audit trail)').fill('break-glass session, approved');
    await page.getByRole('button', { name: 'Dismiss' }).click();
    await page.getByText('Alert dismissed.').waitFor();
    await page.getByText(/alert\.dismissed by user:secops/).waitFor();
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('alert-detail');
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    const alert = (await (await fetch(`${base}/api/v1/alerts/${id}`, { headers: bearer(adminToken) })).json()) as { status: string };
    expect(alert.status).toBe('dismissed');
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
    // Ingest for that cluster is refused with the reason (when this server has the agent ingest).
    const ingest = await fetch(`${base}/ingest/agent?cluster=prod`, {
      method: 'POST', headers: { ...bearer(adminToken), 'content-type': 'application/json' },
      body: JSON.stringify({ batchId: 'b-1', node: { name: 'node-1', cores: 4 }, heartbeat: { at: new Date().toISOString() }, events: [], alerts: [] }),
    });
    if (ingest.status !== 404) {
      expect(ingest.status).toBe(403);
      expect(((await ingest.json()) as { code: string }).code).toBe('plan_disabled');
    }
    await page.getByRole('heading', { name: 'Notification channels' }).waitFor();
    expect(await unlabelledControls(page)).toEqual([]);
    await shot('settings');
  });

  it('reads the costs page and uses the calculator', async () => {
    await page.getByRole('link', { name: 'Costs' }).click();
    await page.getByText(/projected for \d{4}-\d{2}/).waitFor();
    await page.getByText(/These are estimates from list prices/).waitFor();
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
    for (const [link, heading, name] of [['Recommendations', 'Recommendations', 'recommendations'], ['Container images', 'Container images', 'images'], ['Inventory', 'Inventory', 'inventory']] as const) {
      await page.getByRole('link', { name: link }).click();
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      await expect.poll(() => page.locator('[aria-busy="true"]').count()).toBe(0);
      expect(await page.getByRole('alert').count()).toBe(0);
      expect(await unlabelledControls(page)).toEqual([]);
      await shot(name);
    }
    await page.getByRole('cell', { name: 'prod', exact: true }).first().waitFor();
  });
});
