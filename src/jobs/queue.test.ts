import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStore, type TestStore } from '../../test/support/store.js';
import { waitFor } from '../../test/support/wait.js';
import { startJobQueue, type JobQueue } from './queue.js';

/** The store, counting pg-boss's schema-version checks (one per instance started); the check numbered `refuse` fails. */
function countingVersionChecks(store: TestStore['store'], refuse?: number) {
  let checks = 0;
  const sql = store.sql;
  const counted = {
    ...store,
    sql: {
      executeSql: (text: string, values?: unknown[]) => {
        if (/^\s*SELECT version from pgboss\.version/i.test(text) && ++checks === refuse) return Promise.reject(new Error('connection refused'));
        return sql.executeSql(text, values);
      },
    },
  };
  return { store: counted, versionChecks: () => checks };
}

describe('the job queue on the embedded database', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await createTestStore({ name: 'queue' });
  });
  afterAll(async () => t?.close());

  it('writes its cron schedules when its workers start, not before', async () => {
    const queue = await startJobQueue(t.store, {
      definitions: [{ queue: 'selftest-cron', handler: async () => undefined, cron: '0 0 1 1 *' }],
      schedule: true,
      workersLater: true,
    });
    try {
      expect((await queue.boss.getSchedules()).map((s) => s.name)).toEqual([]);
      await queue.startWorkers();
      expect((await queue.boss.getSchedules()).map((s) => [s.name, s.cron])).toEqual([['selftest-cron', '0 0 1 1 *']]);
    } finally {
      await queue.stop(1000);
    }
  });

  it('keeps its workers when its cron timekeeper cannot start, and says that schedules do not run here', async () => {
    // The timekeeper is a second pg-boss instance: its start checks the schema version again, and that check fails here.
    const { store, versionChecks } = countingVersionChecks(t.store, 2);
    const errors: string[] = [];
    const handled: string[] = [];
    let queue: JobQueue | undefined;
    try {
      queue = await startJobQueue(store, {
        definitions: [{ queue: 'selftest-handled', handler: async (data: { n: number }) => handled.push(`job ${data.n}`) }],
        schedule: true,
        pollingIntervalSeconds: 0.5,
        onError: (error) => errors.push(error.message),
      });
      expect(versionChecks()).toBe(2);
      expect(errors).toContain('cron schedules do not run in this process: connection refused');
      await queue.send('selftest-handled', { n: 1 });
      await waitFor('the job handled', async () => (handled.length === 1 ? true : undefined), 60_000);
      expect(handled).toEqual(['job 1']);
    } finally {
      await queue?.stop(1000);
    }
  });
  it('starts its cron timekeeper only after the wait it is given, and a stop during that wait ends it at once', async () => {
    // The timekeeper's start checks pgboss.version as the queue's own start did: the second check is the timekeeper.
    const { store, versionChecks } = countingVersionChecks(t.store);
    const definitions = [{ queue: 'selftest-later', handler: async () => undefined, cron: '0 0 1 1 *' }];
    const soon = await startJobQueue(store, { definitions, schedule: true, workersLater: true, timekeeperAfterMs: 50 });
    try {
      await soon.startWorkers();
      expect(versionChecks()).toBe(2);
    } finally {
      await soon.stop(1000);
    }

    const before = versionChecks();
    const late = await startJobQueue(store, { definitions: [{ ...definitions[0]!, queue: 'selftest-later-stopped' }], schedule: true, workersLater: true, timekeeperAfterMs: 10 * 60_000 });
    const started = late.startWorkers();
    await waitFor('the workers registered', async () => ((await late.boss.getSchedules()).some((s) => s.name === 'selftest-later-stopped') ? true : undefined), 60_000);
    expect(versionChecks() - before).toBe(1);
    // Ten minutes of waiting would outlast this test's timeout: the stop ends the wait.
    await late.stop(1000);
    await started;
    expect(versionChecks() - before).toBe(1);
  }, 60_000);

  it('retries a job that a dead process left active, once its workers start and not before', async () => {
    const handled: number[] = [];
    const definitions = [{ queue: 'selftest-orphan', handler: async (data: { n: number }) => handled.push(data.n) }];
    // The process that died: it took the job (active) and never finished it.
    const dead = await startJobQueue(t.store, { definitions, workersLater: true });
    await dead.send('selftest-orphan', { n: 1 });
    await t.store.sql.executeSql(`update pgboss.job set state = 'active', started_on = now() where name = 'selftest-orphan'`);
    await dead.stop(1000);

    const state = async () => (await t.store.sql.executeSql(`select state from pgboss.job where name = 'selftest-orphan'`)).rows.map((row: { state: string }) => row.state);
    const queue = await startJobQueue(t.store, { definitions, workersLater: true, pollingIntervalSeconds: 0.5 });
    try {
      // The ready line comes before the workers: the orphan is left as it is until then.
      expect(await state()).toEqual(['active']);
      await queue.startWorkers();
      await waitFor('the orphaned job handled', async () => (handled.length === 1 ? true : undefined), 60_000);
      expect(handled).toEqual([1]);
    } finally {
      await queue.stop(1000);
    }
  }, 60_000);

  it('starts its workers only after the wait it is given, and a stop during that wait ends it with no worker started', async () => {
    const handled: number[] = [];
    const definitions = [{ queue: 'selftest-workers-after', handler: async (data: { n: number }) => handled.push(data.n), cron: '0 0 1 1 *' }];
    const queue = await startJobQueue(t.store, { definitions, schedule: true, workersLater: true, workersAfterMs: 1500, pollingIntervalSeconds: 0.5 });
    try {
      const asked = performance.now();
      const started = queue.startWorkers();
      // A job sent during the wait is kept, and run once the workers start.
      await queue.send('selftest-workers-after', { n: 1 });
      expect((await queue.boss.getSchedules()).map((s) => s.name)).not.toContain('selftest-workers-after');
      await started;
      expect(performance.now() - asked).toBeGreaterThanOrEqual(1500 - 5);
      expect((await queue.boss.getSchedules()).map((s) => s.name)).toContain('selftest-workers-after');
      await waitFor('the job handled', async () => (handled.length === 1 ? true : undefined), 60_000);
      expect(handled).toEqual([1]);
    } finally {
      await queue.stop(1000);
    }

    const waiting = await startJobQueue(t.store, { definitions: [{ ...definitions[0]!, queue: 'selftest-workers-stopped' }], schedule: true, workersLater: true, workersAfterMs: 10 * 60_000 });
    const started = waiting.startWorkers();
    // Ten minutes of waiting would outlast this test's timeout: the stop ends the wait, and no worker or schedule starts after it.
    await waiting.stop(1000);
    await started;
    const schedules = await t.store.sql.executeSql('select name from pgboss.schedule where name = $1', ['selftest-workers-stopped']);
    expect(schedules.rows).toEqual([]);
  }, 60_000);
});
