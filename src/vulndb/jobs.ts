/**
 * The scheduled database refresh: a `vulndb-update` job (daily by default, pg-boss runs it once
 * across all processes) that updates from osv.dev and reports which advisories were added or
 * changed, with the packages they name and the published versions whose change is still to be
 * re-matched, so registry protection re-matches the stored inventories holding a changed package
 * (rematch-scope.ts) without pulling images. The caller decides what "reports" means (send a
 * re-match job per version, emit an event): vulndb does not know its consumers.
 */
import type { Clock } from '../core/index.js';
import type { JobDefinition } from '../jobs/index.js';
import type { Store } from '../store/index.js';
import { pendingChanges } from './rematch-scope.js';
import { packagesForAdvisories } from './store.js';
import { DEFAULT_ECOSYSTEMS, updateFromOsvDev, type UpdateOptions } from './update.js';

export const UPDATE_QUEUE = 'vulndb-update';
export const DEFAULT_UPDATE_CRON = '0 2 * * *';

export interface AdvisoryChange {
  added: string[];
  changed: string[];
  /** (ecosystem, normalized package name) named by the added or changed advisories. */
  packages: Array<{ ecosystem: string; name: string }>;
  /**
   * Published advisory database versions whose change is not re-matched yet, oldest first: this
   * update's, and any left by an import run from the command line (no server to tell) or by a
   * re-match that failed. One re-match per version (rematchScope).
   */
  versions: string[];
}

export interface VulnDbJobContext {
  store: Store;
  clock?: Clock;
  ecosystems?: readonly string[];
  fetch?: UpdateOptions['fetch'];
  baseUrl?: string;
  /** Called once per update that added or changed anything, or that finds earlier versions still to re-match. */
  onChanged?: (change: AdvisoryChange) => Promise<void>;
}

export interface UpdateJobResult {
  added: number;
  changed: number;
  failed: string[];
}

export async function runScheduledUpdate(context: VulnDbJobContext): Promise<UpdateJobResult> {
  const report = await updateFromOsvDev(context.store, context.ecosystems ?? DEFAULT_ECOSYSTEMS, {
    ...(context.clock ? { clock: context.clock } : {}),
    ...(context.fetch ? { fetch: context.fetch } : {}),
    ...(context.baseUrl ? { baseUrl: context.baseUrl } : {}),
  });
  const versions = await pendingChanges(context.store);
  if (report.added.length || report.changed.length || versions.length) {
    const packages = await packagesForAdvisories(context.store, [...report.added, ...report.changed]);
    await context.onChanged?.({ added: report.added, changed: report.changed, packages, versions });
  }
  return { added: report.added.length, changed: report.changed.length, failed: report.ecosystems.filter((e) => !e.ok).map((e) => e.ecosystem) };
}

export function vulndbJobs(context: VulnDbJobContext, cron = DEFAULT_UPDATE_CRON): JobDefinition<object>[] {
  return [{ queue: UPDATE_QUEUE, cron, policy: 'singleton', retryLimit: 2, expireInSeconds: 2 * 60 * 60, handler: () => runScheduledUpdate(context) }];
}
