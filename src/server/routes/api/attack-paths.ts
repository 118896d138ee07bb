import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { listAttackPaths } from '../../../graph/index.js';
import type { ServerContext } from '../../context.js';
import { NotFound } from '../../errors.js';
import { CLUSTER_NAME } from '../ingest/cluster.js';

/**
 * Attack paths (issue 18): internet exposure → workload → image with an exploitable finding →
 * service account with a dangerous permission → node, worst first, each hop with its evidence and
 * the cheapest fix. Computed on read, cached until the graph or the findings change.
 */
export async function attackPathRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const { db } = context.store;

  app.get('/attack-paths', {
    config: { auth: 'reader' },
    schema: {
      tags: ['alerts'],
      summary: 'Attack paths from the internet to a node, worst first',
      querystring: Type.Object({ cluster: Type.Optional(Type.String(CLUSTER_NAME)) }, { additionalProperties: false }),
    },
  }, async (request) => {
    const { cluster } = request.query as { cluster?: string };
    return { items: await listAttackPaths(db, cluster) };
  });

  app.get('/attack-paths/:id', {
    config: { auth: 'reader' },
    schema: { tags: ['alerts'], summary: 'One attack path', params: Type.Object({ id: Type.String({ pattern: '^ap_[0-9a-f]{16}$', description: 'an attack path id from GET /api/v1/attack-paths' }) }) },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const found = (await listAttackPaths(db)).find((p) => p.id === id);
    if (!found) throw new NotFound(`no attack path ${id}`);
    return found;
  });
}
