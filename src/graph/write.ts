/**
 * Writing the graph: deltas merged in memory (last observation wins, attributes merged), then
 * upserted a few hundred rows per statement. The intake's observations go through a GraphWriter,
 * which batches them off the request path: an audit or agent batch only appends to a bounded
 * queue, and one background write carries every batch that arrived in the meantime.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/index.js';
import { threatsDelta, type ObservedThreat } from './observe.js';
import { kubeObjectsDelta, type KubeObjectLike } from './kube.js';
import type { GraphDelta, GraphEdge, GraphNode } from './schema.js';
import { nodeId } from './ids.js';
import { assignPendingIncidents } from './assign.js';

const ROWS = 400;

interface Merged {
  nodes: Map<string, GraphNode>;
  edges: Map<string, GraphEdge>;
  aliases: Map<string, string>;
  removed: Set<string>;
}

const edgeKey = (e: Pick<GraphEdge, 'src' | 'dst' | 'kind'>) => `${e.src}\u0000${e.dst}\u0000${e.kind}`;

/** Folds deltas in order: a later add undoes an earlier remove and the other way round. */
export function mergeDeltas(deltas: Iterable<GraphDelta>): Merged {
  const m: Merged = { nodes: new Map(), edges: new Map(), aliases: new Map(), removed: new Set() };
  for (const d of deltas) {
    for (const n of d.nodes) {
      const seen = m.nodes.get(n.id);
      m.nodes.set(n.id, seen ? { ...seen, ...n, cluster: n.cluster ?? seen.cluster, namespace: n.namespace ?? seen.namespace, attrs: { ...seen.attrs, ...n.attrs } } : n);
      m.removed.delete(n.id);
    }
    for (const e of d.edges) {
      const key = edgeKey(e);
      const seen = m.edges.get(key);
      m.edges.set(key, seen ? { ...e, attrs: { ...seen.attrs, ...e.attrs } } : e);
    }
    for (const a of d.aliases) m.aliases.set(a.alias, a.nodeId);
    for (const id of d.removed) {
      m.nodes.delete(id);
      for (const [key, e] of m.edges) if (e.src === id || e.dst === id) m.edges.delete(key);
      m.removed.add(id);
    }
  }
  return m;
}

