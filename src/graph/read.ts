/**
 * Reading the graph: an identity's neighbourhood along the identity chain (owner → pod →
 * container → image, node → pod), a whole cluster for attack paths, aliases, and image references
 * resolved to digests through the registries Palisade knows.
 */
import { sql, type Kysely } from 'kysely';
import { parseWrittenReference } from '../image/index.js';
import { registryHostKey, registryUrlHostKey, type Database } from '../store/index.js';
import { digestOf } from './ids.js';

export interface StoredNode {
  id: string;
  kind: string;
  cluster: string | null;
  namespace: string | null;
  name: string;
  attrs: Record<string, unknown>;
}

export interface StoredEdge {
  src: string;
  dst: string;
  kind: string;
  attrs: Record<string, unknown>;
}

/** An in-memory piece of the graph with adjacency both ways. */
export class SubGraph {
  readonly nodes = new Map<string, StoredNode>();
  readonly out = new Map<string, StoredEdge[]>();
  readonly in = new Map<string, StoredEdge[]>();
  private readonly keys = new Set<string>();

  addEdge(e: StoredEdge): void {
    const key = `${e.src}\u0000${e.dst}\u0000${e.kind}`;
    if (this.keys.has(key)) return;
    this.keys.add(key);
    this.out.set(e.src, [...(this.out.get(e.src) ?? []), e]);
    this.in.set(e.dst, [...(this.in.get(e.dst) ?? []), e]);
  }

  children(id: string, kind?: string): StoredEdge[] {
    return (this.out.get(id) ?? []).filter((e) => !kind || e.kind === kind);
  }

  parents(id: string, kind?: string): StoredEdge[] {
    return (this.in.get(id) ?? []).filter((e) => !kind || e.kind === kind);
  }

  /** The topmost owner of a pod or workload (a Deployment above its ReplicaSet), or itself. */
  topOwner(id: string): string {
    let current = id;
    for (let i = 0; i < 5; i++) {
      const owner = this.parents(current, 'owns')[0];
      if (!owner) break;
      current = owner.src;
    }
    return current;
  }
}

const IDENTITY_EDGES = ['owns', 'runs', 'image', 'hosts'];
const PER_QUERY = 500;

/**
 * The identity chain around some identities: owners up and down, a pod's containers, their
 * images, the node; `depth` steps out (three reach pod → ReplicaSet → Deployment and back).
 */
export async function loadAround(db: Kysely<Database>, seeds: Iterable<string>, depth = 3): Promise<SubGraph> {
  const graph = new SubGraph();
  let frontier = [...new Set(seeds)];
  const visited = new Set<string>();
  for (let step = 0; step <= depth && frontier.length; step++) {
    frontier.forEach((id) => visited.add(id));
    const next = new Set<string>();
    for (let i = 0; i < frontier.length; i += PER_QUERY) {
      const part = frontier.slice(i, i + PER_QUERY);
      const nodes = await db.selectFrom('graph_nodes').select(['id', 'kind', 'cluster', 'namespace', 'name', 'attrs']).where('id', 'in', part).execute();
      for (const n of nodes) graph.nodes.set(n.id, n);
      if (step === depth) continue;
      const edges = await db.selectFrom('graph_edges').select(['src', 'dst', 'kind', 'attrs'])
        .where('kind', 'in', IDENTITY_EDGES)
        .where((eb) => eb.or([eb('src', 'in', part), eb('dst', 'in', part)]))
        .limit(20_000)
        .execute();
      for (const e of edges) {
        graph.addEdge(e);
        // A node hosts every pod scheduled on it: from a node, do not walk to all of them.
        if (e.kind === 'hosts' && part.includes(e.src)) continue;
        for (const id of [e.src, e.dst]) if (!visited.has(id)) next.add(id);
      }
    }
    frontier = [...next];
  }
  return graph;
}

/** Every identity and edge of one cluster (attack paths), images included. */
export async function loadCluster(db: Kysely<Database>, cluster: string): Promise<SubGraph> {
  const graph = new SubGraph();
  const nodes = await db.selectFrom('graph_nodes').select(['id', 'kind', 'cluster', 'namespace', 'name', 'attrs']).where('cluster', '=', cluster).execute();
  for (const n of nodes) graph.nodes.set(n.id, n);
  const edges = await db.selectFrom('graph_edges').select(['src', 'dst', 'kind', 'attrs']).where('cluster', '=', cluster).execute();
  for (const e of edges) graph.addEdge(e);
  const images = [...new Set(edges.filter((e) => e.kind === 'image').map((e) => e.dst))];
  for (let i = 0; i < images.length; i += PER_QUERY) {
    for (const n of await db.selectFrom('graph_nodes').select(['id', 'kind', 'cluster', 'namespace', 'name', 'attrs']).where('id', 'in', images.slice(i, i + PER_QUERY)).execute()) graph.nodes.set(n.id, n);
  }
  return graph;
}

/** The identities some aliases (container runtime ids, pod uids) name. */
export async function resolveAliases(db: Kysely<Database>, aliases: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < aliases.length; i += PER_QUERY) {
    const rows = await db.selectFrom('graph_aliases').select(['alias', 'node_id']).where('alias', 'in', aliases.slice(i, i + PER_QUERY)).execute();
    for (const r of rows) out.set(r.alias, r.node_id);
  }
  return out;
}

/**
 * Image references to manifest digests: a reference that carries its digest names it; a tag is
 * looked up among the images of the connected registries (the registry's URL host must match the
 * reference's host, so an image of the same name elsewhere is not taken for it).
 */
