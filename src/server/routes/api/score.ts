import { SCOPE_NAME_SOURCE } from '../../../core/index.js';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { scoreView } from '../../../center/index.js';
import type { ServerContext } from '../../context.js';

/** The secure score (overall or per cluster) and its daily trend. */
export async function scoreRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  app.get('/score', {
    config: { auth: 'reader' },
    schema: {
      tags: ['score'],
      querystring: Type.Object({
        scope: Type.Optional(Type.String({ pattern: `^(overall|cluster:${SCOPE_NAME_SOURCE})$` })),
        days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, default: 30 })),
      }),
    },
  }, async (request) => {
    const { scope, days } = request.query as { scope?: string; days?: number };
    return scoreView(context.store.db, scope ?? 'overall', days ?? 30, context.clock.now());
  });
}
