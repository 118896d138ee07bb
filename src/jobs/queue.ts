import PgBoss from 'pg-boss';
import { setImmediate as yieldToEventLoop, setTimeout as delay } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import { inTransaction, type Database, type Store } from '../store/index.js';
import { systemClock, type Clock } from '../core/index.js';

/**
 * The durable job queue: pg-boss on the same database as everything else (PGlite through its
 * `db` option, PostgreSQL through its own small pool). Its schema is created by a migration,
 * so starting is fast. Each capability describes its jobs with `JobDefinition`s.
 */

export interface JobDefinition<T extends object = object> {
  /** Queue name: `capability-action`, e.g. `registry-scan` (letters, digits, - and _). */
  queue: string;
  handler: (data: T, job: { id: string; retryCount: number }) => Promise<unknown>;
  /** Seconds a job may run before it counts as lost (its worker died) and is retried elsewhere. */
  expireInSeconds?: number;
  retryLimit?: number;
  retryDelay?: number;
  retryBackoff?: boolean;
  /** pg-boss queue policy; `short` keeps one queued job per singleton key (a digest pushed under ten tags queues once). */
  policy?: 'standard' | 'short' | 'singleton' | 'stately';
  /** Cron schedule (UTC); pg-boss fires it once across all processes. */
  cron?: string;
}

/** A list of definitions with different payloads; each handler checks its own. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJobDefinition = JobDefinition<any>;

export interface JobQueueOptions {
  /** Every queue this process may send to or work on; their queues are created at start. */
  definitions?: AnyJobDefinition[];
  /** Work the definitions' jobs here (default true); false for an API-only server that only sends. */
  runHandlers?: boolean;
  /** Jobs run at once, per queue, in this process. */
  concurrency?: number;
  /** How often lost jobs are looked for; lower in tests. */
  maintenanceIntervalSeconds?: number;
  pollingIntervalSeconds?: number;
  /** Run cron schedules (pg-boss elects one process across the cluster for each). */
  schedule?: boolean;
  onJobEnd?: (queue: string, outcome: 'completed' | 'failed', seconds: number, error?: unknown) => void;
  onError?: (error: Error) => void;
  /**
   * Leave the workers and cron schedules to `startWorkers()`: a server answers requests (which
   * only send jobs) as soon as the queues exist, and starts working on them right after.
   */
  workersLater?: boolean;
  /**
   * With `workersLater`: `startWorkers()` begins this long after it is called. Starting some twenty
   * workers and their cron schedules (pg-boss's cron validation and its first time-zone arithmetic)
   * took ~100 ms of the main thread right after a server listened, and its first requests, a
   * readiness probe among them, waited behind it; a job sent meanwhile waits in its queue.
   */
  workersAfterMs?: number;
  /**
   * Start the cron timekeeper this long after the workers. Its first check (cron-parser's time-zone
   * arithmetic, ~50 ms here) would otherwise hold up a just-started server's first requests; a
   * schedule is minute-grained and fires at its next check all the same.
   */
  timekeeperAfterMs?: number;
}

export interface JobQueue {
  boss: PgBoss;
  send<T extends object>(queue: string, data: T, options?: PgBoss.SendOptions): Promise<string | null>;
  running(): boolean;
  /** Waits for jobs in flight up to `timeoutMs`; what is left is failed and retried by another worker. */
  stop(timeoutMs: number): Promise<void>;
  /** Starts the workers and schedules (once; at start unless `workersLater`). */
  startWorkers(): Promise<void>;
}

