/**
 * The server side of the agent's batches: node inventory and core-hour metering from
 * heartbeats, event and alert ids stored once, and the alerts of new ids turned into threats
 * for the center. Kept here, beside the wire format, so the route stays thin. Only kysely's
 * types are imported: the agent process loads this module through index.ts and must not pay
 * for the query builder (about 19 MB of RSS).
 */
import type { Kysely } from 'kysely';
import type { ResourceRef } from '../core/index.js';
import type { Database } from '../store/index.js';
import { meterCoreHour, nodeRowId, touchCluster } from '../store/nodes.js';
import type { AgentBatch } from './wire.js';

export interface AgentEventTable {
  id: string;
  cluster: string;
  node: string;
  kind: string;
  at: Date | string;
  received_at?: Date | string;
}

declare module '../store/schema.js' {
  interface Database {
    agent_events: AgentEventTable;
  }
}

export { CORE_HOURS_METER } from '../store/nodes.js';

/**
 * Upserts the node from its inventory and meters its cores for the hour of the heartbeat. The
 * source key is node + hour, so every node-hour with a heartbeat is metered exactly once however
 * many heartbeats (or resends) arrive in it. Metered whether the plan is on or off.
 */
export async function recordHeartbeat(db: Kysely<Database>, cluster: string, batch: Pick<AgentBatch, 'node' | 'heartbeat'>, now: Date): Promise<void> {
  const node = batch.node;
  const at = batch.heartbeat ? new Date(batch.heartbeat.at) : now;
  const seen = Number.isNaN(at.getTime()) || at > now ? now : at;
  await db.transaction().execute(async (tx) => {
    await touchCluster(tx, cluster, now);
    await tx.insertInto('nodes').values({
      id: nodeRowId(cluster, node.name),
      cluster,
      name: node.name,
      cores: node.cores ?? null,
      kernel: node.kernel ?? null,
      os: node.os ?? null,
      runtime: node.runtime ?? null,
      agent_version: node.agentVersion ?? null,
      last_heartbeat: seen,
    }).onConflict((oc) => oc.columns(['cluster', 'name']).doUpdateSet((eb) => ({
      cores: eb.fn.coalesce(eb.ref('excluded.cores'), eb.ref('nodes.cores')),
      kernel: eb.fn.coalesce(eb.ref('excluded.kernel'), eb.ref('nodes.kernel')),
      os: eb.fn.coalesce(eb.ref('excluded.os'), eb.ref('nodes.os')),
      runtime: eb.fn.coalesce(eb.ref('excluded.runtime'), eb.ref('nodes.runtime')),
      agent_version: eb.fn.coalesce(eb.ref('excluded.agent_version'), eb.ref('nodes.agent_version')),
      last_heartbeat: eb.fn('greatest', [eb.ref('nodes.last_heartbeat'), eb.ref('excluded.last_heartbeat')]),
    }))).execute();
    if (batch.heartbeat && node.cores) await meterCoreHour(tx, cluster, node.name, node.cores, seen);
  });
}

export interface StoredBatch {
  /** Events stored for the first time. */
  events: number;
  duplicates: number;
  /** Alerts whose id is new: the ones to record as threats. */
  newAlerts: AgentBatch['alerts'];
  /** Stores the ids; call after the threats are recorded, so a failure in between resends them. */
  commit(): Promise<void>;
}

/** Separates new events and alerts from ones already received (by id). */
export async function filterNew(db: Kysely<Database>, cluster: string, batch: AgentBatch): Promise<StoredBatch> {
  const ids = [...new Set([...batch.events.map((e) => e.id), ...batch.alerts.map((a) => a.id)])];
  const known = new Set<string>();
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    if (!chunk.length) continue;
    const rows = await db.selectFrom('agent_events').select('id').where('id', 'in', chunk).execute();
    for (const row of rows) known.add(row.id);
  }
  const seenInBatch = new Set<string>();
  const freshEvents = batch.events.filter((e) => !known.has(e.id) && !seenInBatch.has(e.id) && seenInBatch.add(e.id));
  const newAlerts = batch.alerts.filter((a) => !known.has(a.id) && !seenInBatch.has(a.id) && seenInBatch.add(a.id));
  const rows = [
    ...freshEvents.map((e) => ({ id: e.id, cluster, node: batch.node.name, kind: e.kind, at: validDate(e.at) })),
    ...newAlerts.map((a) => ({ id: a.id, cluster, node: batch.node.name, kind: 'alert', at: validDate(a.at) })),
  ];
  return {
    events: freshEvents.length,
    duplicates: batch.events.length - freshEvents.length,
    newAlerts,
    async commit() {
      if (!rows.length) return;
      await db.transaction().execute(async (tx) => {
        for (let i = 0; i < rows.length; i += 500) {
          await tx.insertInto('agent_events').values(rows.slice(i, i + 500)).onConflict((oc) => oc.column('id').doNothing()).execute();
        }
      });
    },
  };
}

function validDate(value: string): Date {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? new Date() : d;
}

/** The alert's resource within the cluster that sent it. */
export function inCluster(resource: ResourceRef, cluster: string): ResourceRef {
  return { ...resource, cluster, id: resource.kind === 'node' ? `${cluster}/${resource.id}` : resource.id };
}
