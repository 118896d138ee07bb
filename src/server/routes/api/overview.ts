import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { overview, type Overview } from '../../../center/index.js';
import { listActions } from '../../../store/index.js';
import type { ServerContext } from '../../context.js';

/** The overview page in one call: alerts by severity and day, top recommendations, vulnerable images, coverage. */
export async function overviewRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  // The overview aggregates every alert and finding: computed at most once per few seconds per
  // server however many dashboards are open (concurrent requests share one computation).
  const TTL_MS = 5000;
  let cached: { until: number; value: Promise<Overview> } | undefined;
  app.get('/overview', { config: { auth: 'reader' }, schema: { tags: ['overview'] } }, async () => {
    const now = context.clock.now();
    if (!cached || cached.until < now.getTime()) {
      const value = overview(context.store.db, now);
      cached = { until: now.getTime() + TTL_MS, value };
      value.catch(() => (cached = undefined));
    }
    return cached.value;
  });

  /** Who did what to one object (an alert, a plan scope, a token): the audit trail, newest last. */
  app.get('/activity', {
    config: { auth: 'reader' },
    schema: { tags: ['overview'], querystring: Type.Object({ target: Type.String({ minLength: 1, maxLength: 200 }) }) },
  }, async (request) => {
    const { target } = request.query as { target: string };
    const entries = await listActions(context.store.db, target);
    return { items: entries.slice(-200).map((e) => ({ actor: e.actor, action: e.action, details: e.details ?? {}, at: e.at })) };
  });
}
