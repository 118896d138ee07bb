import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, systemClock, type Clock, type Config } from '../../src/core/index.js';
import { startJobQueue, type JobQueue } from '../../src/jobs/index.js';
import { buildApp } from '../../src/server/index.js';
import { createToken, openStore, type Store } from '../../src/store/index.js';

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
  const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-app-'));
  const config = loadConfig({ env: {}, cwd: dir, flags: { dataDir: dir, ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}), ...(options.config ?? {}) } });
  const store = await openStore(options.databaseUrl ? { databaseUrl: options.databaseUrl } : { dataDir: dir });
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
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
