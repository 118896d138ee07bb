/**
 * Attack paths: from the internet to a node, through what the graph and the findings say.
 * A path is: exposure (LoadBalancer or NodePort Service, or an Ingress to a Service) → the
 * workload it selects → an image that workload runs with an exploitable finding (critical or high
 * with a fix available, or known exploited; VEX not_affected / fixed suppresses it) → the service
 * account whose token that container mounts, with a dangerous permission (cluster-admin, create
 * pods, pods/exec, read secrets) → the node the pod runs on. Any missing hop: no path.
 *
 * Computed on read and cached per cluster under a fingerprint of its inputs (the cluster's graph
 * rows and their latest change; the latest image scan; the per-image critical and high counts,
 * which VEX suppression and re-matching change as well): a read after any of those changes
 * recomputes, a read without one costs two small queries, none scanning the findings. What the
 * fingerprint cannot see (a re-match that only adds a fixed version) shows once the entry is a
 * minute old. No background job to fall behind, and nothing computed for clusters nobody looks at.
 */
import { sql, type Kysely } from 'kysely';
import { sha256Hex } from '../core/index.js';
import type { Database } from '../store/index.js';
import { dangerousPermissions, type DangerousPermission } from './rbac.js';
import { loadCluster, resolveImageDigests, type StoredNode, type SubGraph } from './read.js';
import { flushGraph } from './write.js';

export type HopKind = 'internet' | 'ingress' | 'service' | 'workload' | 'pod' | 'container' | 'image' | 'serviceaccount' | 'permission' | 'node';

export interface AttackPath {
  id: string;
  cluster: string;
  severity: 'critical' | 'high' | 'medium' | 'low';
  score: number;
  title: string;
  hops: { id: string; kind: HopKind; name: string }[];
  edges: { from: string; to: string; label: string; evidence: string }[];
  fix: { hopId: string; text: string; command?: string };
}

interface ExploitableFinding { vulnerability: string; severity: string; packageName: string; packageVersion: string; fixedVersion: string | null; exploited: boolean }

const SEVERITY_RANK: Record<string, number> = { critical: 2, high: 1 };

/** Critical and high findings per digest that make an image a foothold. */
async function exploitableFindings(db: Kysely<Database>, digests: string[]): Promise<Map<string, ExploitableFinding[]>> {
  const out = new Map<string, ExploitableFinding[]>();
  for (let i = 0; i < digests.length; i += 500) {
    const rows = await db.selectFrom('findings').select(['digest', 'vulnerability', 'severity', 'package_name', 'package_version', 'fixed_version', 'detail'])
      .where('digest', 'in', digests.slice(i, i + 500)).where('severity', 'in', ['critical', 'high']).execute();
    for (const r of rows) {
      const detail = r.detail ?? {};
      const vex = (detail.vex ?? {}) as { status?: string };
      if (vex.status === 'not_affected' || vex.status === 'fixed') continue;
      const exploited = detail.knownExploited === true || detail.kev === true;
      if (!r.fixed_version && !exploited) continue;
      out.set(r.digest, [...(out.get(r.digest) ?? []), { vulnerability: r.vulnerability, severity: r.severity, packageName: r.package_name, packageVersion: r.package_version, fixedVersion: r.fixed_version, exploited }]);
    }
  }
  for (const list of out.values()) {
    list.sort((a, b) => (SEVERITY_RANK[b.severity]! - SEVERITY_RANK[a.severity]!) || Number(b.exploited) - Number(a.exploited) || a.vulnerability.localeCompare(b.vulnerability));
  }
  return out;
}

interface Exposure { hops: AttackPath['hops']; edges: AttackPath['edges']; service: StoredNode; weight: number }

