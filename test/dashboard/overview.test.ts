import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordThreats, type DetectedThreat } from '../../src/center/alerts.js';
import { recordDailyScore, secureScore } from '../../src/center/score.js';
import { ManualClock } from '../../src/core/index.js';
import { bearer } from '../support/app.js';
import { createCenterApp } from './support.js';
import { podThreat } from '../support/threats.js';

const NOW = new Date('2026-05-20T12:00:00Z');
// npm run build (build:web) makes web/dist; CI always builds first.
const webBuilt = existsSync(path.resolve(import.meta.dirname, '../../web/dist/index.html')) || process.env.CI === 'true';

function threat(name: string, severity: DetectedThreat['severity'], at: Date, source: DetectedThreat['source'] = 'audit'): DetectedThreat {
  return podThreat(name, at, { rule: `rule-${name}`, title: name, severity, source, remediation: 'fix', resource: { kind: 'pod', id: `prod/ns/pod/${name}`, name, cluster: 'prod', namespace: 'ns' } });
}

describe('overview API', () => {
  let t: Awaited<ReturnType<typeof createCenterApp>>;
  beforeAll(async () => {
    t = await createCenterApp({ clock: new ManualClock(NOW) });
    const db = t.store.db;
    await recordThreats(db, [
      threat('a', 'critical', new Date('2026-05-20T08:00:00Z')),
      threat('b', 'high', new Date('2026-05-19T08:00:00Z'), 'agent'),
      threat('c', 'high', new Date('2026-05-19T09:00:00Z')),
      threat('d', 'low', new Date('2026-04-01T09:00:00Z')),
    ]);
    // Dismissed alerts do not count as active.
    await db.updateTable('alerts').set({ status: 'dismissed' }).where('title', '=', 'c').execute();
    await db.insertInto('clusters').values([{ id: 'c1', name: 'prod', last_event_at: NOW }, { id: 'c2', name: 'lab' }]).execute();
    await db.insertInto('nodes').values([
      { id: 'n1', cluster: 'prod', name: 'n1', cores: 4, last_heartbeat: new Date(NOW.getTime() - 60_000) },
      { id: 'n2', cluster: 'prod', name: 'n2', cores: 4, last_heartbeat: new Date(NOW.getTime() - 3_600_000) },
    ]).execute();
    await db.insertInto('plans').values({ kind: 'kubernetes', scope: 'cluster:lab', enabled: false, since: NOW }).execute();
    await db.insertInto('images').values({ id: 'i1', digest: 'sha256:aa', registry: 'acr', repository: 'team/api', tags: JSON.stringify(['1.2']) }).execute();
    const finding = (vulnerability: string, severity: string, status = 'unfixed') => ({
      digest: 'sha256:aa', vulnerability, aliases: '[]', package_name: 'openssl', package_version: '3.0', ecosystem: 'deb', purl: `pkg:deb/openssl@${vulnerability}`, severity, status, detail: '{}',
    });
    await db.insertInto('findings').values([finding('CVE-1', 'critical'), finding('CVE-2', 'high'), finding('CVE-3', 'high', 'fixed'), finding('CVE-4', 'low')]).execute();
    await db.insertInto('recommendations').values([
      { policy: 'privileged', scope: 'cluster:prod', title: 'No privileged containers', severity: 'high', remediation: 'x', healthy: '[]', unhealthy: JSON.stringify([{ kind: 'pod', id: '1', name: 'p' }]), not_applicable: '[]', evaluated_at: NOW },
      { policy: 'all-good', scope: 'cluster:prod', title: 'All good', severity: 'critical', remediation: 'x', healthy: JSON.stringify([{ kind: 'pod', id: '1', name: 'p' }]), unhealthy: '[]', not_applicable: '[]', evaluated_at: NOW },
    ]).execute();
    await recordDailyScore(db, secureScore([]), new Date('2026-05-19T12:00:00Z'));
    await recordDailyScore(db, secureScore([]), NOW);
  });
  afterAll(async () => t?.close());

  it('counts active alerts by severity, new alerts per day, and coverage', async () => {
    const o = (await t.app.inject({ url: '/api/v1/overview', headers: bearer(t.adminToken) })).json();
    expect(o.alerts.activeBySeverity).toEqual({ critical: 1, high: 1, medium: 0, low: 1, informational: 0 });
    expect(o.alerts.total).toBe(4);
    expect(o.alerts.perDay).toHaveLength(14);
    expect(o.alerts.perDay.at(-1)).toEqual({ day: '2026-05-20', count: 1 });
    expect(o.alerts.perDay.at(-2)).toEqual({ day: '2026-05-19', count: 2 });
    // Outside the 14-day window.
    expect(o.alerts.perDay.reduce((s: number, d: { count: number }) => s + d.count, 0)).toBe(3);
    expect(o.coverage.clusters).toEqual([
      expect.objectContaining({ name: 'lab', plan: false, nodes: 0, agentsReporting: 0 }),
      expect.objectContaining({ name: 'prod', plan: true, nodes: 2, agentsReporting: 1 }),
    ]);
    expect(Object.keys(o.coverage.lastAlertBySource).sort()).toEqual(['agent', 'audit']);
  });

  it('lists critical/high findings per image and only unhealthy recommendations', async () => {
    const o = (await t.app.inject({ url: '/api/v1/overview', headers: bearer(t.adminToken) })).json();
    expect(o.vulnerableImages).toEqual([expect.objectContaining({ digest: 'sha256:aa', repository: 'team/api', critical: 1, high: 2 })]);
    expect(o.topRecommendations.map((r: { policy: string }) => r.policy)).toEqual(['privileged']);
  });

  it('serves the secure score with its daily trend', async () => {
    const s = (await t.app.inject({ url: '/api/v1/score', headers: bearer(t.adminToken) })).json();
    expect(s.current.day).toBe('2026-05-20');
    expect(s.history.map((p: { day: string }) => p.day)).toEqual(['2026-05-19', '2026-05-20']);
    expect((await t.app.inject({ url: '/api/v1/score?scope=bogus', headers: bearer(t.adminToken) })).statusCode).toBe(400);
  });

  it.skipIf(!webBuilt)('serves the built dashboard publicly while the API stays authenticated', async () => {
    const index = await t.app.inject({ url: '/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toMatch(/text\/html/);
    expect(index.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    const deep = await t.app.inject({ url: '/alerts/alr_123' });
    expect(deep.statusCode).toBe(200);
    expect((await t.app.inject({ url: '/api/v1/overview' })).statusCode).toBe(401);
  });
});
