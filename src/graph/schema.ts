import type { JSONColumnType } from 'kysely';

/** Kinds of identity the graph holds. */
export type GraphNodeKind =
  | 'cluster' | 'namespace' | 'workload' | 'pod' | 'container' | 'image' | 'serviceaccount'
  | 'role' | 'clusterrole' | 'rolebinding' | 'clusterrolebinding' | 'service' | 'ingress' | 'node';

/**
 * Edge kinds, always from the broader or controlling identity to the narrower one:
 * contains (cluster → namespace → workload), owns (workload → workload/pod), runs (pod → container),
 * image (container → image), runs-as (pod/workload → serviceaccount), role-ref (binding → role),
 * subject (binding → serviceaccount), selects (service → pod/workload), routes (ingress → service),
 * hosts (node → pod).
 */
export type GraphEdgeKind = 'contains' | 'owns' | 'runs' | 'image' | 'runs-as' | 'role-ref' | 'subject' | 'selects' | 'routes' | 'hosts';

type Json = JSONColumnType<Record<string, unknown>, Record<string, unknown> | string, Record<string, unknown> | string>;
type Timestamp = import('kysely').ColumnType<Date, Date | string, Date | string>;

export interface GraphNodeTable {
  id: string;
  kind: string;
  cluster: string | null;
  namespace: string | null;
  name: string;
  attrs: Json;
  seen_at: Timestamp;
}

export interface GraphEdgeTable {
  src: string;
  dst: string;
  kind: string;
  cluster: string | null;
  attrs: Json;
  seen_at: Timestamp;
}

export interface GraphAliasTable {
  alias: string;
  node_id: string;
  seen_at: Timestamp;
}

export interface IncidentNotificationTable {
  channel: string;
  incident_id: string;
  alert_id: string;
  at: Timestamp;
}

declare module '../store/schema.js' {
  interface Database {
    graph_nodes: GraphNodeTable;
    graph_edges: GraphEdgeTable;
    graph_aliases: GraphAliasTable;
    incident_notifications: IncidentNotificationTable;
  }
}

/** One identity as the builders produce it. */
export interface GraphNode {
  id: string;
  kind: GraphNodeKind;
  cluster?: string;
  namespace?: string;
  name: string;
  attrs: Record<string, unknown>;
}

export interface GraphEdge {
  src: string;
  dst: string;
  kind: GraphEdgeKind;
  cluster?: string;
  attrs?: Record<string, unknown>;
}

/** What one observation adds to (or removes from) the graph. */
export interface GraphDelta {
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Other names of an identity: `containerid:CLUSTER/ID`, `poduid:CLUSTER/UID`. */
  aliases: { alias: string; nodeId: string }[];
  /** Identities deleted (audit delete events): the node and its edges go. */
  removed: string[];
}

export const emptyDelta = (): GraphDelta => ({ nodes: [], edges: [], aliases: [], removed: [] });

export interface IncidentTable {
  id: string;
  /** The alert that started it (its id is derived from it). */
  anchor: string;
  /** 'runtime' (pods, containers, workloads…) or 'image' (image alerts that joined no pod). */
  kind: string;
  cluster: string | null;
  first_seen: Timestamp;
  last_seen: Timestamp;
  member_count: number;
  /** Alerts by status, activity records aside (migration 0732). */
  active_count: number;
  resolved_count: number;
  dismissed_count: number;
}

export interface IncidentAlertTable {
  incident_id: string;
  alert_id: string;
  joined_because: string;
  /** What the alert concerns (pod, owner, containers, digests, node, users) when it joined. */
  identity: Json;
}

declare module '../store/schema.js' {
  interface Database {
    incidents: IncidentTable;
    incident_alerts: IncidentAlertTable;
    incident_keys: { key: string; incident_id: string; last_seen: Timestamp; title: string };
    incident_digests: { digest: string; incident_id: string; runner: string };
    incident_image_alerts: { digest: string; alert_id: string };
    incident_pending: { alert_id: string; first_seen: Timestamp };
  }
}
