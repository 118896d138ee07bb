import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../support/app.js';
import { assertNoServerErrors } from '../foundation/hostile-input.js';

/**
 * Issue 14 point 4 on `POST /harbor/api/v1/scan`: hostile scan requests (fast-check, from valid
 * seeds) get a 4xx with a code, never a 5xx, and a refused one stores nothing. The registry URL of
 * the seeds is a closed loopback port, so an accepted request's scan fails without leaving the machine.
 */
const DIGEST = 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
const scanRequest = (authorization?: string) => ({
  registry: { url: 'http://127.0.0.1:9', ...(authorization ? { authorization } : {}) },
  artifact: { repository: 'library/app', digest: DIGEST, tag: '1.0', mime_type: 'application/vnd.docker.distribution.manifest.v2+json' },
});

describe('hostile scan requests on POST /harbor/api/v1/scan', () => {
  let t: TestApp;
  let token: string;

  beforeAll(async () => {
    t = await createTestApp();
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/registries', headers: bearer(t.adminToken), payload: { name: 'harbor', url: 'http://127.0.0.1:9', kind: 'harbor' } });
    expect(res.statusCode, res.body).toBe(201);
    token = res.json().token;
  }, 300_000);
  afterAll(async () => t?.close());

  it('no 5xx; a refused request stores nothing', async () => {
    const seen = await assertNoServerErrors({
      app: t.app, db: t.store.db, method: 'POST', url: '/harbor/api/v1/scan', headers: bearer(token), numRuns: 60,
      seeds: [scanRequest(), scanRequest(`Basic ${Buffer.from('robot$x:secret').toString('base64')}`), { ...scanRequest(), enabled_capabilities: [{ type: 'vulnerability' }] }],
      // Accepted requests' scans finish (failed) in the background while the property runs, changing
      // their rows' status: that table is compared by its number of rows.
      snapshot: { countOnly: ['harbor_scan_requests'] },
    });
    expect([...seen.keys()].some((s) => s >= 400 && s < 500)).toBe(true);
  }, 180_000);
});
