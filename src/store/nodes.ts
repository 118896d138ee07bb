/**
 * Cluster and node inventory, written by the agents' heartbeats and by posture scans of the
 * Kubernetes node list. Metering their cores is the center's (center/usage).
 */
import type { Kysely } from 'kysely';
import { sha256Hex } from '../core/index.js';
import type { Database } from './schema.js';

export const clusterRowId = (cluster: string): string => `cls_${sha256Hex(cluster).slice(0, 24)}`;
export const nodeRowId = (cluster: string, node: string): string => `nod_${sha256Hex(`${cluster}\u0000${node}`).slice(0, 24)}`;

export interface ListedNode {
  name: string;
  cores?: number;
  kernel?: string;
  os?: string;
  runtime?: string;
}

/** What an agent's batch says about its node; absent fields keep what is stored. */
export interface AgentNode extends ListedNode {
  agentVersion?: string;
}

/**
 * Upserts the nodes a cluster's API lists (cores, kernel, OS, runtime) without touching what only
 * an agent knows (its version, its last heartbeat). Call inside the caller's transaction.
 */
export async function upsertListedNodes(db: Kysely<Database>, cluster: string, nodes: readonly ListedNode[]): Promise<void> {
  await db.insertInto('clusters').values({ id: clusterRowId(cluster), name: cluster }).onConflict((oc) => oc.column('name').doNothing()).execute();
  for (const node of nodes) {
    await db.insertInto('nodes').values({
      id: nodeRowId(cluster, node.name), cluster, name: node.name,
      cores: node.cores ?? null, kernel: node.kernel ?? null, os: node.os ?? null, runtime: node.runtime ?? null,
    }).onConflict((oc) => oc.columns(['cluster', 'name']).doUpdateSet((eb) => ({
      cores: eb.fn.coalesce(eb.ref('excluded.cores'), eb.ref('nodes.cores')),
      kernel: eb.fn.coalesce(eb.ref('excluded.kernel'), eb.ref('nodes.kernel')),
      os: eb.fn.coalesce(eb.ref('excluded.os'), eb.ref('nodes.os')),
      runtime: eb.fn.coalesce(eb.ref('excluded.runtime'), eb.ref('nodes.runtime')),
    }))).execute();
  }
}

/** Upserts a node from an agent's inventory; the last heartbeat only moves forward. */
export async function upsertAgentNode(db: Kysely<Database>, cluster: string, node: AgentNode, seen: Date): Promise<void> {
  await db.insertInto('nodes').values({
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
}

/** Marks that a cluster sent something (audit events, agent batches): the overview's "last event" per cluster. */
export async function touchCluster(db: Kysely<Database>, cluster: string, at: Date): Promise<void> {
  await db.insertInto('clusters').values({ id: clusterRowId(cluster), name: cluster, last_event_at: at })
    .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ last_event_at: eb.fn('greatest', [eb.ref('clusters.last_event_at'), eb.ref('excluded.last_event_at')]) })))
    .execute();
}
