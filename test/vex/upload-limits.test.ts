import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../support/app.js';

/**
 * Values the OpenVEX schema allows but the store cannot hold: an upload carrying one is a 400
 * naming the field, never a 500 from a failed insert (found by probing POST /api/v1/vex).
 */
describe('POST /api/v1/vex: values the schema allows and the store cannot hold', () => {
  let t: TestApp;
  beforeAll(async () => { t = await createTestApp(); }, 120_000);
  afterAll(async () => t?.close());

  const document = (fields: Record<string, unknown>) => ({
    '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://example.com/vex/limits', author: 'Example Security', timestamp: '2026-01-01T00:00:00Z', version: 1,
    statements: [{ vulnerability: { name: 'CVE-2026-0001' }, products: [{ '@id': 'pkg:oci/app' }], status: 'fixed' }],
    ...fields,
  });
  const upload = (body: unknown) => t.app.inject({ method: 'POST', url: '/api/v1/vex', headers: { ...bearer(t.adminToken), 'content-type': 'application/json' }, payload: JSON.stringify(body) });

  it.each([
    ['a version past 32 bits', { version: 2_147_483_648 }, 'version'],
    ['a version of 1e300', { version: 1e300 }, 'version'],
    ['the year 0000', { timestamp: '0000-01-01T00:00:00Z' }, 'timestamp'],
  ])('refuses %s with 400 naming the field', async (_what, fields, field) => {
    const response = await upload(document(fields));
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({ code: 'vex.invalid' });
    expect((response.json() as { message: string }).message).toContain(`VEX document: ${field}:`);
  });

  it('stores the largest version and the last second of year 9999', async () => {
    const response = await upload(document({ version: 2_147_483_647, timestamp: '9999-12-31T23:59:59Z' }));
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ version: 2_147_483_647, timestamp: '9999-12-31T23:59:59.000Z' });
  });
});
