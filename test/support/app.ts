import type { FastifyInstance } from 'fastify';
import { loadConfig, systemClock, type Clock, type Config } from '../../src/core/index.js';
import { startJobQueue, type JobQueue } from '../../src/jobs/index.js';
import { buildApp } from '../../src/server/index.js';
import { createToken, openStore, type Store } from '../../src/store/index.js';
import { createTestStoreLocation } from './store.js';

/** A real app on a real embedded store in a temp dir, for `app.inject` tests. */
export interface TestApp {
  app: FastifyInstance;
  store: Store;
  jobs: JobQueue | undefined;
  config: Config;
  adminToken: string;
  close(): Promise<void>;
}

export async function createTestApp(options: { config?: Record<string, unknown>; jobs?: boolean; clock?: Clock; databaseUrl?: string } = {}): Promise<TestApp> {
  // The temporary place holds the embedded store unless the test brings its own PostgreSQL database.
  const place = await createTestStoreLocation({ name: 'app' });
  const location = options.databaseUrl ? { databaseUrl: options.databaseUrl } : place.location;
  const config = loadConfig({ env: {}, cwd: place.dir, flags: { ...location, ...(options.config ?? {}) } });
  const store = await openStore(location);
  const jobs = options.jobs ? await startJobQueue(store, {}) : undefined;
  const app = await buildApp({ config, store, jobs, clock: options.clock ?? systemClock });
  const admin = await createToken(store.db, 'admin', 'test admin');
  return {
    app,
    store,
    jobs,
    config,
    adminToken: admin.secret,
    async close() {
      await app.close();
      await jobs?.stop(1000);
      await store.close();
      await place.cleanup();
    },
  };
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
