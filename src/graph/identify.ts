/**
 * What each alert concerns, in graph identities: an audit alert names a pod or workload (and its
 * evidence carries the object), an agent alert a container with the pod the agent resolved, a
 * registry alert an image digest. The graph adds the rest: the pod's owner chain, its containers,
 * the digests they run (a tag resolved through the connected registries when no digest is known).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/index.js';
import { aliasOf, digestOf, nodeId } from './ids.js';
import type { AlertIdentity } from './join.js';
import { loadAround, resolveAliases, resolveImageDigests, type SubGraph } from './read.js';

export interface IdentifiedAlert {
  id: string;
  source: string;
  resource: { kind: string; id: string; name: string; cluster?: string; namespace?: string };
  evidence: unknown[];
}

export interface ResolvedIdentity extends AlertIdentity {
  node?: string;
  /** Who made the request (audit alerts). */
  users: string[];
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

interface Seed { pod?: string; workload?: string; container?: string; containerAlias?: string; images: string[]; refs: string[]; node?: string; users: string[] }

function seedOf(alert: IdentifiedAlert): Seed {
  const seed: Seed = { images: [], refs: [], users: [] };
  const { resource } = alert;
  const cluster = resource.cluster;
  if (resource.kind === 'image') {
    const digest = digestOf(resource.id);
    if (digest) seed.images.push(digest);
    return seed;
  }
  if (resource.kind === 'pod') seed.pod = `pod:${resource.id}`;
  if (resource.kind === 'workload') seed.workload = `workload:${resource.id}`;
  for (const e of alert.evidence.slice(0, 5).map(obj)) {
    if (alert.source === 'audit') {
      const user = str(obj(e.user).username);
      if (user && !seed.users.includes(user)) seed.users.push(user);
      for (const body of [obj(e.requestObject), obj(e.responseObject)]) {
        const spec = obj(body.spec);
        const podSpec = resource.kind === 'pod' ? spec : obj(obj(spec.template).spec);
        for (const c of [...(Array.isArray(podSpec.containers) ? podSpec.containers : []), ...(Array.isArray(podSpec.initContainers) ? podSpec.initContainers : [])]) {
          const image = str(obj(c).image);
          if (image && !seed.refs.includes(image)) seed.refs.push(image);
        }
      }
    }
    if (alert.source === 'agent' && cluster) {
      const container = obj(e.container);
      const pod = str(container.pod);
      const ns = str(container.namespace);
      const name = str(container.name);
      const runtimeId = str(container.id);
      seed.node ??= str(e.node);
      if (pod && ns) seed.pod = nodeId.pod(cluster, ns, pod);
      if (pod && ns && name) seed.container = nodeId.container(cluster, ns, pod, name);
      else if (runtimeId) seed.containerAlias = aliasOf.containerId(cluster, runtimeId);
      const image = str(container.image);
      if (image && !seed.refs.includes(image)) seed.refs.push(image);
    }
  }
  if (resource.kind === 'node') seed.node = resource.name;
  return seed;
}

/** Each alert's pod, owner, containers and image digests. */
export async function identifyAlerts(db: Kysely<Database>, alerts: readonly IdentifiedAlert[]): Promise<Map<string, ResolvedIdentity>> {
  const seeds = new Map(alerts.map((a) => [a.id, seedOf(a)]));
  const aliases = await resolveAliases(db, [...seeds.values()].flatMap((s) => (s.containerAlias ? [s.containerAlias] : [])));
  for (const s of seeds.values()) if (s.containerAlias && aliases.has(s.containerAlias)) s.container = aliases.get(s.containerAlias);
  const graph = await loadAround(db, [...seeds.values()].flatMap((s) => [s.pod, s.workload, s.container].filter((x): x is string => Boolean(x))));
  // Pods the graph has not heard of yet still have the container's pod from the agent's evidence.
  for (const s of seeds.values()) if (!s.pod && s.container) s.pod = graph.parents(s.container, 'runs')[0]?.src;
  const refs = new Set([...seeds.values()].flatMap((s) => s.refs));
  for (const id of [...seeds.values()].flatMap((s) => [s.pod, s.container].filter((x): x is string => Boolean(x)))) {
    for (const c of containersOf(graph, id)) {
      const image = str(graph.nodes.get(c)?.attrs.image);
      if (image) refs.add(image);
    }
  }
  const digests = await resolveImageDigests(db, refs);
  const out = new Map<string, ResolvedIdentity>();
  for (const alert of alerts) {
    const s = seeds.get(alert.id)!;
    const images = new Set(s.images);
    for (const ref of s.refs) if (digests.has(ref)) images.add(digests.get(ref)!);
    const containers = s.container ? [s.container] : [];
    const scope = s.container ? [s.container] : s.pod ? containersOf(graph, s.pod) : [];
    for (const c of scope) {
      for (const e of graph.children(c, 'image')) images.add(e.dst.slice('image:'.length));
      const ref = str(graph.nodes.get(c)?.attrs.image);
      if (ref && digests.has(ref)) images.add(digests.get(ref)!);
    }
    const podName = s.pod ? graph.nodes.get(s.pod)?.name ?? s.pod.split('/').pop()! : undefined;
    const ownerId = s.workload ? graph.topOwner(s.workload) : s.pod ? graph.topOwner(s.pod) : undefined;
    const owner = ownerId && ownerId !== s.pod ? { id: ownerId, name: graph.nodes.get(ownerId)?.name ?? ownerId.split('/').pop()! } : undefined;
    const node = s.node ?? (s.pod ? graph.parents(s.pod, 'hosts')[0]?.src.split('/').pop() : undefined);
    out.set(alert.id, {
      ...(s.pod ? { pod: { id: s.pod, name: podName! } } : {}),
      ...(owner ? { owner } : {}),
      containers: containers.map((id) => ({ id, name: graph.nodes.get(id)?.name ?? id.split('/').slice(-2).join('/') })),
      images: [...images],
      ...(node ? { node } : {}),
      users: s.users,
    });
  }
  return out;
}

function containersOf(graph: SubGraph, id: string): string[] {
  return id.startsWith('container:') ? [id] : graph.children(id, 'runs').map((e) => e.dst);
}