export async function startJobQueue(store: Store, options: JobQueueOptions = {}): Promise<JobQueue> {
  const config: PgBoss.ConstructorOptions = {
    schema: 'pgboss',
    migrate: false,
    supervise: true,
    schedule: options.schedule ?? false,
    maintenanceIntervalSeconds: options.maintenanceIntervalSeconds ?? 60,
  };
  if (store.kind === 'postgres') {
    config.connectionString = store.databaseUrl;
    config.max = 4;
    // Bounded waits, so a PostgreSQL restart can only fail a fetch (retried next poll), never leave a
    // worker's loops waiting forever for a pooled connection or for a query on a cut connection.
    Object.assign(config, { connectionTimeoutMillis: 10_000, query_timeout: 120_000 });
  } else {
    config.db = { executeSql: (text, values) => store.sql.executeSql(text, values) };
  }
  // Schedules run in a second instance, started with the workers (below).
  const boss = new PgBoss({ ...config, schedule: false });
  let running = false;
  boss.on('error', (error: Error) => options.onError?.(error));
  await boss.start();
  running = true;

  // Creating a queue that exists changes nothing (pg-boss keeps its options): after the first
  // start, one query finds them all instead of one round trip per queue.
  const existing = new Set((await boss.getQueues()).map((queue) => queue.name));
  for (const definition of options.definitions ?? []) {
    if (!existing.has(definition.queue)) await boss.createQueue(definition.queue, {
      name: definition.queue,
      policy: definition.policy ?? 'standard',
      expireInSeconds: definition.expireInSeconds ?? 15 * 60,
      retryLimit: definition.retryLimit ?? 5,
      retryDelay: definition.retryDelay ?? 5,
      retryBackoff: definition.retryBackoff ?? true,
    });
  }

  let workers: Promise<void> | undefined;
  let timekeeper: PgBoss | undefined;
  // Aborted by stop(): ends the workers' and the timekeeper's waits at once.
  const stopping = new AbortController();
  const startWorkers = () => (workers ??= (async () => {
    if (options.runHandlers === false || !running) return;
    if (options.workersAfterMs) await delay(options.workersAfterMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    if (!running) return;
    // Before the first worker can fetch a job, or it would be taken for an orphan. Not before the
    // ready line: on a cold catalogue this one update opens every partition of pgboss.job (~25 ms
    // of a warm start), and a job sent meanwhile is new, never active.
    if (store.kind === 'pglite') await requeueOrphanedJobs(store);
    for (const definition of options.definitions ?? []) {
      if (definition.cron && options.schedule) await boss.schedule(definition.queue, definition.cron, {}, { tz: 'UTC' });
      for (let i = 0; i < (options.concurrency ?? 1); i++) await work(boss, definition, options);
      // On the embedded database every query runs on this thread: starting some twenty workers in
      // one go kept a just-started server from answering for ~0.15 s.
      await yieldToEventLoop();
    }
    // After the workers: a timekeeper that cannot start costs this process its schedules (another
    // scheduling process still fires them), never its workers.
    if (options.schedule && options.timekeeperAfterMs) await delay(options.timekeeperAfterMs, undefined, { signal: stopping.signal }).catch(() => undefined);
    if (options.schedule && running) {
      timekeeper = await startTimekeeper(config, options.onError).catch((error: unknown) => {
        options.onError?.(new Error(`cron schedules do not run in this process: ${(error as Error).message}`, { cause: error }));
        return undefined;
      });
    }
  })());
  if (!options.workersLater) await startWorkers();

  return {
    boss,
    async send(queue, data, sendOptions) {
      return boss.send(queue, data, sendOptions ?? {});
    },
    running: () => running,
    startWorkers,
    async stop(timeoutMs) {
      if (!running) return;
      running = false;
      stopping.abort();
      // Workers still being registered finish registering before the queue stops under them.
      await workers?.catch(() => undefined);
      await Promise.all([timekeeper, boss].map((instance) => instance && new Promise<void>((resolve) => {
        instance.once('stopped', () => resolve());
        void instance.stop({ graceful: true, timeout: Math.max(timeoutMs, 1000), close: true, wait: false });
      })));
    },
  };
}

/**
 * pg-boss runs cron schedules in a timekeeper that starts with its instance: its first steps
 * (creating its queue, its first fetch, the first cron check with its time-zone arithmetic) took
 * about 0.2 s of a server's start on the embedded database, before the server could answer. The
 * queue's own instance starts without it, and this one, which only keeps time (no maintenance,
 * which the first does), starts with the workers, once the server listens. Both use the same
 * database, and pg-boss still fires each schedule once across all processes.
 */
async function startTimekeeper(config: PgBoss.ConstructorOptions, onError?: (error: Error) => void): Promise<PgBoss> {
  const timekeeper = new PgBoss({ ...config, schedule: true, supervise: false, ...(config.connectionString ? { max: 2 } : {}) });
  timekeeper.on('error', (error: Error) => onError?.(error));
  try {
    await timekeeper.start();
  } catch (error) {
    // pg-boss's stop() does nothing for an instance whose start failed: its own pool (on
    // PostgreSQL) is closed here, so nothing of it is left behind.
    const db = timekeeper.getDb() as { isOurs?: boolean; opened?: boolean; close?: () => Promise<void> };
    if (db.isOurs && db.opened) await db.close?.().catch(() => undefined);
    throw error;
  }
  return timekeeper;
}

/**
 * The embedded database serves one process, so a job still marked active when that process
 * starts its workers was cut off by a crash: retry it now instead of waiting for its expiry (up
 * to 15 minutes).
 */
async function requeueOrphanedJobs(store: Store): Promise<void> {
  await store.sql.executeSql(`update pgboss.job set state = 'retry', started_on = null where state = 'active'`);
}

/**
 * Makes a job's effect happen once even if the job runs twice (a worker killed after doing
 * the work but before pg-boss heard it finish): the effect and its key commit together.
 * Returns false when the key was already done.
 */
export async function runOnce<T>(db: Kysely<Database>, key: string, queue: string, effect: (tx: Kysely<Database>) => Promise<T>, clock: Clock = systemClock): Promise<{ done: boolean; result?: T }> {
  return inTransaction(db, async (tx) => {
    const claimed = await tx.insertInto('job_effects')
      .values({ key, queue, done_at: clock.now(), result: null })
      .onConflict((oc) => oc.column('key').doNothing())
      .returning('key')
      .executeTakeFirst();
    if (!claimed) return { done: false };
    const result = await effect(tx);
    return { done: true, result };
  });
}

/** The queue is installed (migration ran) and reachable: part of /readyz. */
export async function jobSchemaVersion(db: Kysely<Database>): Promise<number | undefined> {
  const result = await sql<{ version: number }>`select version from pgboss.version`.execute(db);
  return result.rows[0]?.version;
}

/** One worker on a definition's queue: runs its handler and reports how each job ended. */
async function work(boss: PgBoss, definition: AnyJobDefinition, options: JobQueueOptions): Promise<void> {
  await boss.work(definition.queue, { batchSize: 1, pollingIntervalSeconds: options.pollingIntervalSeconds ?? 1, includeMetadata: true }, async (jobs: PgBoss.JobWithMetadata<object>[]) => {
    for (const job of jobs) {
      const started = performance.now();
      try {
        const result = await definition.handler(job.data, { id: job.id, retryCount: job.retryCount });
        options.onJobEnd?.(definition.queue, 'completed', (performance.now() - started) / 1000);
        return result;
      } catch (error) {
        options.onJobEnd?.(definition.queue, 'failed', (performance.now() - started) / 1000, error);
        throw error;
      }
    }
  });
}
