import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { jobSchemaVersion } from '../../jobs/index.js';
import { isMigrated } from '../../store/index.js';
import type { ServerContext } from '../context.js';
import type { Metrics } from '../metrics.js';

/** Liveness, readiness and Prometheus metrics: public, for probes and scrapers. */
export async function healthRoutes(app: FastifyInstance, { context, metrics }: { context: ServerContext; metrics: Metrics }) {
  const open = { config: { auth: 'public' as const }, schema: { hide: true } };

  app.get('/healthz', open, async () => ({ status: 'ok' }));

  app.get('/readyz', open, async (_request, reply) => {
    const checks: Record<string, string> = {};
    try {
      await sql`select 1`.execute(context.store.db);
      checks.database = 'ok';
      checks.migrations = (await isMigrated(context.store.db)) ? 'ok' : 'pending';
      checks.jobQueue = !context.jobs ? 'disabled'
        : !context.jobs.running() ? 'stopped'
        : (await jobSchemaVersion(context.store.db)) ? 'ok' : 'missing';
    } catch (error) {
      checks.database = `unreachable: ${(error as Error).message}`;
    }
    // Sticky until restart: a damaged block does not heal, and `select 1` never touches it.
    const corrupt = context.store.corruption.current();
    if (corrupt) checks.database = `corrupt: ${corrupt.code} in ${corrupt.relation ?? 'an unknown relation'} (see the server log for how to restore)`;
    const ready = Object.values(checks).every((v) => v === 'ok' || v === 'disabled');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });

  app.get('/metrics', open, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
