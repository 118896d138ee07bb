import { sql } from 'kysely';
import type { JobQueue } from '../jobs/index.js';
import type { Store } from '../store/index.js';
import { SCAN_QUEUE, type ScanRequest } from './scan.js';

/**
 * Queues scans so that registries take turns: one registry's burst of thousands of pushes
 * cannot hold another registry's scan back by more than the one scan ahead of it.
 *
 * pg-boss hands out jobs by `priority desc, created_on`. Each scan gets a virtual time, stored
 * as its negated priority (start-time fair queuing): a registry's next scan follows its own
 * last queued one, but never starts earlier than the scan at the head of the queue. So a
 * registry that arrives behind a burst is placed level with the burst's head, and two bursts
 * interleave one scan each. Requests are written in one statement per batch, and a digest
 * already waiting is not queued twice (the queue's `short` policy keeps one queued job per key).
 */

/** Jobs written per INSERT: one statement stays short, so other requests are answered in between. */
export const SCAN_INSERT_BATCH = 100;

export function scanSingletonKey(request: ScanRequest): string {
  if (request.reason === 'rescan') return `${request.digest}:${request.day}`;
  return request.digest ?? `${request.repository}:${request.tag}`;
}

/** The virtual time of the head of the scan queue, and the last one queued per registry. */
async function virtualTimes(store: Store, registries: string[]): Promise<{ head: number; last: Map<string, number> }> {
  const waiting = sql`name = ${SCAN_QUEUE} and state in ('created', 'retry')`;
  const head = await sql<{ head: number | null }>`select max(priority) as head from pgboss.job where ${waiting}`.execute(store.db);
  const last = await sql<{ registry: string; last: number }>`
    select data->>'registry' as registry, min(priority) as last from pgboss.job
    where ${waiting} and data->>'registry' in (${sql.join(registries)}) group by 1`.execute(store.db);
  return {
    head: -(head.rows[0]?.head ?? 0),
    last: new Map(last.rows.map((row) => [row.registry, -row.last])),
  };
}

/**
 * Queues these scans fairly (see above) and returns how many were asked for. Repeated requests
 * for one key are collapsed here; a key already waiting in the queue is skipped by pg-boss.
 */
export async function queueScans(context: { store: Store; jobs: JobQueue }, requests: Iterable<ScanRequest>): Promise<number> {
  const unique = new Map<string, ScanRequest>();
  for (const request of requests) {
    const key = scanSingletonKey(request);
    if (!unique.has(key)) unique.set(key, request);
  }
  if (unique.size === 0) return 0;
  const registries = [...new Set([...unique.values()].map((r) => r.registry))];
  const { head, last } = await virtualTimes(context.store, registries);
  const next = new Map(registries.map((registry) => [registry, Math.max(head, (last.get(registry) ?? head - 1) + 1)]));
  const jobs = [...unique].map(([key, request]) => {
    const at = next.get(request.registry)!;
    next.set(request.registry, at + 1);
    return { name: SCAN_QUEUE, data: request, priority: -at, singletonKey: key };
  });
  for (let i = 0; i < jobs.length; i += SCAN_INSERT_BATCH) {
    await context.jobs.boss.insert(jobs.slice(i, i + SCAN_INSERT_BATCH));
    await yieldToOtherRequests();
  }
  return unique.size;
}

/** Lets the event loop answer other requests (health checks, API calls) between batches. */
export function yieldToOtherRequests(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