function exposures(graph: SubGraph): Exposure[] {
  const out: Exposure[] = [];
  for (const service of graph.nodes.values()) {
    if (service.kind !== 'service') continue;
    const type = String(service.attrs.type ?? 'ClusterIP');
    const ports = (service.attrs.ports ?? []) as { port?: number; nodePort?: number }[];
    const serviceHop = { id: service.id, kind: 'service' as const, name: `${service.namespace}/${service.name}` };
    if (type === 'LoadBalancer' || type === 'NodePort') {
      const shown = ports.map((p) => (type === 'NodePort' ? `:${p.nodePort ?? p.port}` : `:${p.port}`)).join(',');
      const lb = (service.attrs.loadBalancer ?? []) as string[];
      out.push({
        service, weight: type === 'LoadBalancer' ? 25 : 20,
        hops: [{ id: `internet:${service.id}`, kind: 'internet', name: 'internet' }, serviceHop],
        edges: [{ from: `internet:${service.id}`, to: service.id, label: `${type} ${shown}`.trim(), evidence: `Service ${service.namespace}/${service.name} is type ${type}${lb.length ? ` at ${lb.join(', ')}` : ''}${ports.length ? `, ports ${ports.map((p) => (type === 'NodePort' ? `${p.nodePort ?? p.port}` : `${p.port}${p.nodePort ? ` (node port ${p.nodePort})` : ''}`)).join(', ')}` : ''}` }],
      });
    }
    for (const route of graph.parents(service.id, 'routes')) {
      const ingress = graph.nodes.get(route.src);
      if (!ingress) continue;
      const hosts = (ingress.attrs.hosts ?? []) as string[];
      out.push({
        service, weight: 25,
        hops: [{ id: `internet:${ingress.id}`, kind: 'internet', name: 'internet' }, { id: ingress.id, kind: 'ingress', name: `${ingress.namespace}/${ingress.name}` }, serviceHop],
        edges: [
          { from: `internet:${ingress.id}`, to: ingress.id, label: `Ingress ${hosts.join(', ') || '*'}`, evidence: `Ingress ${ingress.namespace}/${ingress.name} serves ${hosts.join(', ') || 'every host'}${ingress.attrs.tls ? ' over TLS' : ''}` },
          { from: ingress.id, to: service.id, label: `routes to :${String(route.attrs.port ?? '')}`, evidence: `Ingress ${ingress.name} sends requests to Service ${service.name}` },
        ],
      });
    }
  }
  return out;
}

function severityOf(score: number): AttackPath['severity'] {
  return score >= 85 ? 'critical' : score >= 70 ? 'high' : score >= 50 ? 'medium' : 'low';
}

/**
 * The cheapest change that breaks the path, in this order: delete a binding that names only this
 * account (one command, nothing else loses a permission, no rebuild, no outage); rebuild the image
 * on the fixed package; stop mounting the token; and last, take the Service off the internet.
 */
function cheapestFix(p: { serviceAccount: StoredNode; permission: DangerousPermission; imageHop: string; finding: ExploitableFinding; service: StoredNode; saHop: string; serviceHop: string }): AttackPath['fix'] {
  const b = p.permission.binding;
  if (p.permission.onlySubject) {
    const kind = b.kind === 'rolebinding' ? 'rolebinding' : 'clusterrolebinding';
    return { hopId: p.saHop, text: `Delete ${kind} ${b.name}: it gives only serviceaccount ${p.serviceAccount.namespace}/${p.serviceAccount.name} ${p.permission.role}, which ${p.permission.label}`, command: `kubectl delete ${kind} ${b.name}${b.namespace ? ` -n ${b.namespace}` : ''}` };
  }
  if (p.finding.fixedVersion) {
    return { hopId: p.imageHop, text: `Rebuild the image with ${p.finding.packageName} ${p.finding.fixedVersion} or later (fixes ${p.finding.vulnerability})` };
  }
  return {
    hopId: p.saHop,
    text: `Stop mounting the token of serviceaccount ${p.serviceAccount.namespace}/${p.serviceAccount.name} into its pods`,
    command: `kubectl patch serviceaccount ${p.serviceAccount.name} -n ${p.serviceAccount.namespace} -p '{"automountServiceAccountToken":false}'`,
  };
}

