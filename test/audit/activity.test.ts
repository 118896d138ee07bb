import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditDetector, loadAuditRules, normalizeEvent } from '../../src/audit/index.js';
import { createChannel, ThreatIntake } from '../../src/center/index.js';
import type { Store } from '../../src/store/index.js';
import { createTestStore, type TestStore } from '../../test/support/store.js';

/**
 * Falco's activity rules (who created or deleted what) reach the center as informational alerts:
 * kept beside the alerts, never sent to a channel, even one that asks for every severity.
 */
describe('audit activity in the center', () => {
  let temp: TestStore;
  let store: Store;
  beforeAll(async () => {
    temp = await createTestStore({ name: 'activity' });
    store = temp.store;
  }, 120_000);
  afterAll(async () => {
    await temp?.close();
  });

  it('keeps a Deployment created as activity, without notifying, while its privileged container notifies', async () => {
    await createChannel(store.db, { name: 'everything', kind: 'webhook', settings: { url: 'http://127.0.0.1:9/hook', secret: 'a-signing-secret-0123456789' }, minSeverity: 'informational' });
    const event = normalizeEvent({
      kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: 'dep-1', stage: 'ResponseComplete',
      requestURI: '/apis/apps/v1/namespaces/shop/deployments', verb: 'create', user: { username: 'alice@example.com', groups: ['system:authenticated'] },
      sourceIPs: ['10.0.0.1'], objectRef: { resource: 'deployments', namespace: 'shop', name: 'web', apiGroup: 'apps', apiVersion: 'v1' },
      responseStatus: { code: 201 }, requestReceivedTimestamp: '2025-06-01T12:00:00Z', stageTimestamp: '2025-06-01T12:00:00Z',
      requestObject: { kind: 'Deployment', metadata: { name: 'web' }, spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx', securityContext: { privileged: true } }] } } } },
    });
    const threats = new AuditDetector({ rules: loadAuditRules({ dir: null }), cluster: 'prod' }).threats([event]);
    expect(threats.map((t) => [t.rule, t.severity]).sort()).toEqual([['k8s.activity.deployment', 'informational'], ['k8s.privileged-container', 'high']]);
    const { created } = await new ThreatIntake(store).submit({ threats });
    expect(created).toHaveLength(2);
    const stored = await store.db.selectFrom('alerts').select(['id', 'rule']).execute();
    expect(stored.map((a) => a.rule).sort()).toEqual(['k8s.activity.deployment', 'k8s.privileged-container']);
    const deliveries = await store.db.selectFrom('notification_deliveries').select('alert_id').execute();
    expect(deliveries.map((d) => stored.find((a) => a.id === d.alert_id)?.rule)).toEqual(['k8s.privileged-container']);
  }, 60_000);
});
