import type { FastifyBaseLogger } from 'fastify';
import type { Clock, Config } from '../core/index.js';
import type { JobQueue } from '../jobs/index.js';
import type { Store } from '../store/index.js';

/** What every route plugin receives: the one store, the job queue, configuration and time. */
export interface ServerContext {
  config: Config;
  store: Store;
  /** Undefined only in tests that build the app without a queue. */
  jobs: JobQueue | undefined;
  clock: Clock;
  logger?: FastifyBaseLogger;
}
