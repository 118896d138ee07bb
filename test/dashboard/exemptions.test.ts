import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overview } from '../../src/center/overview.js';
import { saveRecommendations } from '../../src/center/recommendations.js';
import { refreshSecureScore } from '../../src/center/score-refresh.js';
import { createUser } from '../../src/center/users.js';
import { ManualClock, type Recommendation, type ResourceRef } from '../../src/core/index.js';
import { bearer } from '../support/app.js';
import { createCenterApp, sessionOf } from './support.js';

const DAY = 86_400_000;
// As the center lists them: named by their graph identity too.
const pod = (name: string): ResourceRef => ({ kind: 'pod', id: `prod/shop/pod/${name}`, name, cluster: 'prod', namespace: 'shop', identity: `pod:prod/shop/pod/${name}` });
const [web, api, worker] = [pod('web'), pod('api'), pod('worker')];

// One scored control (Manage access and permissions, 4 points): web healthy; api and worker unhealthy.
const privileged: Recommendation = {
  policy: 'no-privileged-containers', title: 'Containers should not run privileged', severity: 'high', remediation: 'Drop securityContext.privileged.',
  control: 'Manage access and permissions', healthy: [web], unhealthy: [api, worker], notApplicable: [],
};

interface RecommendationView { policy: string; unhealthy: ResourceRef[]; exempt: ResourceRef[]; healthy: ResourceRef[]; exemptions: Array<{ id: string; resource?: string; reason: string }> }

