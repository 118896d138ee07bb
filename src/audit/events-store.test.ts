import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../store/index.js';
import { postgresAvailable } from '../../test/support/postgres.js';
import { createTestStore, type TestStore } from '../../test/support/store.js';
import type { AuditEvent } from './event.js';
import { storedStagesQuery, storeAuditEvents, unseenAuditEvents } from './events-store.js';
import { normalizeEvent } from './sources/event.js';

const event = (id: string, stage = 'ResponseComplete'): AuditEvent => normalizeEvent({
  kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: id, stage, verb: 'get', requestURI: '/api/v1/namespaces/shop/pods',
  user: { username: 'alice' }, objectRef: { resource: 'pods', namespace: 'shop' }, requestReceivedTimestamp: '2026-03-01T10:00:00.000000Z',
});

/**
 * The webhook's "stored before?" lookup on a real PostgreSQL: exact per cluster, auditID and
 * stage, and answered from the primary key even while the table's statistics predate its growth
 * (a new install's first minutes, when autovacuum has not analysed it yet). Written as a filter,
 * the planner read every event of the cluster through the (cluster, received_at) index per batch.
 */
describe.runIf(await postgresAvailable())('audit events store on PostgreSQL', () => {
  let temp: TestStore | undefined;
  let store: Store;
  beforeAll(async () => {
    temp = await createTestStore({ backend: 'postgres', name: 'audit-events' });
    store = temp.store;
    // No analysis may run before the plan is looked at (autovacuum would, within a minute).
    await sql`alter table audit_events set (autovacuum_enabled = false)`.execute(store.db);
    for (let i = 0; i < 4000; i += 400) {
      await storeAuditEvents(store.db, 'prod', Array.from({ length: 400 }, (_, k) => event(`e-${i + k}`)));
    }
    await storeAuditEvents(store.db, 'staging', [event('e-1')]);
  }, 120_000);
  afterAll(async () => temp?.close());

  it('leaves out exactly the events stored before, per cluster and stage', async () => {
    const batch = [event('e-3998'), event('e-3999'), event('e-4000'), event('e-3999', 'ResponseStarted'), event('e-4001')];
    const fresh = await unseenAuditEvents(store.db, 'prod', batch);
    expect(fresh.map((e) => `${e.auditID}/${e.stage}`)).toEqual(['e-4000/ResponseComplete', 'e-3999/ResponseStarted', 'e-4001/ResponseComplete']);
    const other = await unseenAuditEvents(store.db, 'staging', [event('e-1'), event('e-2')]);
    expect(other.map((e) => e.auditID)).toEqual(['e-2']);
  });

  it('probes the primary key per auditID, without statistics', async () => {
    const analysed = await sql<{ n: string }>`select count(*) as n from pg_stat_user_tables where relname = 'audit_events' and last_analyze is null and last_autoanalyze is null`.execute(store.db);
    const ids = Array.from({ length: 400 }, (_, k) => `e-${3800 + k}`);
    const plan = (await sql<{ 'QUERY PLAN': string }>`explain ${storedStagesQuery('prod', ids)}`.execute(store.db)).rows.map((r) => r['QUERY PLAN']).join('\n');
    // The situation this guards against: a table of 4,000 events the planner has no statistics for.
    expect(Number(analysed.rows[0]!.n)).toBe(1);
    expect(plan).toContain('audit_events_pk');
    expect(plan).not.toContain('audit_events_cluster_time');
  });
});