/** Every attack path of one cluster, worst first. */
export async function computeAttackPaths(db: Kysely<Database>, cluster: string): Promise<AttackPath[]> {
  const graph = await loadCluster(db, cluster);
  const exposed = exposures(graph);
  if (!exposed.length) return [];
  // Targets: the pods a service selects, one path per top owner (50 replicas are one workload).
  type Target = { owner: StoredNode; pod?: StoredNode; containers: StoredNode[]; refs: string[]; digests: string[]; referenceOf: Map<string, string> };
  const targetsOf = new Map<string, Target[]>();
  const refs = new Set<string>();
  for (const e of exposed) {
    const byOwner = new Map<string, Target>();
    for (const sel of graph.children(e.service.id, 'selects')) {
      const selected = graph.nodes.get(sel.dst);
      if (!selected) continue;
      const ownerId = graph.topOwner(selected.id);
      // An owner known only from its pods' owner references (not listed itself) still groups them.
      const owner = graph.nodes.get(ownerId) ?? (ownerId === selected.id ? selected
        : { id: ownerId, kind: 'workload', cluster, namespace: selected.namespace, name: ownerId.slice(ownerId.lastIndexOf('/') + 1), attrs: {} });
      if (byOwner.has(owner.id) && (byOwner.get(owner.id)!.pod || selected.kind !== 'pod')) continue;
      const containers = selected.kind === 'pod' ? graph.children(selected.id, 'runs').map((c) => graph.nodes.get(c.dst)).filter((c): c is StoredNode => Boolean(c)) : [];
      const target: Target = { owner, ...(selected.kind === 'pod' ? { pod: selected } : {}), containers, refs: [], digests: [], referenceOf: new Map() };
      for (const c of containers) {
        for (const img of graph.children(c.id, 'image')) {
          const digest = img.dst.slice('image:'.length);
          target.digests.push(digest);
          if (typeof c.attrs.image === 'string') target.referenceOf.set(digest, c.attrs.image);
        }
        if (typeof c.attrs.image === 'string') target.refs.push(c.attrs.image);
      }
      if (selected.kind === 'workload') for (const c of (selected.attrs.containers ?? []) as { image?: string }[]) if (c.image) target.refs.push(c.image);
      target.refs.forEach((r) => refs.add(r));
      byOwner.set(owner.id, target);
    }
    targetsOf.set(e.service.id + e.hops[1]!.id, [...byOwner.values()]);
  }
  const resolved = await resolveImageDigests(db, refs);
  for (const targets of targetsOf.values()) {
    for (const t of targets) {
      for (const r of t.refs) {
        const digest = resolved.get(r);
        if (!digest) continue;
        t.digests.push(digest);
        if (!t.referenceOf.has(digest)) t.referenceOf.set(digest, r);
      }
    }
  }
  const allDigests = [...new Set([...targetsOf.values()].flat().flatMap((t) => t.digests))];
  const findings = await exploitableFindings(db, allDigests);

  const paths = new Map<string, AttackPath>();
  for (const e of exposed) {
    for (const t of targetsOf.get(e.service.id + e.hops[1]!.id) ?? []) {
      const vulnerable = [...new Set(t.digests)].map((d) => ({ digest: d, finding: findings.get(d)?.[0] })).filter((x): x is { digest: string; finding: ExploitableFinding } => Boolean(x.finding))
        .sort((a, b) => (SEVERITY_RANK[b.finding.severity]! - SEVERITY_RANK[a.finding.severity]!) || Number(b.finding.exploited) - Number(a.finding.exploited))[0];
      if (!vulnerable) continue;
      const source = t.pod ?? t.owner;
      const saName = String(source.attrs.serviceAccount ?? t.owner.attrs.serviceAccount ?? 'default');
      const saId = `serviceaccount:${cluster}/${source.namespace}/${saName}`;
      const sa = graph.nodes.get(saId) ?? { id: saId, kind: 'serviceaccount', cluster, namespace: source.namespace, name: saName, attrs: {} };
      // A token that is not mounted cannot be stolen from the container.
      if (source.attrs.automountToken === false || (source.attrs.automountToken === undefined && sa.attrs.automountToken === false)) continue;
      const permission = dangerousPermissions(graph, cluster, source.namespace ?? '', saName)[0];
      if (!permission) continue;
      const nodeEdge = t.pod ? graph.parents(t.pod.id, 'hosts')[0] : undefined;
      const f = vulnerable.finding;
      const workloadHop = { id: t.owner.id, kind: (t.owner.kind === 'pod' ? 'pod' : 'workload') as HopKind, name: `${t.owner.namespace}/${t.owner.name}` };
      const imageHop = { id: `image:${vulnerable.digest}`, kind: 'image' as const, name: t.referenceOf.get(vulnerable.digest) ?? vulnerable.digest };
      const saHop = { id: sa.id, kind: 'serviceaccount' as const, name: `${sa.namespace}/${sa.name}` };
      const permissionHop = { id: `permission:${permission.binding.id}`, kind: 'permission' as const, name: `${permission.role} (${permission.label})` };
      const hops: AttackPath['hops'] = [...e.hops, workloadHop, imageHop, saHop, permissionHop];
      const selector = Object.entries((e.service.attrs.selector ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
      const edges: AttackPath['edges'] = [
        ...e.edges,
        { from: e.service.id, to: workloadHop.id, label: `selects ${selector}`, evidence: `Service ${e.service.name} selects ${t.pod ? `pod ${t.pod.name} of ` : ''}${t.owner.name}` },
        { from: workloadHop.id, to: imageHop.id, label: 'runs', evidence: `${t.owner.name} runs image ${imageHop.name} (${vulnerable.digest.slice(0, 19)}…)` },
        { from: imageHop.id, to: saHop.id, label: `${f.vulnerability} (${f.severity}${f.fixedVersion ? `, fix ${f.fixedVersion}` : ''}${f.exploited ? ', known exploited' : ''})`, evidence: `${f.packageName} ${f.packageVersion} in the image; code run through it holds the token of serviceaccount ${sa.name}, mounted in the container` },
        { from: saHop.id, to: permissionHop.id, label: permission.label.split(' (')[0]!, evidence: `${permission.binding.kind === 'rolebinding' ? 'RoleBinding' : 'ClusterRoleBinding'} ${permission.binding.name} grants ${permission.role} ${permission.scope}` },
      ];
      if (nodeEdge) {
        const nodeName = nodeEdge.src.slice(nodeEdge.src.lastIndexOf('/') + 1);
        hops.push({ id: nodeEdge.src, kind: 'node', name: nodeName });
        edges.push({ from: permissionHop.id, to: nodeEdge.src, label: 'reaches node', evidence: `pod ${t.pod!.name} runs on node ${nodeName}; ${permission.id === 'secrets' ? 'its secrets include other workloads\' credentials' : 'a privileged pod or exec lands on the node'}` });
      }
      const score = Math.min(100, e.weight + (f.severity === 'critical' ? 35 : 25) + (f.exploited ? 10 : 0) + permission.weight);
      const id = `ap_${sha256Hex(`${cluster}\u0000${e.hops[e.hops.length - 2]!.id}\u0000${t.owner.id}\u0000${vulnerable.digest}\u0000${sa.id}`).slice(0, 16)}`;
      paths.set(id, {
        id, cluster, score, severity: severityOf(score),
        title: `Internet → ${workloadHop.name} (${f.vulnerability}) → serviceaccount ${sa.name} ${permission.label.split(' (')[0]}`,
        hops, edges,
        fix: cheapestFix({ serviceAccount: sa, permission, imageHop: imageHop.id, finding: f, service: e.service, saHop: saHop.id, serviceHop: e.service.id }),
      });
    }
  }
  return [...paths.values()].sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
}

const cache = new WeakMap<object, Map<string, { fingerprint: string; at: number; paths: AttackPath[] }>>();

async function fingerprint(db: Kysely<Database>, cluster: string): Promise<string> {
  const graph = await sql<{ n: string; at: Date | null; e: string; eat: Date | null }>`
    select (select count(*) from graph_nodes where cluster = ${cluster}) as n, (select max(seen_at) from graph_nodes where cluster = ${cluster}) as at,
           (select count(*) from graph_edges where cluster = ${cluster}) as e, (select max(seen_at) from graph_edges where cluster = ${cluster}) as eat`.execute(db);
  // image_finding_counts, one row per image kept by the findings triggers, leaves suppressed findings out (migration 0740).
  const scans = await sql<{ at: Date | null; counts: string }>`select (select max(finished_at) from image_scans) as at,
    (select count(*) || '/' || coalesce(sum(critical), 0) || '/' || coalesce(sum(high), 0) from image_finding_counts) as counts`.execute(db);
  const g = graph.rows[0]!;
  const s = scans.rows[0]!;
  return [g.n, g.at && new Date(g.at).toISOString(), g.e, g.eat && new Date(g.eat).toISOString(), s.at && new Date(s.at).toISOString(), s.counts].join('|');
}

/** How long a cached cluster's paths are served without recomputing, whatever the fingerprint says. */
const MAX_AGE_MS = 60_000;

/** The clusters the graph knows. */
export async function graphClusters(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom('graph_nodes').select('cluster').distinct().where('kind', '=', 'cluster').execute();
  return rows.map((r) => r.cluster!).filter(Boolean).sort();
}

/** Attack paths of one cluster or all, worst first; recomputed only when an input changed. */
export async function listAttackPaths(db: Kysely<Database>, cluster?: string): Promise<AttackPath[]> {
  await flushGraph(db);
  const clusters = cluster ? [cluster] : await graphClusters(db);
  let byCluster = cache.get(db);
  if (!byCluster) {
    byCluster = new Map();
    cache.set(db, byCluster);
  }
  const out: AttackPath[] = [];
  for (const c of clusters) {
    const fp = await fingerprint(db, c);
    let entry = byCluster.get(c);
    if (!entry || entry.fingerprint !== fp || Date.now() - entry.at > MAX_AGE_MS) {
      entry = { fingerprint: fp, at: Date.now(), paths: await computeAttackPaths(db, c) };
      byCluster.set(c, entry);
    }
    out.push(...entry.paths);
  }
  return out.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
}
