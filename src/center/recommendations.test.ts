import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPostgres, postgresAvailable, type TestPostgres } from '../../test/support/postgres.js';
import type { Recommendation } from '../core/index.js';
import { openStore, type Store } from '../store/index.js';
import { listRecommendations, saveRecommendations } from './recommendations.js';

const rec = (policy: string, unhealthy: number): Recommendation => ({
  policy, title: policy, severity: 'high', remediation: 'fix it', control: 'Remediate vulnerabilities',
  healthy: [], unhealthy: Array.from({ length: unhealthy }, (_, i) => ({ kind: 'image', id: `acr/app@sha256:${i}`, name: `app ${i}` })), notApplicable: [],
});

describe('saving a scope\'s recommendations', () => {
  let pg: TestPostgres;
  let workers: Store[];
  beforeAll(async () => {
    if (!(await postgresAvailable())) throw new Error('PostgreSQL is not reachable at 127.0.0.1:5432 (see TESTING.md)');
    pg = await createTestPostgres();
    workers = [await openStore({ databaseUrl: pg.url }), await openStore({ databaseUrl: pg.url })];
  });
  afterAll(async () => {
    for (const store of workers ?? []) await store.close();
    await pg?.drop();
  });

  it('survives two workers saving the same scope at once (scans of one registry finishing together)', async () => {
    const saves = workers.flatMap((store, w) => Array.from({ length: 8 }, (_, i) => saveRecommendations(store.db, 'registry:acr', [rec('registry-images-vulnerabilities', w * 10 + i)], new Date())));
    await expect(Promise.all(saves)).resolves.toBeDefined();
    const stored = await listRecommendations(workers[0]!.db, 'registry:acr');
    expect(stored).toHaveLength(1);
  });

  it('replaces the scope\'s set: a policy no longer evaluated is removed, other scopes are untouched', async () => {
    const db = workers[0]!.db;
    await saveRecommendations(db, 'cluster:prod', [rec('a', 1), rec('b', 2)], new Date());
    await saveRecommendations(db, 'cluster:dev', [rec('a', 1)], new Date());
    await saveRecommendations(db, 'cluster:prod', [rec('b', 3)], new Date());
    expect((await listRecommendations(db, 'cluster:prod')).map((r) => [r.policy, r.unhealthy.length])).toEqual([['b', 3]]);
    expect((await listRecommendations(db, 'cluster:dev')).map((r) => r.policy)).toEqual(['a']);
    await saveRecommendations(db, 'cluster:prod', [], new Date());
    expect(await listRecommendations(db, 'cluster:prod')).toEqual([]);
  });
});
