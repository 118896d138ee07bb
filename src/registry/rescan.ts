import { alertFeed, latestInventories, queueNotifications, recordThreats, replaceImageFindings } from '../center/index.js';
import type { Clock } from '../core/index.js';
import type { JobDefinition, JobQueue } from '../jobs/index.js';
import { imagesPulledSince, type Store } from '../store/index.js';
import { matchInventory } from '../vulndb/index.js';
import { newVulnerabilityThreat, type ScanRequest } from './scan.js';
import { queueScans } from './scan-queue.js';

export const RESCAN_QUEUE = 'registry-rescan';
export const REMATCH_QUEUE = 'registry-rematch';
export const DEFAULT_RESCAN_WINDOW_DAYS = 30;

/**
 * The daily rescan: every image pulled within the window is scanned again, since new
 * vulnerabilities appear daily. Layers come from the analysis cache, so this costs little.
 */
export async function queueDailyRescans(context: { store: Store; jobs: JobQueue; clock: Clock }, windowDays = DEFAULT_RESCAN_WINDOW_DAYS): Promise<number> {
  const now = context.clock.now();
  const day = now.toISOString().slice(0, 10);
  const images = await imagesPulledSince(context.store.db, new Date(now.getTime() - windowDays * 86_400_000));
  // One rescan per digest per day (the key), queued fairly among registries.
  return queueScans(context, images.map((image): ScanRequest => ({ ...image, reason: 'rescan', day })));
}

/**
 * After the vulnerability database gains or changes advisories: re-match the stored inventory of
 * every scanned image, without pulling anything, and alert on newly found critical/high findings.
 */
export async function rematchStoredInventories(context: { store: Store; clock: Clock }): Promise<{ images: number; newAlerts: number }> {
  const { store, clock } = context;
  const inventories = await latestInventories(store.db);
  let newAlerts = 0;
  for (const { digest, inventory } of inventories) {
    const findings = await matchInventory(store, inventory);
    const created = await store.db.transaction().execute(async (tx) => {
      const gained = await replaceImageFindings(tx, digest, findings);
      if (!gained.length) return [];
      const at = clock.now();
      const locations = await tx.selectFrom('images').select(['registry', 'repository', 'digest']).where('digest', '=', digest).execute();
      const result = await recordThreats(tx, locations.map((image) => newVulnerabilityThreat(image, gained, at, 'new-advisories')));
      await queueNotifications(tx, result.created, at);
      return result.created;
    });
    await alertFeed(store).publish(created);
    newAlerts += created.length;
  }
  return { images: inventories.length, newAlerts };
}

export function rescanJobs(context: { store: Store; clock: Clock; jobs: () => JobQueue | undefined; windowDays?: number }, cron: string | undefined = '0 3 * * *'): JobDefinition<object>[] {
  return [
    {
      queue: RESCAN_QUEUE,
      ...(cron ? { cron } : {}),
      retryLimit: 3,
      handler: async () => {
        const jobs = context.jobs();
        return jobs ? { queued: await queueDailyRescans({ ...context, jobs }, context.windowDays) } : { queued: 0 };
      },
    },
    {
      queue: REMATCH_QUEUE,
      policy: 'short',
      retryLimit: 3,
      handler: () => rematchStoredInventories(context),
    },
  ];
}
