import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { registryAvailable, startRegistry, type LocalRegistry } from '../../test/registry/registry.js';
import { ManualClock } from '../core/index.js';
import { startJobQueue, type JobQueue } from '../jobs/index.js';
import { getRegistry, type Store } from '../store/index.js';
import { connectRegistry } from './connect.js';
import { pollRegistry } from './poll.js';
import { SCAN_QUEUE } from './scan.js';
import { createTestStore, type TestStore } from '../../test/support/store.js';

describe.skipIf(!fixturesAvailable() || !registryAvailable())('polling a registry without webhooks', () => {
  let temp: TestStore;
  let store: Store;
  let jobs: JobQueue;
  let registry: LocalRegistry;
  const clock = new ManualClock('2026-06-30T12:00:00Z');

  beforeAll(async () => {
    temp = await createTestStore({ name: 'poll' });
    store = temp.store;
    jobs = await startJobQueue(store, { definitions: [{ queue: SCAN_QUEUE, policy: 'short', handler: async () => undefined }], runHandlers: false });
    registry = await startRegistry({ basicAuth: { username: 'poller', password: 'pollpass' } });
    await registry.push(`oci:${fixture('images', 'debian12')}:minbase`, 'demo/base:1');
    await registry.push(`oci:${fixture('images', 'debian12')}:app`, 'demo/app:1');
    await registry.push(`oci:${fixture('images', 'debian12')}:app`, 'demo/app:latest');
    await connectRegistry(store, { name: 'silent', url: registry.url, kind: 'generic', poll: true, login: { username: 'poller', password: 'pollpass' }, secretKey: 'k'.repeat(40), actor: 'test', clock });
  });
  afterAll(async () => {
    await jobs?.stop(1000);
    await temp?.close();
    await registry?.stop();
  });

  it('finds new digests through the catalog and tags, queues one scan per digest, and nothing on the next poll', async () => {
    const context = { store, jobs, clock, config: { secretKey: 'k'.repeat(40) } };
    const first = await pollRegistry(context, await getRegistry(store.db, 'silent'));
    expect(first).toEqual({ repositories: 2, tags: 3, newImages: 2, scansQueued: 2, invalidNames: 0, source: 'catalog' });
    const images = await store.db.selectFrom('images').select(['repository', 'tags']).orderBy('repository').execute();
    expect(images.map((i) => [i.repository, [...i.tags].sort()])).toEqual([['demo/app', ['1', 'latest']], ['demo/base', ['1']]]);
    const second = await pollRegistry(context, await getRegistry(store.db, 'silent'));
    expect(second).toMatchObject({ newImages: 0, scansQueued: 0 });
    const queued = await sql<{ n: number }>`select count(*)::int as n from pgboss.job where name = ${SCAN_QUEUE}`.execute(store.db);
    expect(queued.rows[0]!.n).toBe(2);
  });
});
