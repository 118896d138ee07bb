import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { storeWithScanQueue, type StoreWithScanQueue } from '../../test/support/scan-queue.js';
import { recordImageScan, replaceImageFindings } from '../center/index.js';
import { ManualClock } from '../core/index.js';
import { inventoryImage } from '../image/index.js';
import type { JobQueue } from '../jobs/index.js';
import { insertRegistry, recordImagePull, recordImagePush, replaceRunningImages, type Store } from '../store/index.js';
import { importOsv, matchInventory } from '../vulndb/index.js';
import { lastPullsFromRunningImages, queueDailyRescans, rematchStoredInventories, rescanCandidates, DEFAULT_RESCAN_SCHEDULE } from './rescan.js';
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
    expect(outcome).toMatchObject({ images: 1, newAlerts: 1 });
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
    // The pulled-within criterion alone (both images were pushed today: the pushed criterion would take both).
    const pulledOnly = { pushedWithinDays: 0, running: false };
    expect(await queueDailyRescans({ store, jobs, clock }, pulledOnly)).toBe(1);
    await queueDailyRescans({ store, jobs, clock }, pulledOnly);
    const queued = await sql<{ data: { digest: string; reason: string; day: string } }>`select data from pgboss.job where name = ${SCAN_QUEUE}`.execute(store.db);
    expect(queued.rows.map((r) => r.data)).toEqual([{ registry: 'local', repository: 'demo/app', digest, reason: 'rescan', day: '2026-06-30' }]);
  });
});

describe("the rescan schedule (Defender's): pulled in 30 days, pushed in 90, running anywhere", () => {
  let queue: StoreWithScanQueue;
  const clock = new ManualClock('2026-06-30T12:00:00Z');
  const days = (n: number) => new Date(clock.now().getTime() - n * 86_400_000);
  const digest = (c: string) => `sha256:${c.repeat(64)}`;

  beforeAll(async () => {
    queue = await storeWithScanQueue('rescan-schedule');
    const { store } = queue;
    await insertRegistry(store.db, { name: 'local', url: 'http://127.0.0.1:5000', kind: 'distribution', credentials: null, at: days(400) });
    await insertRegistry(store.db, { name: 'acr', url: 'https://team.azurecr.io', kind: 'acr', credentials: null, at: days(400) });
    const push = (registry: string, repository: string, d: string, at: Date) => recordImagePush(store.db, { registry, repository, digest: d, imported: false, at });
    await push('local', 'demo/pulled', digest('1'), days(300));
    await recordImagePull(store.db, { registry: 'local', repository: 'demo/pulled', digest: digest('1'), at: days(29) });
    await push('local', 'demo/stale-pull', digest('2'), days(300));
    await recordImagePull(store.db, { registry: 'local', repository: 'demo/stale-pull', digest: digest('2'), at: days(31) });
    await push('local', 'demo/pushed', digest('3'), days(89));
    await push('local', 'demo/old-push', digest('4'), days(91));
    await push('local', 'demo/running', digest('5'), days(300));
    await push('acr', 'team/api', digest('6'), days(300));
    await push('local', 'demo/deleted', digest('7'), days(1));
    await store.db.updateTable('images').set({ deleted: true }).where('digest', '=', digest('7')).execute();
    // The cluster runs demo/running (pulled from the Distribution registry, which reports pulls itself)
    // and team/api from ACR, whose webhooks send no pulls.
    await replaceRunningImages(store.db, 'prod', [
      { namespace: 'web', pod: 'web-1', container: 'app', image: '127.0.0.1:5000/demo/running:1', digest: digest('5') },
      { namespace: 'api', pod: 'api-1', container: 'api', image: 'team.azurecr.io/team/api:2', digest: digest('6') },
      { namespace: 'api', pod: 'api-2', container: 'sidecar', image: 'team.azurecr.io/team/api:2' },
    ], days(0.5));
  });
  afterAll(async () => queue?.close());

  it('takes each image once, with every criterion it met; never a deleted one', async () => {
    const candidates = await rescanCandidates(queue.store, clock.now(), DEFAULT_RESCAN_SCHEDULE);
    // In image id order (registry/repository@digest): acr/… before local/….
    expect(candidates.map((c) => [c.registry, c.repository, c.reasons])).toEqual([
      ['acr', 'team/api', ['running']],
      ['local', 'demo/pulled', ['pulled']],
      ['local', 'demo/pushed', ['pushed']],
      ['local', 'demo/running', ['running']],
    ]);
    // An image meeting two criteria is listed once with both.
    const both = await rescanCandidates(queue.store, clock.now(), { ...DEFAULT_RESCAN_SCHEDULE, pushedWithinDays: 400 });
    expect(both.find((c) => c.repository === 'demo/running')?.reasons).toEqual(['pushed', 'running']);
  });

  it('turns each criterion off on its own', async () => {
    const repos = async (schedule: typeof DEFAULT_RESCAN_SCHEDULE) => (await rescanCandidates(queue.store, clock.now(), schedule)).map((c) => c.repository).sort();
    expect(await repos({ pulledWithinDays: 30, pushedWithinDays: 0, running: false })).toEqual(['demo/pulled']);
    expect(await repos({ pulledWithinDays: 0, pushedWithinDays: 90, running: false })).toEqual(['demo/pushed']);
    expect(await repos({ pulledWithinDays: 0, pushedWithinDays: 0, running: true })).toEqual(['demo/running', 'team/api']);
    expect(await repos({ pulledWithinDays: 0, pushedWithinDays: 0, running: false })).toEqual([]);
    // Wider windows reach the older pull and push.
    expect(await repos({ pulledWithinDays: 32, pushedWithinDays: 92, running: false })).toEqual(['demo/old-push', 'demo/pulled', 'demo/pushed', 'demo/stale-pull']);
  });

  it('gives images of registries without pull events their last pull from the running-images inventory', async () => {
    expect(await lastPullsFromRunningImages(queue.store)).toBe(1);
    const pulls = await queue.store.db.selectFrom('images').select(['repository', 'last_pulled']).where('repository', 'in', ['team/api', 'demo/running']).orderBy('repository').execute();
    // ACR's image: seen running half a day ago. The Distribution registry's: untouched (it reports its own pulls).
    expect(pulls.map((p) => [p.repository, p.last_pulled && new Date(p.last_pulled).toISOString()])).toEqual([['demo/running', null], ['team/api', days(0.5).toISOString()]]);
    expect(await lastPullsFromRunningImages(queue.store)).toBe(0); // nothing newer the second time

    // So the pulled criterion alone now rescans it, and the daily job queues it once per day.
    const queued = await queueDailyRescans({ store: queue.store, jobs: queue.jobs, clock }, { pushedWithinDays: 0, running: false });
    expect(queued).toBe(2);
    expect(await queue.queuedScans()).toEqual([digest('1'), digest('6')]);
  });
});
