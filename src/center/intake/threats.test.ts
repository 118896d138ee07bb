import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../store/index.js';
import { postgresAvailable } from '../../../test/support/postgres.js';
import { createTestStore, type TestStore } from '../../../test/support/store.js';
import type { DetectedThreat } from '../alerts.js';
import { ThreatIntake } from './threats.js';

const at = new Date(Date.UTC(2026, 0, 1, 12));
const threat = (pod: string, count = 1): DetectedThreat => ({
  rule: 'exec-into-pod', title: `exec into ${pod}`, severity: 'high', tactic: 'Execution',
  resource: { kind: 'pod', id: `prod/shop/${pod}`, name: pod, cluster: 'prod', namespace: 'shop' },
  evidence: [{ pod }], remediation: 'Remove exec rights.', source: 'audit', at, count,
});

/**
 * The intake on a real PostgreSQL (two writers, the most concurrent setup): concurrent submissions
 * that hit the same alerts are counted exactly, each new alert is reported created to one of them,
 * a submission's own rows commit with its alerts, and one failing submission fails alone.
 */
describe.runIf(await postgresAvailable())('ThreatIntake on PostgreSQL', () => {
  let temp: TestStore | undefined;
  let store: Store;
  beforeAll(async () => {
    temp = await createTestStore({ backend: 'postgres', name: 'intake' });
    store = temp.store;
    await sql`create table intake_marks (id text primary key)`.execute(store.db);
  }, 120_000);
  afterAll(async () => temp?.close());

  const mark = (id: string) => async (tx: typeof store.db) => {
    await sql`insert into intake_marks (id) values (${id})`.execute(tx);
  };

  it('counts every occurrence of concurrent submissions once, and reports each new alert as created once', async () => {
    const intake = new ThreatIntake(store, { writers: 2 });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => intake.submit({
      threats: [threat('web-1', 2), threat(`api-${i % 4}`)],
      commit: mark(`ok-${i}`),
    })));
    const rows = await store.db.selectFrom('alerts').select(['resource_id', 'count']).orderBy('resource_id').execute();
    expect(rows).toEqual([
      { resource_id: 'prod/shop/api-0', count: 10 }, { resource_id: 'prod/shop/api-1', count: 10 },
      { resource_id: 'prod/shop/api-2', count: 10 }, { resource_id: 'prod/shop/api-3', count: 10 },
      { resource_id: 'prod/shop/web-1', count: 80 },
    ]);
    expect(results.flatMap((r) => r.created)).toHaveLength(5);
    expect(new Set(results.flatMap((r) => [...r.created, ...r.updated])).size).toBe(5);
    expect(results.every((r) => r.created.length + r.updated.length === 2)).toBe(true);
    const marks = await sql<{ n: string }>`select count(*) as n from intake_marks where id like 'ok-%'`.execute(store.db);
    expect(Number(marks.rows[0]!.n)).toBe(40);
  });

  it('fails only the submission whose own write fails, and stores none of its alerts', async () => {
    // One writer: the first submission holds it, so the next two are written as one group, which
    // fails, and are then retried one by one.
    const intake = new ThreatIntake(store, { writers: 1 });
    const outcomes = await Promise.allSettled([
      intake.submit({ threats: [threat('db-1')], commit: mark('group-a') }),
      intake.submit({ threats: [threat('db-2')], commit: mark('ok-0') }), // already there: primary key violation
      intake.submit({ threats: [threat('db-3')], commit: mark('group-c') }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const rows = await store.db.selectFrom('alerts').select('resource_id').where('resource_id', 'like', 'prod/shop/db-%').orderBy('resource_id').execute();
    expect(rows.map((r) => r.resource_id)).toEqual(['prod/shop/db-1', 'prod/shop/db-3']);
  });
});
