import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { storeWithScanQueue, type StoreWithScanQueue } from '../../test/support/scan-queue.js';
import { recordImageScan, replaceImageFindings } from '../center/index.js';
import { ManualClock } from '../core/index.js';
import { inventoryImage } from '../image/index.js';
import type { JobQueue } from '../jobs/index.js';
import { recordImagePull, recordImagePush, type Store } from '../store/index.js';
import { importOsv, matchInventory } from '../vulndb/index.js';
import { queueDailyRescans, rematchStoredInventories } from './rescan.js';
import { SCAN_QUEUE } from './scan.js';

describe.skipIf(!fixturesAvailable())('rescans and re-matching', () => {
  let queue: StoreWithScanQueue;
  let store: Store;
  let jobs: JobQueue;
  const clock = new ManualClock('2026-06-30T12:00:00Z');
  const digest = 'sha256:f5e70c743f3715fccb4ce522d2c17246517accad6fbc1242c53c975ab051a4d7';

  beforeAll(async () => {
    queue = await storeWithScanQueue('rescan');
    ({ store, jobs } = queue);
  });
  afterAll(async () => queue?.close());

  it('re-matches a stored inventory after new advisories arrive, without the image, and alerts on what is new', async () => {
    await importOsv(store, [fixture('osv', 'debian')]);
    const { inventory } = await inventoryImage(`oci:${fixture('images', 'debian12')}:app`);
    await recordImagePush(store.db, { registry: 'local', repository: 'demo/app', digest, tag: '1', imported: false, at: clock.now() });
    const before = await matchInventory(store, inventory);
    await recordImageScan(store.db, { digest, startedAt: clock.now(), finishedAt: clock.now(), inventory });
    await replaceImageFindings(store.db, digest, before);
    expect(before.map((f) => f.package.ecosystem).every((e) => e.startsWith('Debian'))).toBe(true);
    expect(before).toHaveLength(49); // EXPECTED-debian12-app.json

    // GitHub's npm advisories carry CVSS vectors: lodash, express, qs ... become high and critical findings.
    await importOsv(store, [fixture('osv', 'npm')]);
    const outcome = await rematchStoredInventories({ store, clock });
    expect(outcome).toEqual({ images: 1, newAlerts: 1 });
    const stored = await store.db.selectFrom('findings').select(['ecosystem', 'severity']).where('digest', '=', digest).execute();
    const npm = stored.filter((f) => f.ecosystem === 'npm');
    expect(npm.length).toBeGreaterThan(0);
    expect(stored.length).toBe(before.length + npm.length);
    const alert = await store.db.selectFrom('alerts').selectAll().executeTakeFirstOrThrow();
    expect(alert).toMatchObject({ rule: 'registry-image-new-vulnerabilities', resource_id: `local/demo/app@${digest}`, source: 'registry' });
    expect((alert.evidence as Array<{ package: string }>).some((e) => e.package === 'lodash')).toBe(true);

    // Nothing changed since: a second re-match raises nothing.
    expect((await rematchStoredInventories({ store, clock })).newAlerts).toBe(0);
  });

  it('queues one rescan per digest pulled within the window, once per day', async () => {
    await recordImagePush(store.db, { registry: 'local', repository: 'demo/old', digest: 'sha256:' + 'a'.repeat(64), imported: false, at: clock.now() });
    await recordImagePull(store.db, { registry: 'local', repository: 'demo/app', digest, at: new Date('2026-06-20T00:00:00Z') });
    await recordImagePull(store.db, { registry: 'local', repository: 'demo/old', digest: 'sha256:' + 'a'.repeat(64), at: new Date('2026-04-01T00:00:00Z') });
    expect(await queueDailyRescans({ store, jobs, clock })).toBe(1);
    await queueDailyRescans({ store, jobs, clock });
    const queued = await sql<{ data: { digest: string; reason: string; day: string } }>`select data from pgboss.job where name = ${SCAN_QUEUE}`.execute(store.db);
    expect(queued.rows.map((r) => r.data)).toEqual([{ registry: 'local', repository: 'demo/app', digest, reason: 'rescan', day: '2026-06-30' }]);
  });
});
