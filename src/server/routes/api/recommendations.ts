import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { listRecommendations } from '../../../center/index.js';
import type { ServerContext } from '../../context.js';

/** Recommendations per scope with their healthy, unhealthy, not-applicable and exempt resources. */
export async function recommendationRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  app.get('/recommendations', {
    config: { auth: 'reader' },
    schema: { tags: ['recommendations'], querystring: Type.Object({ scope: Type.Optional(Type.String({ maxLength: 200 })) }) },
  }, async (request) => {
    const { scope } = request.query as { scope?: string };
    // One row per policy per scope: a short list, returned whole.
    return { items: await listRecommendations(context.store.db, scope, { at: context.clock.now() }) };
  });
}