function chunks<T>(items: T[], size = ROWS): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Upserts a merged delta, then removes deleted identities (with their edges and a pod's containers). */
export async function writeDelta(db: Kysely<Database>, deltas: Iterable<GraphDelta>, at: Date): Promise<void> {
  const m = mergeDeltas(deltas);
  const nodes = [...m.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const part of chunks(nodes)) {
    await db.insertInto('graph_nodes')
      .values(part.map((n) => ({ id: n.id, kind: n.kind, cluster: n.cluster ?? null, namespace: n.namespace ?? null, name: n.name, attrs: JSON.stringify(n.attrs), seen_at: at })))
      .onConflict((oc) => oc.column('id').doUpdateSet({
        kind: sql`excluded.kind`,
        cluster: sql`coalesce(excluded.cluster, graph_nodes.cluster)`,
        namespace: sql`coalesce(excluded.namespace, graph_nodes.namespace)`,
        name: sql`excluded.name`,
        attrs: sql`graph_nodes.attrs || excluded.attrs`,
        seen_at: sql`greatest(graph_nodes.seen_at, excluded.seen_at)`,
      }))
      .execute();
  }
  const edges = [...m.edges.values()].sort((a, b) => (edgeKey(a) < edgeKey(b) ? -1 : 1));
  for (const part of chunks(edges)) {
    await db.insertInto('graph_edges')
      .values(part.map((e) => ({ src: e.src, dst: e.dst, kind: e.kind, cluster: e.cluster ?? null, attrs: JSON.stringify(e.attrs ?? {}), seen_at: at })))
      .onConflict((oc) => oc.columns(['src', 'dst', 'kind']).doUpdateSet({
        attrs: sql`graph_edges.attrs || excluded.attrs`,
        seen_at: sql`greatest(graph_edges.seen_at, excluded.seen_at)`,
      }))
      .execute();
  }
  const aliases = [...m.aliases].sort(([a], [b]) => (a < b ? -1 : 1));
  for (const part of chunks(aliases)) {
    await db.insertInto('graph_aliases').values(part.map(([alias, node]) => ({ alias, node_id: node, seen_at: at })))
      .onConflict((oc) => oc.column('alias').doUpdateSet({ node_id: sql`excluded.node_id`, seen_at: sql`excluded.seen_at` }))
      .execute();
  }
  if (m.removed.size) {
    const removed = [...m.removed];
    const containers = await db.selectFrom('graph_edges').select('dst').where('kind', '=', 'runs').where('src', 'in', removed).execute();
    const gone = [...removed, ...containers.map((c) => c.dst)];
    for (const part of chunks(gone)) {
      await db.deleteFrom('graph_edges').where((eb) => eb.or([eb('src', 'in', part), eb('dst', 'in', part)])).execute();
      await db.deleteFrom('graph_nodes').where('id', 'in', part).execute();
    }
  }
  // Selections change when a service or a pod/workload of a namespace does: only those are matched again.
  const touched = new Map<string, { cluster: string; namespace: string; ids: string[] }>();
  for (const n of nodes) {
    if (!n.cluster || !n.namespace || !['service', 'pod', 'workload'].includes(n.kind)) continue;
    const key = `${n.cluster}\u0000${n.namespace}`;
    const entry = touched.get(key) ?? { cluster: n.cluster, namespace: n.namespace, ids: [] };
    entry.ids.push(n.id);
    touched.set(key, entry);
  }
  for (const { cluster, namespace, ids } of touched.values()) await deriveSelections(db, cluster, namespace, ids, at);
}

const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

type Row = { id: string; kind: string; attrs: Record<string, unknown> };

/**
 * Service → pod and service → workload edges from label selectors, for one namespace: a changed
 * service is matched against every pod and workload of its namespace, a changed pod or workload
 * against the namespace's services (few), so a write of 20 pods does not re-read 1,000 others.
 * `changed` absent: everything in the namespace (a full listing).
 */
export async function deriveSelections(db: Kysely<Database>, cluster: string, namespace: string, changed: string[] | undefined, at: Date): Promise<void> {
  const services: Row[] = await db.selectFrom('graph_nodes').select(['id', 'kind', 'attrs']).where('cluster', '=', cluster).where('namespace', '=', namespace).where('kind', '=', 'service').execute();
  if (!services.length) return;
  const changedSet = changed && new Set(changed);
  const changedServices = changedSet ? services.filter((s) => changedSet.has(s.id)) : services;
  let targets: Row[];
  if (changedServices.length) {
    targets = await db.selectFrom('graph_nodes').select(['id', 'kind', 'attrs']).where('cluster', '=', cluster).where('namespace', '=', namespace).where('kind', 'in', ['pod', 'workload']).execute();
  } else {
    targets = [];
    for (const part of chunks(changed ?? [])) targets.push(...await db.selectFrom('graph_nodes').select(['id', 'kind', 'attrs']).where('id', 'in', part).where('kind', 'in', ['pod', 'workload']).execute());
  }
  const changedTargets = changedSet && !changedServices.length ? targets : [];
  if (changedServices.length) await db.deleteFrom('graph_edges').where('kind', '=', 'selects').where('src', 'in', changedServices.map((x) => x.id)).execute();
  for (const part of chunks(changedTargets.map((x) => x.id))) await db.deleteFrom('graph_edges').where('kind', '=', 'selects').where('dst', 'in', part).execute();
  const pairs = changedServices.length ? changedServices.flatMap((svc) => targets.map((t) => [svc, t] as const)) : services.flatMap((svc) => changedTargets.map((t) => [svc, t] as const));
  // Changed targets of a write that also changed services: matched against the unchanged services too.
  if (changedServices.length && changedSet) {
    const others = services.filter((x) => !changedSet.has(x.id));
    const moved = targets.filter((t) => changedSet.has(t.id));
    if (others.length && moved.length) {
      for (const part of chunks(moved.map((x) => x.id))) await db.deleteFrom('graph_edges').where('kind', '=', 'selects').where('dst', 'in', part).where('src', 'in', others.map((o) => o.id)).execute();
      pairs.push(...others.flatMap((svc) => moved.map((t) => [svc, t] as const)));
    }
  }
  const edges = pairs.flatMap(([svc, target]) => {
    const selector = (svc.attrs.selector ?? {}) as Record<string, string>;
    const labels = (target.kind === 'pod' ? target.attrs.labels : target.attrs.podLabels) as Record<string, string> | undefined;
    return matches(selector, labels) ? [{ src: svc.id, dst: target.id, kind: 'selects', cluster, attrs: JSON.stringify({ selector }), seen_at: at }] : [];
  });
  for (const e of chunks(edges)) await db.insertInto('graph_edges').values(e).onConflict((oc) => oc.columns(['src', 'dst', 'kind']).doUpdateSet({ seen_at: sql`excluded.seen_at` })).execute();
}

/** Kinds a live listing covers completely: what it no longer lists is gone. Ingresses and images come from elsewhere. */
const LISTED_KINDS = ['namespace', 'workload', 'pod', 'container', 'service', 'serviceaccount', 'role', 'clusterrole', 'rolebinding', 'clusterrolebinding', 'node'];

/**
 * A posture scan's listing of a live cluster: every object upserted, then what the listing no
 * longer holds removed (identities and edges of the cluster not seen at `at`).
 */
export async function recordClusterGraph(db: Kysely<Database>, cluster: string, objects: Iterable<KubeObjectLike>, at: Date): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await writeDelta(tx, [kubeObjectsDelta(cluster, objects)], at);
    await tx.deleteFrom('graph_nodes').where('cluster', '=', cluster).where('kind', 'in', LISTED_KINDS).where('seen_at', '<', at).execute();
    await tx.deleteFrom('graph_edges').where('cluster', '=', cluster).where('kind', 'not in', ['routes', 'image']).where('seen_at', '<', at).execute();
    const namespaces = await tx.selectFrom('graph_nodes').select('namespace').distinct().where('cluster', '=', cluster).where('kind', '=', 'service').execute();
    for (const { namespace } of namespaces) if (namespace) await deriveSelections(tx, cluster, namespace, undefined, at);
    await tx.insertInto('graph_nodes').values({ id: nodeId.cluster(cluster), kind: 'cluster', cluster, name: cluster, attrs: JSON.stringify({ listedAt: at.toISOString() }), seen_at: at })
      .onConflict((oc) => oc.column('id').doUpdateSet({ attrs: sql`graph_nodes.attrs || excluded.attrs`, seen_at: at })).execute();
  });
}

