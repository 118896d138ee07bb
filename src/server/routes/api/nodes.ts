import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../../context.js';
import { decodeCursorAs, ListQuery, page } from '../../pagination.js';

/** A bigint column arrives as a string from PostgreSQL; counts stay far below 2^53. */
const count = (value: string | number | null): number | null => (value === null ? null : Number(value));

/**
 * `GET /api/v1/nodes`: the nodes of every cluster, as node-list scans and agent heartbeats
 * report them. `sensor` says which sensor the node's agent runs (`ebpf` or the `proc` fallback,
 * with `sensorReason` when eBPF is not running), and `lostEvents` / `droppedEvents` what it lost,
 * as of `healthAt` (its latest heartbeat with a health report); null for nodes without an agent.
 */
export async function nodeRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const { db } = context.store;
  app.get('/nodes', { config: { auth: 'reader' }, schema: { tags: ['inventory'], querystring: Type.Intersect([ListQuery, Type.Object({ cluster: Type.Optional(Type.String()) })]) } }, async (request) => {
    const { limit = 50, cursor, cluster } = request.query as ListQuery & { cluster?: string };
    const after = decodeCursorAs(cursor, ['string']);
    let query = db.selectFrom('nodes').selectAll();
    if (cluster) query = query.where('cluster', '=', cluster);
    if (after) query = query.where('id', '>', after[0]);
    const rows = await query.orderBy('id').limit(limit + 1).execute();
    return page(rows.map((r) => ({
      id: r.id, cluster: r.cluster, name: r.name, cores: r.cores, kernel: r.kernel, os: r.os, runtime: r.runtime,
      agentVersion: r.agent_version, lastHeartbeat: r.last_heartbeat,
      sensor: r.sensor, sensorReason: r.sensor_reason, lostEvents: count(r.lost_events), droppedEvents: count(r.dropped_events),
      droppedByReason: r.dropped_by_reason, healthAt: r.health_at,
    })), limit, (r) => [r.id]);
  });
}
