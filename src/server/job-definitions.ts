import type { AnyJobDefinition, JobQueue } from '../jobs/index.js';
import { loadPolicyConfig } from '../policy/index.js';
// Not through policy/index.js: `policy check` and admission load that and need no store or queue.
import { postureJobs } from '../policy/index.js';
import { ecrLoginJob, pollJob, queuePendingRematches, rescanJobs, scanJob } from '../registry/index.js';
export { queuePendingRematches } from '../registry/index.js';
import { vulndbJobs } from '../vulndb/index.js';
import type { ServerContext } from './context.js';

/**
 * Every capability's job handlers, for `palisade server` (embedded) and `palisade worker`.
 * Capabilities export factories taking the context; they are listed here as they land.
 */
export function jobDefinitions(context: Omit<ServerContext, 'jobs'>, jobs: () => JobQueue | undefined): AnyJobDefinition[] {
  const { config } = context;
  return [
    scanJob(context),
    ...rescanJobs({ ...context, jobs, schedule: { pulledWithinDays: config.rescanWindowDays, pushedWithinDays: config.rescanPushedWindowDays, running: config.rescanRunningImages } }).map((d) => scheduled(d, config.rescanSchedule)),
    scheduled(pollJob({ ...context, jobs }), config.pollSchedule),
    // ECR pull logins last 12 hours: renewed from the registry's AWS keys before they expire.
    ecrLoginJob({ ...context, secretKey: config.secretKey }),
    ...postureJobs({ ...context, jobs, clusters: config.clusters, policies: () => loadPolicyConfig(config.policyFile) }).map((d) => scheduled(d, config.postureSchedule)),
    // New or changed advisories re-match the stored inventories holding a changed package, without
    // pulling images: one job per published database version.
    ...vulndbJobs({ ...context, onChanged: async ({ versions }) => void (await queuePendingRematches(context.store, jobs(), versions)) }).map((d) => scheduled(d, config.dbUpdateSchedule)),
  ];
}

/** The configured schedule replaces a job's default; `off` leaves it runnable on demand only. */
function scheduled(definition: AnyJobDefinition, schedule: string): AnyJobDefinition {
  if (!definition.cron) return definition;
  const { cron: _default, ...rest } = definition;
  return schedule === 'off' ? rest : { ...rest, cron: schedule };
}
