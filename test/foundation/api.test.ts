import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordThreats, type DetectedThreat } from '../../src/center/index.js';
import { createToken, listActions } from '../../src/store/index.js';
import { bearer, createTestApp, type TestApp } from '../support/app.js';
import { podThreat } from '../support/threats.js';

function threat(i: number, overrides: Partial<DetectedThreat> = {}): DetectedThreat {
  return podThreat(`web-${i}`, new Date(Date.UTC(2026, 0, 1, 0, i)), { title: 'Exec into a pod', severity: 'medium', evidence: [{ auditID: `a-${i}` }], ...overrides });
}

describe('security center HTTP surface', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ jobs: true });
  });
  afterAll(async () => t?.close());

  it('answers health and readiness without a token, naming each check', async () => {
    expect((await t.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks).toEqual({ database: 'ok', migrations: 'ok', jobQueue: 'ok' });
  });

  it('reports not ready when the job queue has stopped', async () => {
    const other = await createTestApp({ jobs: true });
    await other.jobs!.stop(1000);
    const ready = await other.app.inject('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks.jobQueue).toBe('stopped');
    await other.close();
  });

  it('serves Prometheus metrics that count requests by route', async () => {
    await t.app.inject('/healthz');
    const metrics = await t.app.inject('/metrics');
    expect(metrics.headers['content-type']).toMatch(/text\/plain/);
    expect(metrics.body).toMatch(/palisade_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
  });

  it('serves the OpenAPI description with the API paths', async () => {
    const spec = (await t.app.inject('/docs/json')).json();
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/api/v1/alerts', '/api/v1/tokens', '/api/v1/plans', '/api/v1/clusters']));
  });

  it('serves the API docs page and its scripts without a token', async () => {
    // The address the server's start line prints.
    const page = await t.app.inject('/docs');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('swagger-ui-bundle.js');
    const bundle = await t.app.inject('/docs/static/swagger-ui-bundle.js');
    expect(bundle.statusCode).toBe(200);
    expect(bundle.body.length).toBeGreaterThan(100_000);
    const initializer = await t.app.inject('/docs/static/swagger-initializer.js');
    expect(initializer.body).toContain('./json');
  });

  it('refuses API calls without a valid token with 401 and a JSON error', async () => {
    const none = await t.app.inject('/api/v1/alerts');
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ code: 'unauthorized', message: 'missing or invalid bearer token' });
    const wrong = await t.app.inject({ url: '/api/v1/alerts', headers: bearer('pal_not-a-real-token') });
    expect(wrong.statusCode).toBe(401);
  });

  it('refuses a cluster token on admin routes with 403', async () => {
    const cluster = await createToken(t.store.db, 'cluster:prod');
    const response = await t.app.inject({ url: '/api/v1/tokens', headers: bearer(cluster.secret) });
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('forbidden');
  });

  it('creates a token once, lists it without its secret, and revokes it', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(t.adminToken), payload: { scope: 'registry:acr1' } });
    expect(created.statusCode).toBe(201);
    const { id, secret } = created.json();
    expect(secret).toMatch(/^pal_/);
    const list = await t.app.inject({ url: '/api/v1/tokens', headers: bearer(t.adminToken) });
    expect(list.body).not.toContain(secret);
    expect(list.json().items.map((i: { id: string }) => i.id)).toContain(id);
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, headers: bearer(t.adminToken) })).statusCode).toBe(200);
    expect((await listActions(t.store.db, id)).map((a) => a.action)).toEqual(['token.create', 'token.revoke']);
  });

  it('rejects a malformed token scope with 400 naming the field', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(t.adminToken), payload: { scope: 'root' } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'token.scope' });
    expect(response.json().message).toMatch(/invalid token scope 'root'/);
  });

  it('rejects a body over the size limit with 413', async () => {
    const small = await createTestApp({ config: { bodyLimit: 2048 } });
    const response = await small.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { ...bearer(small.adminToken), 'content-type': 'application/json' }, payload: JSON.stringify({ scope: 'admin', name: 'x'.repeat(5000) }) });
    expect(response.statusCode).toBe(413);
    expect(response.json().code).toBe('body_too_large');
    await small.close();
  });

  it('rejects invalid JSON with 400', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { ...bearer(t.adminToken), 'content-type': 'application/json' }, payload: '{"scope":' });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('invalid_json');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const response = await t.app.inject({ url: '/api/v1/nothing', headers: bearer(t.adminToken) });
    expect(response.statusCode).toBe(404);
    expect(response.json().code).toBe('not_found');
  });

  it('keeps one alert per rule, resource and window, counting repeats', async () => {
    const first = await recordThreats(t.store.db, [threat(1), threat(2)]);
    expect(first.created).toHaveLength(2);
    const again = await recordThreats(t.store.db, [threat(1, { at: new Date(Date.UTC(2026, 0, 1, 3)) })]);
    expect(again.created).toHaveLength(0);
    const list = (await t.app.inject({ url: '/api/v1/alerts?rule=exec-into-pod', headers: bearer(t.adminToken) })).json();
    const web1 = list.items.find((a: { resource: { name: string } }) => a.resource.name === 'web-1');
    expect(web1.count).toBe(2);
    expect(web1.lastSeen).toBe('2026-01-01T03:00:00.000Z');
    expect(web1.firstSeen).toBe('2026-01-01T00:01:00.000Z');
  });

  it('paginates lists with an opaque cursor and the { items, next } shape', async () => {
    await recordThreats(t.store.db, Array.from({ length: 7 }, (_, i) => threat(100 + i, { rule: 'privileged-pod' })));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const response = (await t.app.inject({ url: `/api/v1/alerts?rule=privileged-pod&limit=3${cursor ? `&cursor=${cursor}` : ''}`, headers: bearer(t.adminToken) })).json();
      seen.push(...response.items.map((a: { id: string }) => a.id));
      cursor = response.next;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    const bad = await t.app.inject({ url: '/api/v1/alerts?cursor=garbage', headers: bearer(t.adminToken) });
    expect(bad.statusCode).toBe(400);
  });

  it('filters alerts by severity and rejects an unknown severity', async () => {
    await recordThreats(t.store.db, [threat(300, { rule: 'crypto-miner', severity: 'high' })]);
    const high = (await t.app.inject({ url: '/api/v1/alerts?severity=high,critical', headers: bearer(t.adminToken) })).json();
    expect(high.items.every((a: { severity: string }) => a.severity === 'high' || a.severity === 'critical')).toBe(true);
    expect(high.items.length).toBeGreaterThan(0);
    expect((await t.app.inject({ url: '/api/v1/alerts?severity=apocalyptic', headers: bearer(t.adminToken) })).statusCode).toBe(400);
  });

  it('dismisses an alert and records who did it', async () => {
    const { created } = await recordThreats(t.store.db, [threat(400, { rule: 'dismiss-me' })]);
    const id = created[0]!;
    const response = await t.app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/status`, headers: bearer(t.adminToken), payload: { status: 'dismissed', reason: 'expected maintenance' } });
    expect(response.json().status).toBe('dismissed');
    const trail = await listActions(t.store.db, id);
    expect(trail[0]).toMatchObject({ action: 'alert.dismissed', details: { reason: 'expected maintenance' } });
    expect(trail[0]!.actor).toMatch(/^token:tok_/);
  });

  it('switches a plan off and on per scope', async () => {
    const off = await t.app.inject({ method: 'PUT', url: '/api/v1/plans/cluster:prod', headers: bearer(t.adminToken), payload: { enabled: false } });
    expect(off.json()).toMatchObject({ kind: 'kubernetes', scope: 'cluster:prod', enabled: false });
    const plans = (await t.app.inject({ url: '/api/v1/plans', headers: bearer(t.adminToken) })).json();
    expect(plans.items).toEqual([expect.objectContaining({ scope: 'cluster:prod', enabled: false })]);
  });
});
