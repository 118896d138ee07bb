import { SCOPE_NAME_SOURCE } from '../../../core/index.js';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { listPlans, setPlan } from '../../../center/index.js';
import { queuePostureScans } from '../../../policy/index.js';
import { queueFirstScans } from '../../../registry/index.js';
import { recordAction } from '../../../store/index.js';
import { actorOf } from '../../auth.js';
import type { ServerContext } from '../../context.js';

/**
 * Switching a plan on starts its coverage at once instead of at the next event or schedule: the
 * registry's unscanned images are queued, and a configured cluster gets a posture scan.
 */
async function startCoverage(context: ServerContext, scope: string): Promise<number> {
  const [kind, name] = [scope.slice(0, scope.indexOf(':')), scope.slice(scope.indexOf(':') + 1)];
  if (kind === 'registry') return queueFirstScans(context, name);
  if (!context.jobs || !context.config.clusters.some((c) => c.name === name)) return 0;
  await queuePostureScans({ clusters: context.config.clusters.filter((c) => c.name === name) }, context.jobs);
  return 1;
}

/** Plans per cluster and per registry, switched on and off by an admin. */
export async function planRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const { db } = context.store;

  app.get('/plans', { config: { auth: 'reader' }, schema: { tags: ['plans'] } }, async () => ({ items: await listPlans(db) }));

  app.put('/plans/:scope', {
    schema: {
      tags: ['plans'],
      params: Type.Object({ scope: Type.String({ pattern: `^(cluster|registry):${SCOPE_NAME_SOURCE}$` }) }),
      body: Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false }),
    },
  }, async (request) => {
    const { scope } = request.params as { scope: string };
    const { enabled } = request.body as { enabled: boolean };
    const plan = await setPlan(db, scope, enabled, context.clock.now());
    await recordAction(db, { actor: actorOf(request), action: enabled ? 'plan.enable' : 'plan.disable', target: scope, at: context.clock.now() });
    const firstScans = enabled ? await startCoverage(context, scope) : 0;
    return { ...plan, firstScans };
  });
}