export async function resolveImageDigests(db: Kysely<Database>, references: Iterable<string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const pending: { reference: string; host: string; repository: string; tag: string }[] = [];
  for (const reference of new Set(references)) {
    const digest = digestOf(reference);
    if (digest) {
      out.set(reference, digest);
      continue;
    }
    // Read as the kubelet reads a pod's image (Docker Hub short names, default ports); a string
    // that is no reference names no image.
    const ref = parseWrittenReference(reference);
    if (ref) pending.push({ reference, host: registryHostKey(ref.registry), repository: ref.repository, tag: ref.tag ?? 'latest' });
  }
  if (!pending.length) return out;
  const registries = await db.selectFrom('registries').select(['name', 'url']).execute();
  const namesByHost = new Map<string, string[]>();
  for (const r of registries) {
    const host = registryUrlHostKey(r.url);
    if (host !== undefined) namesByHost.set(host, [...(namesByHost.get(host) ?? []), r.name]);
  }
  const repositories = [...new Set(pending.map((p) => p.repository))];
  const images = repositories.length
    ? await db.selectFrom('images').select(['registry', 'repository', 'digest', 'tags', 'last_pushed']).where('repository', 'in', repositories.slice(0, 1000)).where('deleted', '=', false).execute()
    : [];
  for (const p of pending) {
    const names = namesByHost.get(p.host) ?? [];
    const candidates = images.filter((i) => names.includes(i.registry) && i.repository === p.repository && (i.tags as string[]).includes(p.tag));
    // A tag moved: the latest push carries it now.
    candidates.sort((a, b) => new Date(b.last_pushed ?? 0).getTime() - new Date(a.last_pushed ?? 0).getTime());
    if (candidates[0]) out.set(p.reference, candidates[0].digest);
  }
  return out;
}

export interface RunningIn {
  cluster: string;
  namespace: string;
  /** The pod's topmost owner (`deployment/web`), when the graph knows it. */
  workload: string | null;
  pod: string;
  container: string;
  /** The pod's identity (`CLUSTER/NS/pod/NAME`, as alert resources and incident entities name it). */
  podId: string;
}

const RUNNING_LIMIT = 200;

/**
 * Where an image runs: the containers whose image is the digest (by digest, or by a tag of it in
 * a connected registry, the way pods usually name images), their pods and the pods' topmost
 * owners. At most 200 containers.
 */
export async function imageRunningIn(db: Kysely<Database>, digest: string): Promise<RunningIn[]> {
  const byDigest = await db.selectFrom('graph_edges').select('src').where('kind', '=', 'image').where('dst', '=', `image:${digest}`).limit(RUNNING_LIMIT).execute();
  const containers = new Set(byDigest.map((e) => e.src));
  const images = await db.selectFrom('images').select(['registry', 'repository', 'tags']).where('digest', '=', digest).where('deleted', '=', false).execute();
  const registries = images.length ? await db.selectFrom('registries').select(['name', 'url']).where('name', 'in', [...new Set(images.map((i) => i.registry))]).execute() : [];
  const refs = new Set<string>();
  for (const image of images) {
    for (const r of registries.filter((x) => x.name === image.registry)) {
      const host = registryUrlHostKey(r.url);
      if (host === undefined) continue;
      for (const tag of image.tags as string[]) refs.add(`${host}/${image.repository}:${tag}`);
      refs.add(`${host}/${image.repository}@${digest}`);
    }
  }
  if (refs.size && containers.size < RUNNING_LIMIT) {
    const byTag = await db.selectFrom('graph_nodes').select(['id', 'attrs']).where('kind', '=', 'container')
      .where(sql<string>`attrs->>'image'`, 'in', [...refs].slice(0, 500)).limit(RUNNING_LIMIT).execute();
    // A tag that moved since: the connected registry names the digest it points to now, so the same test as resolveImageDigests.
    const current = await resolveImageDigests(db, byTag.map((c) => String(c.attrs.image)));
    for (const c of byTag) if (current.get(String(c.attrs.image)) === digest) containers.add(c.id);
  }
  if (!containers.size) return [];
  const runs = await db.selectFrom('graph_edges').select(['src', 'dst']).where('kind', '=', 'runs').where('dst', 'in', [...containers]).execute();
  const graph = new SubGraph();
  let frontier = [...new Set(runs.map((r) => r.src))];
  const pods = frontier;
  for (let step = 0; step < 4 && frontier.length; step++) {
    const owns = await db.selectFrom('graph_edges').select(['src', 'dst', 'kind', 'attrs']).where('kind', '=', 'owns').where('dst', 'in', frontier).execute();
    for (const e of owns) graph.addEdge(e);
    frontier = [...new Set(owns.map((e) => e.src))];
  }
  const named = await db.selectFrom('graph_nodes').select(['id', 'kind', 'cluster', 'namespace', 'name', 'attrs']).where('id', 'in', [...pods, ...containers]).execute();
  for (const n of named) graph.nodes.set(n.id, n);
  const out: RunningIn[] = [];
  for (const run of runs) {
    const pod = graph.nodes.get(run.src);
    const [cluster, namespace] = run.src.slice('pod:'.length).split('/');
    const owner = graph.topOwner(run.src);
    const container = graph.nodes.get(run.dst);
    out.push({
      cluster: pod?.cluster ?? cluster!, namespace: pod?.namespace ?? namespace!,
      // workload:CLUSTER/NS/KIND/NAME → KIND/NAME
      workload: owner !== run.src ? owner.split('/').slice(-2).join('/') : null,
      pod: pod?.name ?? run.src.split('/').pop()!,
      container: String(container?.attrs.container ?? run.dst.split('/').pop()),
      podId: run.src.slice('pod:'.length),
    });
  }
  return out.sort((a, b) => a.cluster.localeCompare(b.cluster) || a.namespace.localeCompare(b.namespace) || a.pod.localeCompare(b.pod) || a.container.localeCompare(b.container));
}
