import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setPlan } from '../center/index.js';
import { ManualClock } from '../core/index.js';
import type { JobQueue } from '../jobs/index.js';
import { markImageScanned, type Store } from '../store/index.js';
import { storeWithScanQueue, type StoreWithScanQueue } from '../../test/support/scan-queue.js';
import type { RegistryEvent } from './events.js';
import { SCAN_QUEUE } from './scan.js';
import { ingestRegistryEvents, queueFirstScans } from './triggers.js';

const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const push = (repository: string, n: number, tag: string): RegistryEvent => ({ action: 'push', repository, digest: digest(n), tag, import: false, at: new Date('2026-11-20T09:00:00Z') });

describe('switching a registry plan on', () => {
  let queue: StoreWithScanQueue;
  let store: Store;
  let jobs: JobQueue;
  const clock = new ManualClock('2026-11-20T10:00:00Z');
  const queued = () => queue.queuedScans();

  beforeAll(async () => {
    queue = await storeWithScanQueue('triggers');
    ({ store, jobs } = queue);
  });
  afterAll(async () => queue?.close());

  it('keeps pushes made while the plan was off, then queues one first scan per unscanned digest when it is switched on', async () => {
    await setPlan(store.db, 'registry:acr', false, clock.now());
    const outcome = await ingestRegistryEvents({ store, jobs, clock }, 'acr', [push('team/web', 1, '1.0'), push('team/web', 1, 'latest'), push('team/api', 2, '2.0'), push('team/db', 3, '3.0')]);
    expect(outcome).toMatchObject({ scansQueued: 0, planOff: true });
    expect(await queued()).toEqual([]);
    // Scanned before the plan went off: the daily rescan covers it, not a first scan.
    await markImageScanned(store.db, digest(3), clock.now());

    await setPlan(store.db, 'registry:acr', true, clock.now());
    expect(await queueFirstScans({ store, jobs }, 'acr')).toBe(2);
    expect(await queued()).toEqual([digest(1), digest(2)]);
    // Switched on twice: still one queued scan per digest.
    await queueFirstScans({ store, jobs }, 'acr');
    expect(await queued()).toEqual([digest(1), digest(2)]);
    expect(await queueFirstScans({ store, jobs }, 'other-registry')).toBe(0);
  });

  it('as a safety net, queues only pushes of the last hour that are over 10 minutes old and still unscanned', async () => {
    const at = (iso: string): RegistryEvent => ({ ...push('team/net', 0, 'x'), at: new Date(iso) });
    await ingestRegistryEvents({ store, jobs, clock }, 'edge', [
      { ...at('2026-11-20T08:30:00Z'), digest: digest(4) }, // 90 min before: outside the window
      { ...at('2026-11-20T09:30:00Z'), digest: digest(5) }, // 30 min before, never scanned: lost
      { ...at('2026-11-20T09:55:00Z'), digest: digest(6) }, // 5 min before: its scan may still be queued
    ]);
    await sql`delete from pgboss.job where name = ${SCAN_QUEUE}`.execute(store.db);
    const now = clock.now().getTime();
    expect(await queueFirstScans({ store, jobs }, 'edge', { after: new Date(now - 3_600_000), before: new Date(now - 600_000) })).toBe(1);
    expect(await queued()).toEqual([digest(5)]);
  });
});
