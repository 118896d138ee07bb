import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable } from '../../test/support/postgres.js';
import { createTestStoreLocation, STORE_BACKENDS, type TestStoreLocation } from '../../test/support/store.js';
import { openStore, type Store } from '../store/index.js';
import { StoreDetectionState } from './state-store.js';

describe.each(STORE_BACKENDS)('audit detection state on %s', (kind) => {
  let backend: TestStoreLocation | undefined;
  beforeAll(async () => {
    if (kind === 'postgres' && !(await postgresAvailable())) return;
    backend = await createTestStoreLocation({ backend: kind, name: 'audit-state' });
  });
  afterAll(async () => backend?.cleanup());

  it('survives a restart, and keeps only the bounded scopes', async (ctx) => {
    if (!backend) ctx.skip();
    let store: Store = await openStore(backend!.location);
    const first = await StoreDetectionState.open(store.db, { maxScopes: 3 });
    expect(first.observe('rule|c|sa1', 'get/leases', 1000).isNew).toBe(true);
    first.observe('rule|c|sa1', 'get/leases', 2000);
    first.observe('rule|c|sa1', 'list/pods', 3000);
    for (let i = 2; i <= 4; i++) first.observe(`rule|c|sa${i}`, 'get/leases', 4000 + i);
    await first.flush();
    await store.close();

    store = await openStore(backend!.location);
    const second = await StoreDetectionState.open(store.db, { maxScopes: 3 });
    // sa1 was evicted by the bound (and removed from the store); sa2..sa4 remember their values.
    expect(second.scopeCount).toBe(3);
    expect(second.observe('rule|c|sa4', 'get/leases', 9000)).toMatchObject({ isNew: false, scopeFirstSeen: 4004, scopeEvents: 1 });
    expect(second.observe('rule|c|sa4', 'delete/pods', 9001).isNew).toBe(true);
    await second.flush();
    const rows = await store.db.selectFrom('audit_state_scopes').select(['scope', 'events']).orderBy('scope').execute();
    expect(rows.map((r) => [r.scope, Number(r.events)])).toEqual([['rule|c|sa2', 1], ['rule|c|sa3', 1], ['rule|c|sa4', 3]]);
    await store.close();
    // Opening an embedded PostgreSQL twice, migrations included, takes minutes on a loaded 2-core machine.
  }, 300_000);
});
