import type { AnyJobDefinition, JobQueue } from '../jobs/index.js';
import { pollJob, rescanJobs, scanJob } from '../registry/index.js';
import type { ServerContext } from './context.js';

/**
 * Every capability's job handlers, for `palisade server` (embedded) and `palisade worker`.
 * Capabilities export factories taking the context; they are listed here as they land.
 */
export function jobDefinitions(context: Omit<ServerContext, 'jobs'>, jobs: () => JobQueue | undefined): AnyJobDefinition[] {
  return [
    scanJob(context),
    ...rescanJobs({ ...context, jobs }),
    pollJob({ ...context, jobs }),
  ];
}
