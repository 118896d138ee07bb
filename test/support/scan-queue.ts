import { sql } from 'kysely';
import { startJobQueue, type JobQueue } from '../../src/jobs/index.js';
import { SCAN_QUEUE } from '../../src/registry/scan.js';
import type { Store } from '../../src/store/index.js';
import { createTestStore } from './store.js';

export interface StoreWithScanQueue {
  store: Store;
  jobs: JobQueue;
  /** Digests of the scan jobs sent so far, sorted. */
  queuedScans(): Promise<string[]>;
  /** What the scan jobs sent so far for one registry ask to scan: repository, and digest or tag. */
  queuedScanRequests(registry: string): Promise<Array<{ repository: string; digest?: string; tag?: string }>>;
  close(): Promise<void>;
}

/**
 * An embedded store with the real scan queue, whose jobs are only queued, never run: for tests
 * of what decides to scan (webhooks, polling, rescans), which read what was sent.
 */
export async function storeWithScanQueue(name: string): Promise<StoreWithScanQueue> {
  const temp = await createTestStore({ name });
  const { store } = temp;
  const jobs = await startJobQueue(store, { definitions: [{ queue: SCAN_QUEUE, policy: 'short', handler: async () => undefined }], runHandlers: false });
  return {
    store,
    jobs,
    queuedScans: async () => (await sql<{ digest: string }>`select data->>'digest' as digest from pgboss.job where name = ${SCAN_QUEUE} order by 1`.execute(store.db)).rows.map((r) => r.digest),
    async queuedScanRequests(registry) {
      const rows = await sql<{ data: { registry: string; repository: string; digest?: string; tag?: string } }>`select data from pgboss.job where name = ${SCAN_QUEUE}`.execute(store.db);
      return rows.rows.map((r) => r.data).filter((d) => d.registry === registry).map(({ repository, digest, tag }) => ({ repository, ...(digest ? { digest } : {}), ...(tag ? { tag } : {}) }));
    },
    async close() {
      await jobs.stop(1000);
      await temp.close();
    },
  };
}
