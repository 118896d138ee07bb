/**
 * Cluster and node inventory, written by the agents' heartbeats and by posture scans of the
 * Kubernetes node list, and the core-hour meter both of them feed.
 */
import type { Kysely } from 'kysely';
import { sha256Hex } from '../core/index.js';
import type { Database } from './schema.js';

/** The meter and scope the cost estimate reads (src/center/costs.ts). */
export const CORE_HOURS_METER = 'core_hours';
const HOUR_MS = 3_600_000;

export const clusterRowId = (cluster: string): string => `cls_${sha256Hex(cluster).slice(0, 24)}`;
export const nodeRowId = (cluster: string, node: string): string => `nod_${sha256Hex(`${cluster}\u0000${node}`).slice(0, 24)}`;

/**
 * Meters a node's cores for the hour containing `at`. The source key is node + hour (whichever of
 * an agent heartbeat or a node-list scan sees it first), so each node-hour is billed exactly once.
 */
export async function meterCoreHour(db: Kysely<Database>, cluster: string, node: string, cores: number, at: Date): Promise<void> {
  if (!(cores > 0)) return;
  const hour = new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
  await db.insertInto('usage').values({
    meter: CORE_HOURS_METER,
    scope: `cluster:${cluster}`,
    quantity: cores,
    // `agent:` because heartbeats metered first; kept so stored keys stay comparable.
    source_key: `agent:${cluster}:${node}:${hour.toISOString()}`,
    at: hour,
  }).onConflict((oc) => oc.column('source_key').doNothing()).execute();
}

export interface ListedNode {
  name: string;
  cores?: number;
  kernel?: string;
  os?: string;
  runtime?: string;
}

/**
 * Records the nodes a cluster's API lists (cores, kernel, OS, runtime) without touching what only
 * an agent knows (its version, its last heartbeat), and meters their cores for this hour.
 */
export async function recordListedNodes(db: Kysely<Database>, cluster: string, nodes: readonly ListedNode[], at: Date): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('clusters').values({ id: clusterRowId(cluster), name: cluster }).onConflict((oc) => oc.column('name').doNothing()).execute();
    for (const node of nodes) {
      await tx.insertInto('nodes').values({
        id: nodeRowId(cluster, node.name), cluster, name: node.name,
        cores: node.cores ?? null, kernel: node.kernel ?? null, os: node.os ?? null, runtime: node.runtime ?? null,
      }).onConflict((oc) => oc.columns(['cluster', 'name']).doUpdateSet((eb) => ({
        cores: eb.fn.coalesce(eb.ref('excluded.cores'), eb.ref('nodes.cores')),
        kernel: eb.fn.coalesce(eb.ref('excluded.kernel'), eb.ref('nodes.kernel')),
        os: eb.fn.coalesce(eb.ref('excluded.os'), eb.ref('nodes.os')),
        runtime: eb.fn.coalesce(eb.ref('excluded.runtime'), eb.ref('nodes.runtime')),
      }))).execute();
      if (node.cores) await meterCoreHour(tx, cluster, node.name, node.cores, at);
    }
  });
}

/** Marks that a cluster sent something (audit events, agent batches): the overview's "last event" per cluster. */
export async function touchCluster(db: Kysely<Database>, cluster: string, at: Date): Promise<void> {
  await db.insertInto('clusters').values({ id: clusterRowId(cluster), name: cluster, last_event_at: at })
    .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ last_event_at: eb.fn('greatest', [eb.ref('clusters.last_event_at'), eb.ref('excluded.last_event_at')]) })))
    .execute();
}
