/**
 * A worker process for the job-queue fault test: runs the real queue on PostgreSQL with a
 * handler that records its effect through runOnce, and can be told to hang before or after
 * the effect so the test can SIGKILL it at either point.
 */
import { startJobQueue, runOnce } from '../../src/jobs/index.js';
import { openStore } from '../../src/store/index.js';

const databaseUrl = process.env.TEST_DATABASE_URL!;
const hang = process.env.TEST_HANG === '1';
const store = await openStore({ databaseUrl }, { migrate: false });

await startJobQueue(store, {
  concurrency: 2,
  maintenanceIntervalSeconds: 1,
  pollingIntervalSeconds: 0.5,
  definitions: [{
    queue: 'selftest-effect',
    expireInSeconds: 2,
    retryDelay: 0,
    retryBackoff: false,
    async handler(data: { key: string; when: 'before' | 'after' }) {
      if (hang && data.when === 'before') {
        console.log(`hanging-before ${data.key}`);
        await new Promise(() => {});
      }
      const outcome = await runOnce(store.db, data.key, 'selftest-effect', (tx) =>
        tx.insertInto('audit_trail').values({ actor: 'job', action: 'selftest', target: data.key, details: JSON.stringify({ pid: process.pid }), at: new Date() }).execute());
      console.log(`effect ${data.key} ${outcome.done ? 'applied' : 'already-done'}`);
      if (hang && data.when === 'after') {
        console.log(`hanging-after ${data.key}`);
        await new Promise(() => {});
      }
    },
  }],
});
console.log('worker ready');