describe('recommendation exemptions API', () => {
  let t: Awaited<ReturnType<typeof createCenterApp>>;
  const clock = new ManualClock(new Date('2026-06-01T09:00:00Z'));
  const later = (days: number) => new Date(clock.now().getTime() + days * DAY).toISOString();

  beforeAll(async () => {
    t = await createCenterApp({ clock });
    await saveRecommendations(t.store.db, 'cluster:prod', [privileged], clock.now());
    await refreshSecureScore(t.store.db, clock.now());
    await createUser(t.store.db, { name: 'rita', role: 'reader', password: 'reader passphrase 1' });
    await createUser(t.store.db, { name: 'alice', role: 'admin', password: 'correct horse battery' });
  });
  afterAll(async () => t?.close());

  const exempt = (payload: object, headers: Record<string, string> = bearer(t.adminToken)) =>
    t.app.inject({ method: 'POST', url: '/api/v1/recommendations/exemptions', headers, payload });
  const recommendation = async (): Promise<RecommendationView> =>
    (await t.app.inject({ url: '/api/v1/recommendations?scope=cluster:prod', headers: bearer(t.adminToken) })).json<{ items: RecommendationView[] }>().items[0]!;
  const percentage = async (): Promise<number> =>
    (await t.app.inject({ url: '/api/v1/score?scope=cluster:prod', headers: bearer(t.adminToken) })).json<{ current: { percentage: number } }>().current.percentage;
  const signIn = async (user: string, password: string) => sessionOf(await t.app.inject({ method: 'POST', url: '/api/v1/session', payload: { user, password } }));

  it('starts with two of three resources unhealthy (4 × 1/3 = 1.33 points)', async () => {
    expect(await percentage()).toBe(33.25);
    expect((await recommendation()).exempt).toEqual([]);
  });

  it('refuses readers, and cookie sessions without the CSRF token', async () => {
    const body = { policy: privileged.policy, scope: 'cluster:prod', resource: api.id, reason: 'vendor agent', expiresAt: later(7) };
    const reader = await signIn('rita', 'reader passphrase 1');
    const refused = await exempt(body, { cookie: reader.cookie, 'x-csrf-token': reader.csrf });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('forbidden');
    const admin = await signIn('alice', 'correct horse battery');
    const forged = await exempt(body, { cookie: admin.cookie });
    expect(forged.statusCode).toBe(403);
    expect(forged.json().code).toBe('csrf');
    expect((await t.app.inject({ url: '/api/v1/recommendations/exemptions', headers: { cookie: reader.cookie } })).json()).toEqual({ items: [] });
  });

  it('names the bad field of a bad request', async () => {
    const good = { policy: privileged.policy, scope: 'cluster:prod', resource: api.id, reason: 'vendor agent', expiresAt: later(7) };
    const cases: Array<[object, number, RegExp]> = [
      [{ ...good, expiresAt: later(-1) }, 422, /expiresAt .* must be in the future/],
      [{ ...good, expiresAt: 'next tuesday' }, 400, /expiresAt/],
      [{ ...good, reason: '   ' }, 422, /reason must say why/],
      [{ ...good, reason: undefined }, 400, /reason/],
      [{ ...good, resource: 'prod/shop/pod/nope' }, 422, /resource prod\/shop\/pod\/nope is not among/],
      [{ ...good, policy: 'no-such-policy' }, 404, /no recommendation no-such-policy in scope cluster:prod/],
      [{ ...good, scope: 'prod' }, 400, /scope/],
      [{ ...good, extra: 1 }, 400, /additional/],
    ];
    for (const [payload, status, message] of cases) {
      const response = await exempt(payload);
      expect({ payload, status: response.statusCode }).toEqual({ payload, status });
      expect(response.json().message).toMatch(message);
    }
    expect((await recommendation()).exempt).toEqual([]);
  });

  let exemptionId = '';
  it('exempts a resource: it leaves the unhealthy list, the score goes up, the audit trail says who and when', async () => {
    const admin = await signIn('alice', 'correct horse battery');
    const created = await exempt({ policy: privileged.policy, scope: 'cluster:prod', resource: api.id, reason: 'vendor agent, accepted risk', expiresAt: later(7) },
      { cookie: admin.cookie, 'x-csrf-token': admin.csrf });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ policy: privileged.policy, scope: 'cluster:prod', resource: api.id, reason: 'vendor agent, accepted risk', expiresAt: later(7), createdBy: 'user:alice', createdAt: clock.now().toISOString() });
    exemptionId = created.json().id;

    const rec = await recommendation();
    expect(rec.unhealthy).toEqual([worker]);
    expect(rec.exempt).toEqual([api]);
    expect(rec.healthy).toEqual([web]);
    expect(rec.exemptions).toEqual([expect.objectContaining({ id: exemptionId, resource: api.id, reason: 'vendor agent, accepted risk' })]);
    // web healthy, worker unhealthy, api left out: 1 of 2.
    expect(await percentage()).toBe(50);
    expect((await overview(t.store.db, clock.now())).topRecommendations).toEqual([expect.objectContaining({ policy: privileged.policy, unhealthy: 1 })]);

    const trail = (await t.app.inject({ url: `/api/v1/activity?target=${exemptionId}`, headers: bearer(t.adminToken) })).json<{ items: Array<{ actor: string; action: string; at: string; details: Record<string, unknown> }> }>().items;
    expect(trail).toEqual([expect.objectContaining({ actor: 'user:alice', action: 'recommendation.exempted', at: clock.now().toISOString(), details: expect.objectContaining({ resource: api.id, reason: 'vendor agent, accepted risk' }) })]);
    const listed = (await t.app.inject({ url: '/api/v1/recommendations/exemptions?scope=cluster:prod', headers: bearer(t.adminToken) })).json<{ items: Array<{ id: string }> }>().items;
    expect(listed.map((e) => e.id)).toEqual([exemptionId]);
  });

  it('exempts a whole scope, and removing that exemption counts its resources again', async () => {
    const created = await exempt({ policy: privileged.policy, scope: 'cluster:prod', reason: 'lab cluster until rebuild', expiresAt: later(3) });
    expect(created.statusCode).toBe(201);
    expect(created.json().resource).toBeUndefined();
    expect((await recommendation()).unhealthy).toEqual([]);
    expect(await percentage()).toBe(100);
    expect((await overview(t.store.db, clock.now())).topRecommendations).toEqual([]);

    const removed = await t.app.inject({ method: 'DELETE', url: `/api/v1/recommendations/exemptions/${created.json().id}`, headers: bearer(t.adminToken) });
    expect(removed.statusCode).toBe(204);
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/recommendations/exemptions/${created.json().id}`, headers: bearer(t.adminToken) })).statusCode).toBe(404);
    expect((await recommendation()).unhealthy).toEqual([worker]);
    expect(await percentage()).toBe(50);
    const trail = (await t.app.inject({ url: `/api/v1/activity?target=${created.json().id}`, headers: bearer(t.adminToken) })).json<{ items: Array<{ action: string }> }>().items;
    expect(trail.map((e) => e.action)).toEqual(['recommendation.exempted', 'recommendation.exemption-removed']);
  });

  it('stops applying once the expiry passes: the resource is unhealthy and counts against the score again', async () => {
    clock.advance(7 * DAY - 1000);
    expect((await recommendation()).exempt).toEqual([api]);
    clock.advance(2000);
    const rec = await recommendation();
    expect(rec.exempt).toEqual([]);
    expect(rec.unhealthy).toEqual([api, worker]);
    expect(await percentage()).toBe(33.25);
    const expired = (await t.app.inject({ url: '/api/v1/recommendations/exemptions?status=expired', headers: bearer(t.adminToken) })).json<{ items: Array<{ id: string }> }>().items;
    expect(expired.map((e) => e.id)).toEqual([exemptionId]);
    expect((await t.app.inject({ url: '/api/v1/recommendations/exemptions', headers: bearer(t.adminToken) })).json()).toEqual({ items: [] });
  });
});
