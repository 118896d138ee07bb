import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../support/app.js';
import { assertNoServerErrors } from './hostile-input.js';

/**
 * Issue 14 point 4 on `POST /ingest/registry/{name}` for a Distribution and a Harbor registry:
 * hostile webhook bodies (fast-check) get a 4xx with a code, never a 5xx, and a refused one stores
 * and queues nothing. (The caps and name grammar of that route are point 1 and 3, elsewhere.)
 */
const DIGEST = 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
const distributionEnvelope = (action: 'push' | 'pull', repository: string) => ({
  events: [{
    id: `ev-${action}-${repository}`, timestamp: '2026-03-01T10:00:00Z', action,
    target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1234, digest: DIGEST, length: 1234, repository, url: `http://127.0.0.1:9/v2/${repository}/manifests/${DIGEST}`, tag: '1.0' },
    request: { id: 'req-1', addr: '127.0.0.1:5555', host: '127.0.0.1:9', method: action === 'push' ? 'PUT' : 'GET', useragent: 'skopeo/1.13' },
    actor: { name: 'ci' }, source: { addr: '127.0.0.1:9' },
  }],
});
const harborPayload = (type: string) => ({
  type, occur_at: 1772359200, operator: 'robot$ci',
  event_data: {
    resources: [{ digest: DIGEST, tag: '1.0', resource_url: `127.0.0.1:9/library/app:1.0` }],
    repository: { date_created: 1772359000, name: 'app', namespace: 'library', repo_full_name: 'library/app', repo_type: 'private' },
  },
});
const RUNS = 60;

describe('hostile webhooks on POST /ingest/registry/{name}', () => {
  let t: TestApp;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    t = await createTestApp({ jobs: true });
    for (const [name, kind] of [['local', 'distribution'], ['harbor', 'harbor']] as const) {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/registries', headers: bearer(t.adminToken), payload: { name, url: 'http://127.0.0.1:9', kind } });
      expect(res.statusCode, res.body).toBe(201);
      tokens[name] = res.json().token;
    }
  }, 300_000);
  afterAll(async () => t?.close());

  it('a Distribution registry: no 5xx, a refused webhook stores and queues nothing', async () => {
    const seen = await assertNoServerErrors({
      app: t.app, db: t.store.db, method: 'POST', url: '/ingest/registry/local', headers: bearer(tokens.local!), numRuns: RUNS,
      seeds: [distributionEnvelope('push', 'demo/app'), distributionEnvelope('pull', 'library/nginx')],
    });
    expect([...seen.keys()].some((s) => s >= 400 && s < 500)).toBe(true);
  }, 120_000);

  it('a Harbor registry: no 5xx, a refused webhook stores and queues nothing', async () => {
    const seen = await assertNoServerErrors({
      app: t.app, db: t.store.db, method: 'POST', url: '/ingest/registry/harbor', headers: bearer(tokens.harbor!), numRuns: RUNS,
      seeds: [harborPayload('PUSH_ARTIFACT'), harborPayload('PULL_ARTIFACT')],
    });
    expect([...seen.keys()].some((s) => s >= 400 && s < 500)).toBe(true);
  }, 120_000);
});
