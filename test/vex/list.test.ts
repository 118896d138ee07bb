import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../support/app.js';

/** GET /api/v1/vex is a list endpoint like the others: `?limit=&cursor=` in, `{ items, next? }` out, oldest upload first. */
describe('GET /api/v1/vex pages', () => {
  let t: TestApp;
  const ids: string[] = [];
  const get = (url: string) => t.app.inject({ method: 'GET', url, headers: bearer(t.adminToken) });

  beforeAll(async () => {
    t = await createTestApp();
    for (let i = 1; i <= 3; i++) {
      const response = await t.app.inject({
        method: 'POST', url: '/api/v1/vex', headers: { ...bearer(t.adminToken), 'content-type': 'application/json' },
        payload: JSON.stringify({
          '@context': 'https://openvex.dev/ns/v0.2.0', '@id': `https://example.com/vex/${i}`, author: `author ${i}`, timestamp: '2026-01-01T00:00:00Z', version: 1,
          statements: [{ vulnerability: { name: `CVE-2026-000${i}` }, products: [{ '@id': 'pkg:oci/app' }], status: 'not_affected', justification: 'component_not_present' }],
        }),
      });
      expect(response.statusCode, response.body).toBe(201);
      ids.push((response.json() as { id: string }).id);
    }
  }, 120_000);
  afterAll(async () => t?.close());

  it('returns every document across pages, oldest upload first, each once', async () => {
    const first = await get('/api/v1/vex?limit=2');
    expect(first.statusCode).toBe(200);
    const one = first.json() as { items: Array<{ id: string; author: string }>; next?: string };
    expect(one.items.map((d) => d.id)).toEqual(ids.slice(0, 2));
    expect(one.next).toBeTypeOf('string');
    const second = (await get(`/api/v1/vex?limit=2&cursor=${one.next}`)).json() as { items: Array<{ id: string }>; next?: string };
    expect(second.items.map((d) => d.id)).toEqual(ids.slice(2));
    expect(second.next).toBeUndefined();
    expect(((await get('/api/v1/vex')).json() as { items: unknown[] }).items).toHaveLength(3);
  });

  it('refuses a cursor it did not return and a limit out of range with 400 naming the parameter', async () => {
    for (const cursor of [Buffer.from('["x"]').toString('base64url'), Buffer.from('[-1]').toString('base64url'), Buffer.from('[1,2]').toString('base64url'), 'not-a-cursor']) {
      const response = await get(`/api/v1/vex?cursor=${cursor}`);
      expect(response.statusCode, cursor).toBe(400);
      expect((response.json() as { message: string }).message).toMatch(/cursor/);
    }
    const tooMany = await get('/api/v1/vex?limit=501');
    expect(tooMany.statusCode).toBe(400);
    expect((tooMany.json() as { message: string }).message).toMatch(/limit/);
  });
});
