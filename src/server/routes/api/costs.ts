import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { estimateCost, monthCosts, priceTable } from '../../../center/index.js';
import type { ServerContext } from '../../context.js';

/** The month's cost estimate from metered usage, the price table, and the calculator. */
export async function costRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  // `prices` is read when configuration carries it (palisade.yaml `prices:`); defaults otherwise.
  const prices = priceTable(context.config.prices);

  app.get('/costs', { config: { auth: 'reader' }, schema: { tags: ['costs'] } }, async () => ({
    ...(await monthCosts(context.store.db, context.clock.now(), prices)),
    prices,
  }));

  app.get('/costs/estimate', {
    config: { auth: 'reader' },
    schema: {
      tags: ['costs'],
      querystring: Type.Object({
        cores: Type.Number({ minimum: 0, maximum: 1e7 }),
        images: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9 })),
        hours: Type.Optional(Type.Number({ minimum: 0, maximum: 744 })),
      }),
    },
  }, async (request) => {
    const { cores, images, hours } = request.query as { cores: number; images?: number; hours?: number };
    return estimateCost({ cores, images: images ?? 0, hours }, prices);
  });
}
