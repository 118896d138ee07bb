import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAlerts, setPlan } from '../../../center/index.js';
import { loadConfig, systemClock } from '../../../core/index.js';
import { createToken, type Store } from '../../../store/index.js';
import { fixture, fixturesAvailable } from '../../../../test/support/fixtures.js';
import { authentication } from '../../auth.js';
import type { ServerContext } from '../../context.js';
import { installErrorHandling } from '../../errors.js';
import { auditIngestRoutes } from './audit.js';
import { createTestStore, type TestStore } from '../../../../test/support/store.js';
import { SITE_DEBUG_NAMESPACE_RULE } from '../../../../test/support/site-rules.js';

const event = (i: number, over: Record<string, unknown> = {}) => ({
  kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: `id-${i}`, stage: 'ResponseComplete',
  requestURI: '/api/v1/namespaces/shop/pods', verb: 'create', user: { username: 'mallory@example.com', groups: ['system:authenticated'] },
  sourceIPs: ['10.1.2.3'], userAgent: 'kubectl/v1.30.2', objectRef: { resource: 'pods', namespace: 'shop', name: 'miner', apiVersion: 'v1' },
  responseStatus: { metadata: {}, code: 201 }, requestReceivedTimestamp: '2026-03-01T10:00:00.000000Z', stageTimestamp: '2026-03-01T10:00:00.010000Z',
  annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
  requestObject: { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'miner', namespace: 'shop' }, spec: { containers: [{ name: 'm', image: 'xmrig/xmrig:6.21', securityContext: { privileged: true } }] } },
  ...over,
});
const list = (items: unknown[]) => ({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items });

