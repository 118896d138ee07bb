import type { FastifyInstance } from 'fastify';
import { overview } from '../../../center/overview.js';
import type { ServerContext } from '../../context.js';

/** The overview page in one call: alerts by severity and day, top recommendations, vulnerable images, coverage. */
export async function overviewRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  app.get('/overview', { config: { auth: 'reader' }, schema: { tags: ['overview'] } }, async () => overview(context.store.db, context.clock.now()));
}
