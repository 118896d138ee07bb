import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { getIncident, listIncidents } from '../../../center/index.js';
import type { AlertStatus } from '../../../core/index.js';
import type { ServerContext } from '../../context.js';
import { NotFound } from '../../errors.js';
import { decodeCursorAs, ListQuery, page } from '../../pagination.js';
import { CLUSTER_NAME } from '../ingest/cluster.js';

const STATUSES = '(active|dismissed|resolved)';
const IncidentId = Type.String({ pattern: '^inc_[0-9a-f]{20}$', description: 'an incident id from GET /api/v1/incidents' });

/**
 * Incidents (issue 18): the alerts of every source on connected resources (same pod, its
 * containers, its owner, its image) within a window, with the reason each alert joined.
 */
export async function incidentRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const { db } = context.store;

  app.get('/incidents', {
    config: { auth: 'reader' },
    schema: {
      tags: ['alerts'],
      summary: 'Alerts of every source on connected resources, taken together as incidents, newest first',
      querystring: Type.Intersect([ListQuery, Type.Object({
        status: Type.Optional(Type.String({ pattern: `^${STATUSES}(,${STATUSES})*$`, description: 'comma-separated alert statuses (default active)' })),
        cluster: Type.Optional(Type.String(CLUSTER_NAME)),
      })]),
    },
  }, async (request) => {
    const q = request.query as { limit?: number; cursor?: string; status?: string; cluster?: string };
    const limit = q.limit ?? 50;
    const after = decodeCursorAs(q.cursor, ['time', 'string']);
    const rows = await listIncidents(db, { ...(q.status ? { status: q.status.split(',') as AlertStatus[] } : {}), ...(q.cluster ? { cluster: q.cluster } : {}) }, limit + 1, after);
    return page(rows, limit, (i) => [i.lastSeen.toISOString(), i.id]);
  });

  app.get('/incidents/:id', {
    config: { auth: 'reader' },
    schema: { tags: ['alerts'], summary: 'One incident with its timeline, oldest first', params: Type.Object({ id: IncidentId }) },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const incident = await getIncident(db, id);
    if (!incident) throw new NotFound(`no incident ${id}`);
    return incident;
  });
}