describe('POST /ingest/audit', () => {
  let dir: string;
  let temp: TestStore;
  let store: Store;
  let app: FastifyInstance;
  let cluster: string;
  let registry: string;

  beforeAll(async () => {
    temp = await createTestStore({ name: 'audit-ingest' });
    store = temp.store;
    dir = temp.dir;
    const context: ServerContext = { config: loadConfig({ env: {}, cwd: dir }), store, jobs: undefined, clock: systemClock };
    app = Fastify();
    installErrorHandling(app);
    await app.register(authentication, { context });
    await app.register(auditIngestRoutes, { context });
    cluster = (await createToken(store.db, 'cluster:prod')).secret;
    registry = (await createToken(store.db, 'registry:hub')).secret;
  });
  afterAll(async () => {
    await app?.close();
    await temp?.close();
  });

  const post = (payload: unknown, token = cluster, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/ingest/audit', payload: payload as string, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers } });

  it('stores an EventList, raises alerts for the token cluster, and reports bad items while keeping the rest', async () => {
    const bad = { ...event(3), apiVersion: 'audit.k8s.io/v2' };
    const res = await post(list([event(1), event(2, { auditID: 'id-2', verb: 'get', requestObject: undefined }), bad]));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ cluster: 'prod', events: 2, duplicates: 0, errorCount: 1, errors: [{ index: 2, code: 'audit.api-version' }] });
    expect(res.json().alerts).toBeGreaterThanOrEqual(2);
    const alerts = await listAlerts(store.db, { source: ['audit'], cluster: 'prod' }, 50);
    expect(alerts.map((a) => a.rule)).toEqual(expect.arrayContaining(['k8s.crypto-mining-image', 'k8s.privileged-container']));
    expect(alerts.find((a) => a.rule === 'k8s.privileged-container')!.resource).toMatchObject({ kind: 'pod', id: 'prod/shop/pod/miner', cluster: 'prod', namespace: 'shop' });
    const stored = await store.db.selectFrom('audit_events').select(['audit_id']).where('cluster', '=', 'prod').execute();
    expect(stored.map((r) => r.audit_id).sort()).toEqual(['id-1', 'id-2']);
    // The cluster appears in the inventory with its last event, for the overview's coverage.
    const row = await store.db.selectFrom('clusters').select(['name', 'last_event_at']).where('name', '=', 'prod').executeTakeFirst();
    expect(row?.last_event_at).toBeInstanceOf(Date);
  });

  it('does not count a re-sent batch twice; a single Event and a JSON array are accepted', async () => {
    const before = (await listAlerts(store.db, { rule: 'k8s.privileged-container' }, 10))[0]!.count;
    const again = await post(list([event(1)]));
    expect(again.json()).toMatchObject({ events: 1, duplicates: 1, alerts: 0 });
    expect((await listAlerts(store.db, { rule: 'k8s.privileged-container' }, 10))[0]!.count).toBe(before);
    expect((await post(event(10))).json()).toMatchObject({ events: 1, duplicates: 0, alerts: 2 });
    expect((await post([event(11), event(12)])).json()).toMatchObject({ events: 2 });
    expect((await listAlerts(store.db, { rule: 'k8s.privileged-container' }, 10))[0]!.count).toBe(before + 3);
  });

  it('records the alerts of concurrent batches once each, with every occurrence counted', async () => {
    const before = (await listAlerts(store.db, { rule: 'k8s.crypto-mining-image' }, 10))[0]!.count;
    const results = await Promise.all(Array.from({ length: 6 }, (_, b) => post(list([event(2000 + b * 2), event(2001 + b * 2)]))));
    expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    const after = await listAlerts(store.db, { rule: 'k8s.crypto-mining-image' }, 10);
    expect(after).toHaveLength(1);
    expect(after[0]!.count).toBe(before + 12);
  });

  it('with the cluster\'s Kubernetes plan off: answers 403 plan_disabled, stores and detects nothing, keeps the cluster in the inventory', async () => {
    const staging = (await createToken(store.db, 'cluster:staging')).secret;
    await setPlan(store.db, 'cluster:staging', false, new Date());
    const refused = await post(list([event(700, { auditID: 'off-1' })]), staging);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'plan_disabled', message: expect.stringContaining('plan is off for cluster staging') });
    expect(await store.db.selectFrom('audit_events').select('audit_id').where('cluster', '=', 'staging').execute()).toEqual([]);
    expect(await listAlerts(store.db, { cluster: 'staging' }, 10)).toEqual([]);
    expect((await store.db.selectFrom('clusters').select('last_event_at').where('name', '=', 'staging').executeTakeFirst())?.last_event_at).toBeInstanceOf(Date);

    await setPlan(store.db, 'cluster:staging', true, new Date());
    expect((await post(list([event(700, { auditID: 'off-1' })]), staging)).statusCode).toBe(200);
  });

  it('refuses missing and foreign tokens, oversized batches, 50 MB bodies and invalid JSON without crashing', async () => {
    expect((await app.inject({ method: 'POST', url: '/ingest/audit', payload: list([event(1)]) })).statusCode).toBe(401);
    expect((await post(list([event(1)]), registry)).statusCode).toBe(403);
    const tooMany = await post(list(Array.from({ length: 401 }, (_, i) => event(100 + i))));
    expect(tooMany.statusCode).toBe(413);
    expect(tooMany.json().code).toBe('audit.batch-too-large');
    const huge = await post(JSON.stringify(list([event(1, { requestObject: { blob: 'x'.repeat(50 * 1024 * 1024) } })])));
    expect(huge.statusCode).toBe(413);
    const broken = await post('{"kind":"EventList","items":[');
    expect(broken.statusCode).toBe(400);
    // PostgreSQL text cannot hold NUL: such an event is stored with a replacement character, not refused forever.
    const nul = await post(list([event(901, { user: { username: 'system:serviceaccount:shop:x\u0000y', groups: [] }, userAgent: 'a\u0000b' })]));
    expect(nul.statusCode).toBe(200);
    // And the endpoint still works.
    expect((await post(list([event(900)]))).statusCode).toBe(200);
  });

  it.skipIf(!fixturesAvailable())('accepts the real v1beta1 events of the audit2rbac log in 400-event batches', async () => {
    const events = readFileSync(fixture('audit', 'audit2rbac', 'demo.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    let stored = 0;
    for (let i = 0; i < events.length; i += 400) {
      const res = await post(list(events.slice(i, i + 400)));
      expect(res.statusCode).toBe(200);
      stored += res.json().events - res.json().duplicates;
    }
    expect(stored).toBe(events.length);
    const alerts = await listAlerts(store.db, { rule: 'k8s.impersonation', cluster: 'prod' }, 10);
    expect(alerts.length).toBeGreaterThan(0);
  });

  describe('the configured rules directory', () => {
    const siteRule = SITE_DEBUG_NAMESPACE_RULE;
    /** An app over the shared store whose config names a rules directory holding `files`, as palisade.yaml's `rulesDir` does. */
    async function appWithRules(files: Record<string, string>): Promise<FastifyInstance> {
      const rulesDir = await mkdtemp(path.join(os.tmpdir(), 'palisade-site-rules-'));
      for (const [name, text] of Object.entries(files)) await writeFile(path.join(rulesDir, name), text);
      await writeFile(path.join(dir, 'palisade.yaml'), `rulesDir: ${rulesDir}\n`);
      const config = loadConfig({ env: {}, cwd: dir });
      expect(config.rulesDir).toBe(rulesDir);
      const site = Fastify();
      installErrorHandling(site);
      await site.register(authentication, { context: { config, store, jobs: undefined, clock: systemClock } });
      await site.register(auditIngestRoutes, { context: { config, store, jobs: undefined, clock: systemClock } });
      return site;
    }

    it('adds its rules: the first batch raises their alerts', async () => {
      const site = await appWithRules({ 'site.yaml': siteRule });
      try {
        const res = await site.inject({
          method: 'POST', url: '/ingest/audit', payload: list([event(700, { objectRef: { resource: 'pods', namespace: 'debug', name: 'x', apiVersion: 'v1' } })]),
          headers: { authorization: `Bearer ${cluster}`, 'content-type': 'application/json' },
        });
        expect(res.statusCode).toBe(200);
        const alerts = await listAlerts(store.db, { rule: 'site.debug-namespace', cluster: 'prod' }, 10);
        expect(alerts.map((a) => a.resource.namespace)).toEqual(['debug']);
      } finally {
        await site.close();
      }
    });

    it('stops the server from starting when a rule in it is wrong, naming the file, rule and field', async () => {
      const site = await appWithRules({ 'bad.yaml': siteRule.replace('severity: low', 'severity: severe') }).catch((error: unknown) => error);
      expect(site).toMatchObject({ code: 'audit.rule-invalid', message: expect.stringMatching(/bad\.yaml: site\.debug-namespace\.severity/) });
    });
  });
});
