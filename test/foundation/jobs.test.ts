import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJobQueue } from '../../src/jobs/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createTestPostgres, postgresAvailable, type TestPostgres } from '../support/postgres.js';

const WORKER = path.join(import.meta.dirname, '../support/job-worker.ts');

function startWorker(databaseUrl: string, hang: boolean): { child: ChildProcess; waitFor: (pattern: RegExp) => Promise<void>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], { env: { ...process.env, TEST_DATABASE_URL: databaseUrl, TEST_HANG: hang ? '1' : '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listeners: Array<() => void> = [];
  const onData = (d: Buffer) => {
    output += d;
    listeners.forEach((l) => l());
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  return {
    child,
    output: () => output,
    waitFor: (pattern) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}:\n${output}`)), 30_000);
      const check = () => {
        if (pattern.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      listeners.push(check);
      check();
    }),
  };
}

describe('durable jobs across a killed worker (real PostgreSQL)', async () => {
  const available = await postgresAvailable();
  let pgdb: TestPostgres;
  let store: Store;
  beforeAll(async () => {
    if (!available) return;
    pgdb = await createTestPostgres();
    store = await openStore({ databaseUrl: pgdb.url });
  });
  afterAll(async () => {
    await store?.close();
    await pgdb?.drop();
  });

  it.skipIf(!available)('completes jobs of a SIGKILLed worker on another worker, each effect exactly once', async () => {
    const queue = await startJobQueue(store, {});
    await queue.boss.createQueue('selftest-effect', { name: 'selftest-effect', expireInSeconds: 2, retryDelay: 0, retryLimit: 5 });
    const first = startWorker(pgdb.url, true);
    await first.waitFor(/worker ready/);
    await queue.send('selftest-effect', { key: 'job-lost-before-effect', when: 'before' }, { expireInSeconds: 2 });
    await queue.send('selftest-effect', { key: 'job-lost-after-effect', when: 'after' }, { expireInSeconds: 2 });
    await first.waitFor(/hanging-before job-lost-before-effect/);
    await first.waitFor(/hanging-after job-lost-after-effect/);
    first.child.kill('SIGKILL');

    const second = startWorker(pgdb.url, false);
    await second.waitFor(/effect job-lost-before-effect applied/);
    await second.waitFor(/effect job-lost-after-effect already-done/);
    // Wait for pg-boss to record both completions.
    let states: string[] = [];
    for (let i = 0; i < 40; i++) {
      const rows = await sql<{ state: string }>`select state from pgboss.job where name = 'selftest-effect'`.execute(store.db);
      states = rows.rows.map((r) => r.state);
      if (states.length === 2 && states.every((s) => s === 'completed')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    second.child.kill('SIGTERM');
    await queue.stop(1000);

    expect(states).toEqual(['completed', 'completed']);
    const effects = await store.db.selectFrom('audit_trail').select('target').where('action', '=', 'selftest').orderBy('target').execute();
    expect(effects.map((e) => e.target)).toEqual(['job-lost-after-effect', 'job-lost-before-effect']);
  });

  it.skipIf(!available)('with workersLater, takes jobs sent at once into the queue and works them once startWorkers is called (a server listens first)', async () => {
    const ran: string[] = [];
    const queue = await startJobQueue(store, {
      workersLater: true, pollingIntervalSeconds: 0.5,
      definitions: [{ queue: 'selftest-later', handler: async (data: { key: string }) => void ran.push(data.key) }],
    });
    try {
      await queue.send('selftest-later', { key: 'sent-before-workers' });
      await new Promise((r) => setTimeout(r, 1500));
      expect(ran).toEqual([]);
      await Promise.all([queue.startWorkers(), queue.startWorkers()]);
      await expect.poll(() => ran, { timeout: 20_000, interval: 100 }).toEqual(['sent-before-workers']);
    } finally {
      await queue.stop(1000);
    }
  });
});
