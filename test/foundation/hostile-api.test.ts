import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordThreats } from '../../src/center/index.js';
import { bearer, createTestApp, type TestApp } from '../support/app.js';
import { assertNoServerErrors, type HostileRoute } from './hostile-input.js';

/**
 * Issue 14 point 4 on the API routes that take a body: a bounded number of hostile bodies each
 * (fast-check), no 5xx, nothing stored on a 4xx, the server still ready.
 */
const RUNS = 40;

describe('hostile bodies on the API routes', () => {
  let t: TestApp;
  let admin: Record<string, string>;
  let userId: string;
  let channelId: string;
  let alertId: string;

  beforeAll(async () => {
    t = await createTestApp({ config: { secretKey: 'k'.repeat(40) } });
    admin = bearer(t.adminToken);
    const { created } = await recordThreats(t.store.db, [{
      rule: 'k8s.exec-into-pod', title: 'Exec into a pod', severity: 'medium', tactic: 'Execution', resource: { kind: 'pod', id: 'prod/shop/pod/web', name: 'web', cluster: 'prod', namespace: 'shop' },
      evidence: [{ auditID: 'a-1' }], remediation: 'Restrict pods/exec', source: 'audit', at: new Date('2026-03-01T00:00:00Z'),
    }]);
    alertId = created[0]!;
    const user = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: admin, payload: { name: 'reader-one', role: 'reader', password: 'correct horse battery' } });
    userId = user.json().id;
    const channel = await t.app.inject({ method: 'POST', url: '/api/v1/notifications/channels', headers: admin, payload: { name: 'hook', kind: 'webhook', settings: { url: 'http://127.0.0.1:9/hook', secret: 's'.repeat(20) } } });
    expect(channel.statusCode, channel.body).toBe(201);
    channelId = channel.json().id;
  }, 300_000);
  afterAll(async () => t?.close());

  const route = (method: HostileRoute['method'], url: string, seeds: unknown[], extra: Partial<HostileRoute> = {}) => async () => {
    const seen = await assertNoServerErrors({ app: t.app, db: t.store.db, method, url, headers: admin, numRuns: RUNS, seeds, ...extra });
    expect([...seen.keys()].some((s) => s >= 400 && s < 500)).toBe(true);
  };

  it('POST /api/v1/users', () => route('POST', '/api/v1/users', [{ name: 'alice', role: 'reader', password: 'a long enough passphrase' }])(), 120_000);
  it('PATCH /api/v1/users/:id', () => route('PATCH', `/api/v1/users/${userId}`, [{ role: 'admin' }, { password: 'another long passphrase' }])(), 120_000);
  it('POST /api/v1/session', () => route('POST', '/api/v1/session', [{ user: 'reader-one', password: 'correct horse battery' }, { token: 'pal_not_a_token' }], {
    headers: {},
    // A failed sign-in is written to the audit trail and slows the next attempt, on purpose.
    snapshot: { skip: ['audit_trail', 'sign_in_failures'] },
  })(), 120_000);
  it('POST /api/v1/tokens', () => route('POST', '/api/v1/tokens', [{ scope: 'cluster:prod', name: 'ci' }, { scope: 'registry:hub' }])(), 120_000);
  it('POST /api/v1/alerts/:id/status', () => route('POST', `/api/v1/alerts/${alertId}/status`, [{ status: 'dismissed', reason: 'known test pod' }, { status: 'active' }])(), 120_000);
  it('POST /api/v1/registries', () => route('POST', '/api/v1/registries', [
    { name: 'hub', url: 'http://127.0.0.1:9', kind: 'distribution' },
    { name: 'harbor', url: 'https://127.0.0.1:9', kind: 'harbor', username: 'robot', password: 'pw', poll: true },
  ])(), 120_000);
  it('POST /api/v1/recommendations/exemptions', () => route('POST', '/api/v1/recommendations/exemptions', [
    { policy: 'pod.privileged', scope: 'cluster:prod', resource: 'shop/web', reason: 'accepted risk', expiresAt: '2027-01-01T00:00:00Z' },
  ])(), 120_000);
  it('POST /api/v1/notifications/channels', () => route('POST', '/api/v1/notifications/channels', [
    { name: 'ops', kind: 'webhook', settings: { url: 'http://127.0.0.1:9/x', secret: 'z'.repeat(20) }, minSeverity: 'high', digestMinutes: 5, enabled: true },
    { name: 'chat', kind: 'slack', settings: { url: 'https://127.0.0.1:9/services/x' } },
  ])(), 120_000);
  it('PATCH /api/v1/notifications/channels/:id', () => route('PATCH', `/api/v1/notifications/channels/${channelId}`, [{ name: 'renamed', minSeverity: 'low', enabled: false }])(), 120_000);
  it('PUT /api/v1/plans/:scope', () => route('PUT', '/api/v1/plans/cluster:prod', [{ enabled: true }, { enabled: false }])(), 120_000);
});
