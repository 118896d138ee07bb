import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordThreats, type DetectedThreat } from '../../src/center/alerts.js';
import { bearer, createTestApp, type TestApp } from '../support/app.js';

const pod = (name: string, cluster = 'prod') => ({ kind: 'pod' as const, id: `${cluster}/shop/pod/${name}`, name, cluster, namespace: 'shop' });
function threat(rule: string, resource: ReturnType<typeof pod>, severity: DetectedThreat['severity'], tactic: string, minutesAgo: number): DetectedThreat {
  return {
    rule, title: `${rule} on ${resource.name}`, severity, tactic, technique: 'T1609', resource,
    evidence: [{ rule }], remediation: 'Investigate the pod', source: 'agent', at: new Date(Date.now() - minutesAgo * 60_000),
  };
}

describe('incidents: the alerts of one resource together', () => {
  let t: TestApp;
  const get = async (url: string) => (await t.app.inject({ method: 'GET', url: `/api/v1/${url}`, headers: bearer(t.adminToken) })).json();

  beforeAll(async () => {
    t = await createTestApp();
    await recordThreats(t.store.db, [
      // One attack on web-1: exec, then a miner, then a call home.
      threat('k8s.exec-into-pod', pod('web-1'), 'medium', 'Execution', 30),
      threat('host.crypto-miner', pod('web-1'), 'high', 'Impact', 20),
      threat('host.suspicious-ip', pod('web-1'), 'medium', 'Command and Control', 10),
      // A single alert on another pod, and on a pod whose name extends web-1's: not incidents.
      threat('k8s.exec-into-pod', pod('api-1'), 'medium', 'Execution', 5),
      threat('k8s.exec-into-pod', pod('web-10'), 'low', 'Execution', 1),
      // Two alerts on a pod of another cluster.
      threat('k8s.exec-into-pod', pod('db-0', 'staging'), 'low', 'Execution', 40),
      threat('k8s.privileged-container', pod('db-0', 'staging'), 'critical', 'Privilege Escalation', 45),
      // Activity records (informational) are not threats: they join no incident, alone or beside one alert.
      threat('k8s.activity.configmap-modified', pod('api-1'), 'informational', 'Persistence', 4),
      threat('k8s.activity.deployment-created', pod('cfg-1'), 'informational', 'Persistence', 3),
      threat('k8s.activity.service-created', pod('cfg-1'), 'informational', 'Persistence', 2),
    ]);
  });
  afterAll(async () => t?.close());

  it('groups resources with two or more active alerts (activity records aside), newest first, with the worst severity and the tactics in kill-chain order', async () => {
    const { items } = await get('incidents');
    expect(items.map((i: { resource: { id: string } }) => i.resource.id)).toEqual(['prod/shop/pod/web-1', 'staging/shop/pod/db-0']);
    expect(items[0]).toMatchObject({ severity: 'high', alertCount: 3, tactics: ['Execution', 'Command and Control', 'Impact'] });
    expect(items[0].alerts.map((a: { title: string }) => a.title)).toEqual(['host.suspicious-ip on web-1', 'host.crypto-miner on web-1', 'k8s.exec-into-pod on web-1']);
    expect(items[1]).toMatchObject({ severity: 'critical', tactics: ['Execution', 'Privilege Escalation'] });
  });

  it('filters by cluster and pages with a cursor', async () => {
    expect((await get('incidents?cluster=staging')).items.map((i: { resource: { id: string } }) => i.resource.id)).toEqual(['staging/shop/pod/db-0']);
    const first = await get('incidents?limit=1');
    expect(first.items).toHaveLength(1);
    const second = await get(`incidents?limit=1&cursor=${first.next}`);
    expect(second.items.map((i: { resource: { id: string } }) => i.resource.id)).toEqual(['staging/shop/pod/db-0']);
    expect(second.next).toBeUndefined();
    // A cursor this list never wrote (a number where the time goes, a wrong length) is refused, naming the cursor.
    for (const made of [[1, 2], ['not a time', 'inc_x'], ['2026-01-01T00:00:00Z']]) {
      const response = await t.app.inject({ method: 'GET', url: `/api/v1/incidents?cursor=${Buffer.from(JSON.stringify(made)).toString('base64url')}`, headers: bearer(t.adminToken) });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'invalid_cursor', message: expect.stringContaining('cursor') });
    }
  });

  it('lists exactly one resource\'s alerts (not a pod whose name merely starts the same)', async () => {
    const { items } = await get(`alerts?resource=${encodeURIComponent('prod/shop/pod/web-1')}`);
    expect(items).toHaveLength(3);
    expect(items.every((a: { resource: { id: string } }) => a.resource.id === 'prod/shop/pod/web-1')).toBe(true);
  });

  it('leaves a resource out once its alerts are dismissed down to one', async () => {
    const { items } = await get(`alerts?resource=${encodeURIComponent('staging/shop/pod/db-0')}`);
    const dismiss = await t.app.inject({ method: 'POST', url: `/api/v1/alerts/${items[0].id}/status`, headers: bearer(t.adminToken), payload: { status: 'dismissed' } });
    expect(dismiss.statusCode).toBe(200);
    expect((await get('incidents')).items.map((i: { resource: { id: string } }) => i.resource.id)).toEqual(['prod/shop/pod/web-1']);
    expect((await get('incidents?status=active,dismissed')).items).toHaveLength(2);
  });
});
