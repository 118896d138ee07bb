import { isPlanEnabled } from '../center/index.js';
import type { Clock } from '../core/index.js';
import type { JobQueue } from '../jobs/index.js';
import { recordImageDelete, recordImagePull, recordImagePush, type Store } from '../store/index.js';
import type { RegistryEvent } from './events.js';
import { SCAN_QUEUE, type ScanRequest } from './scan.js';

export interface IngestOutcome {
  events: number;
  scansQueued: number;
  /** True when the registry's plan is off: inventory was recorded, nothing will be scanned. */
  planOff: boolean;
}

/**
 * Records what a registry reported and queues the scans it calls for. Everything here is
 * idempotent, so a retried delivery changes nothing twice; the caller acknowledges only after it returns.
 */
export async function ingestRegistryEvents(context: { store: Store; jobs: JobQueue | undefined; clock: Clock }, registry: string, events: RegistryEvent[]): Promise<IngestOutcome> {
  const { db } = context.store;
  const planOn = await isPlanEnabled(db, `registry:${registry}`);
  const scans = new Map<string, ScanRequest>();
  for (const event of events) {
    switch (event.action) {
      case 'push':
      case 'mount':
      case 'quarantine': {
        if (event.digest) {
          await recordImagePush(db, { registry, repository: event.repository, digest: event.digest, tag: event.tag, imported: event.import, at: event.at });
        }
        const key = event.digest ?? `${event.repository}:${event.tag}`;
        if (!scans.has(key)) scans.set(key, { registry, repository: event.repository, digest: event.digest, tag: event.tag, reason: event.import ? 'import' : 'push' });
        break;
      }
      case 'pull':
        if (event.digest) await recordImagePull(db, { registry, repository: event.repository, digest: event.digest, at: event.at });
        break;
      case 'delete':
        if (event.digest) await recordImageDelete(db, { registry, repository: event.repository, digest: event.digest });
        break;
      case 'chart_push':
        break;
    }
  }
  let scansQueued = 0;
  if (planOn && context.jobs) {
    for (const request of scans.values()) {
      // One queued job per digest (queue policy `short`); the scan itself is keyed too.
      await context.jobs.send(SCAN_QUEUE, request, { singletonKey: request.digest ?? `${request.repository}:${request.tag}` });
      scansQueued++;
    }
  }
  return { events: events.length, scansQueued, planOff: !planOn };
}

/**
 * Queues a first scan for the registry's images that have none: when its plan is switched on
 * (what it reported while the plan was off; Defender scans what is there when a plan starts), and
 * on the poll schedule for pushes of the last hour whose scan never happened (`pushed`), a safety
 * net for a job lost between the webhook and the queue. Jobs and scans are keyed by digest, so
 * this never scans an image twice.
 */
export async function queueFirstScans(context: { store: Store; jobs: JobQueue | undefined }, registry: string, pushed?: { after: Date; before: Date }): Promise<number> {
  if (!context.jobs) return 0;
  let query = context.store.db.selectFrom('images').select(['repository', 'digest'])
    .where('registry', '=', registry).where('deleted', '=', false).where('last_scanned', 'is', null);
  if (pushed) query = query.where('last_pushed', '>=', pushed.after).where('last_pushed', '<', pushed.before);
  const images = await query.orderBy('id').execute();
  const seen = new Set<string>();
  for (const image of images) {
    if (seen.has(image.digest)) continue;
    seen.add(image.digest);
    const request: ScanRequest = { registry, repository: image.repository, digest: image.digest, reason: 'push' };
    await context.jobs.send(SCAN_QUEUE, request, { singletonKey: image.digest });
  }
  return seen.size;
}
