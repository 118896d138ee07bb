import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRecommendations } from '../center/index.js';
import { ManualClock } from '../core/index.js';
import { markImageScanned, recordImagePush, type Store } from '../store/index.js';
import { REGISTRY_POLICY } from './recommendation.js';
import { scanKey, scanRegistryImage } from './scan.js';
import { createTestStore, type TestStore } from '../../test/support/store.js';

describe('a scan job retried after its scan was recorded', () => {
  let temp: TestStore;
  let store: Store;
  const clock = new ManualClock('2026-11-20T10:00:00Z');
  const digest = `sha256:${'ab'.repeat(32)}`;
  const request = { registry: 'acr', repository: 'team/web', digest, reason: 'push' as const };

  beforeAll(async () => {
    temp = await createTestStore({ name: 'scan-retry' });
    store = temp.store;
    // The state a worker leaves when it dies after the scan's transaction committed and before
    // the registry's recommendation was refreshed.
    await recordImagePush(store.db, { registry: 'acr', repository: 'team/web', digest, tag: '1.0', imported: false, at: clock.now() });
    await markImageScanned(store.db, digest, clock.now());
    await store.db.insertInto('job_effects').values({ key: scanKey(request, digest), queue: 'registry-scan', done_at: clock.now(), result: null }).execute();
  });
  afterAll(async () => {
    await temp?.close();
  });

  it('does not scan again, and a retry (not a duplicate delivery) redoes the recommendation it may have missed', async () => {
    const context = { store, clock, config: { secretKey: undefined } };
    expect(await scanRegistryImage(context, request)).toEqual({ digest, status: 'already-scanned' });
    expect(await listRecommendations(store.db, 'registry:acr')).toEqual([]);

    expect(await scanRegistryImage(context, request, { retried: true })).toEqual({ digest, status: 'already-scanned' });
    const [rec] = await listRecommendations(store.db, 'registry:acr');
    expect(rec).toMatchObject({ policy: REGISTRY_POLICY, control: 'Remediate vulnerabilities' });
    expect(rec!.healthy.map((r) => r.id)).toEqual([`acr/team/web@${digest}`]);
  });
});
