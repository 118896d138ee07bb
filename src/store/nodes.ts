/**
 * Cluster and node inventory, written by the agents' heartbeats and by posture scans of the
 * Kubernetes node list. Metering their cores is the center's (center/usage).
 */
import { sql, type ColumnType, type Kysely } from 'kysely';
import { sha256Hex } from '../core/index.js';
import type { Database } from './schema.js';

// Columns of migration 0810: what an agent's heartbeat says about its own health.
declare module './schema.js' {
  interface NodeTable {
    sensor: string | null;
    sensor_reason: string | null;
    lost_events: ColumnType<string | null, number | null, number | null>;
    dropped_events: ColumnType<string | null, number | null, number | null>;
    dropped_by_reason: ColumnType<Record<string, number> | null, string | null, string | null>;
    health_at: ColumnType<Date | null, Date | null, Date | null>;
  }
}

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

/** The agent's own health as its heartbeat reports it (totals since the agent started). */
export interface AgentNodeHealth {
  /** `ebpf` (bpftrace) or `proc` (the /proc + auditd fallback). */
  sensor?: string;
  /** Why the eBPF sensor is not running, when it is not. */
  sensorReason?: string;
  lostEvents?: number;
  droppedEvents?: number;
  droppedByReason?: Record<string, number>;
  /** The heartbeat's time: an older heartbeat (resent from a spool) never overwrites a newer report. */
  at: Date;
}

/** What a node-list scan and an agent both report: a value sent replaces the stored one, one left out keeps it. */
function inventoryUpdate() {
  const sentOrKept = <T>(column: 'cores' | 'kernel' | 'os' | 'runtime') => sql<T>`coalesce(${sql.ref(`excluded.${column}`)}, ${sql.ref(`nodes.${column}`)})`;
  return { cores: sentOrKept<number | null>('cores'), kernel: sentOrKept<string | null>('kernel'), os: sentOrKept<string | null>('os'), runtime: sentOrKept<string | null>('runtime') };
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
    }).onConflict((oc) => oc.columns(['cluster', 'name']).doUpdateSet(inventoryUpdate())).execute();
  }
}

/** Upserts a node from an agent's inventory; the last heartbeat and the health report only move forward. */
export async function upsertAgentNode(db: Kysely<Database>, cluster: string, node: AgentNode, seen: Date, health?: AgentNodeHealth): Promise<void> {
  // A report is taken whole or not at all, so the sensor and its counts always belong together.
  const newer = sql<boolean>`excluded.health_at is not null and (nodes.health_at is null or excluded.health_at >= nodes.health_at)`;
  const fromReport = <T>(column: string) => sql<T>`case when ${newer} then ${sql.ref(`excluded.${column}`)} else ${sql.ref(`nodes.${column}`)} end`;
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
    sensor: health?.sensor ?? null,
    sensor_reason: health?.sensorReason ?? null,
    lost_events: health?.lostEvents ?? null,
    dropped_events: health?.droppedEvents ?? null,
    dropped_by_reason: health?.droppedByReason ? JSON.stringify(health.droppedByReason) : null,
    health_at: health?.at ?? null,
  }).onConflict((oc) => oc.columns(['cluster', 'name']).doUpdateSet((eb) => ({
    ...inventoryUpdate(),
    agent_version: eb.fn.coalesce(eb.ref('excluded.agent_version'), eb.ref('nodes.agent_version')),
    last_heartbeat: eb.fn('greatest', [eb.ref('nodes.last_heartbeat'), eb.ref('excluded.last_heartbeat')]),
    sensor: fromReport<string | null>('sensor'),
    sensor_reason: fromReport<string | null>('sensor_reason'),
    lost_events: fromReport<number | null>('lost_events'),
    dropped_events: fromReport<number | null>('dropped_events'),
    dropped_by_reason: fromReport<string | null>('dropped_by_reason'),
    health_at: fromReport<Date | null>('health_at'),
  }))).execute();
}

/** Marks that a cluster sent something (audit events, agent batches): the overview's "last event" per cluster. */
export async function touchCluster(db: Kysely<Database>, cluster: string, at: Date): Promise<void> {
  await db.insertInto('clusters').values({ id: clusterRowId(cluster), name: cluster, last_event_at: at })
    .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ last_event_at: eb.fn('greatest', [eb.ref('clusters.last_event_at'), eb.ref('excluded.last_event_at')]) })))
    .execute();
}