/** Observations queued before a write; beyond it new ones are dropped (and counted) until the write catches up. */
const MAX_PENDING_THREATS = 50_000;

/**
 * Batches the intake's observations. `observe` only appends; a timer (or `flush`) writes
 * everything queued in one transaction, one write at a time.
 */
export class GraphWriter {
  private pending: (readonly ObservedThreat[])[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  dropped = 0;

  constructor(private readonly db: Kysely<Database>, private readonly options: { delayMs?: number; now?: () => Date; onError?: (error: unknown) => void } = {}) {}

  observe(threats: readonly ObservedThreat[]): void {
    if (!threats.length) return;
    if (this.size + threats.length > MAX_PENDING_THREATS) {
      this.dropped += threats.length;
      return;
    }
    this.pending.push(threats);
    this.size += threats.length;
    if (!this.timer) {
      // After the graph write, the alerts it concerns are assigned to incidents (assign.ts).
      this.timer = setTimeout(() => void this.flush().then(() => assignPendingIncidents(this.db)).catch((error) => this.options.onError?.(error)), this.options.delayMs ?? 200);
      this.timer.unref();
    }
  }

  /** Writes everything observed so far; resolves once it is stored. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    this.size = 0;
    this.running = (async () => {
      const deltas = batch.map((threats) => threatsDelta(threats));
      await this.db.transaction().execute((tx) => writeDelta(tx, deltas, (this.options.now ?? (() => new Date()))()));
    })().finally(() => {
      this.running = undefined;
    });
    await this.running;
  }
}

const writers = new WeakMap<object, GraphWriter>();

/** The one writer of a database in this process. */
export function graphWriter(db: Kysely<Database>): GraphWriter {
  let writer = writers.get(db);
  if (!writer) {
    writer = new GraphWriter(db);
    writers.set(db, writer);
  }
  return writer;
}

/** The intake's hook: remembers what recorded threats say about resources, written in the background. */
export function observeThreats(db: Kysely<Database>, threats: readonly ObservedThreat[]): void {
  graphWriter(db).observe(threats);
}

/** Stores whatever the intake observed so far, then assigns queued alerts to incidents (reads of incidents). */
export async function settleIncidents(db: Kysely<Database>): Promise<void> {
  await flushGraph(db);
  await assignPendingIncidents(db);
}

/** Stores whatever the intake observed so far (reads that must see it, tests, shutdown). */
export function flushGraph(db: Kysely<Database>): Promise<void> {
  return writers.get(db)?.flush() ?? Promise.resolve();
}

/**
 * A posture scan's inventory (src/policy/live): its workload list (pods, controllers, services,
 * service accounts), namespaces, and every list of its snapshot (RBAC, nodes).
 */
export async function recordClusterInventory(db: Kysely<Database>, cluster: string, inventory: { workloads: readonly KubeObjectLike[]; namespaces: readonly KubeObjectLike[]; snapshot: object }, at: Date): Promise<void> {
  const lists = Object.values(inventory.snapshot).flatMap((v) => {
    const items = (v as { items?: unknown } | null)?.items;
    return Array.isArray(items) ? (items as KubeObjectLike[]) : [];
  });
  await recordClusterGraph(db, cluster, [...inventory.namespaces, ...lists, ...inventory.workloads], at);
}
