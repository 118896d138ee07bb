/**
 * Kubernetes objects → graph identities and edges. The same code reads a posture scan's lists and
 * the objects in audit events (requestObject / responseObject), so both sources name a resource
 * the same way. Objects are plain JSON; nothing here trusts a field's type without checking it.
 */
import { aliasOf, bareContainerId, digestOf, nodeId } from './ids.js';
import { emptyDelta, type GraphDelta, type GraphNode } from './schema.js';

export interface KubeObjectLike {
  kind?: string;
  metadata?: object;
  spec?: unknown;
  status?: unknown;
  subjects?: unknown;
  roleRef?: unknown;
  rules?: unknown;
  aggregationRule?: unknown;
  automountServiceAccountToken?: unknown;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const labelsOf = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries(obj(v)).filter(([, x]) => typeof x === 'string')) as Record<string, string>;

const WORKLOAD_KINDS = new Set(['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicationController']);

/** The pod template of a workload (a CronJob's sits one level deeper). */
function podTemplate(kind: string, spec: Obj): Obj {
  if (kind === 'CronJob') return obj(obj(obj(obj(spec.jobTemplate).spec).template));
  return obj(spec.template);
}

interface ContainerSpec { name: string; image?: string; privileged: boolean }

function containersOf(podSpec: Obj): ContainerSpec[] {
  return [...arr(podSpec.containers), ...arr(podSpec.initContainers), ...arr(podSpec.ephemeralContainers)].map(obj).flatMap((c) => {
    const name = str(c.name);
    if (!name) return [];
    const image = str(c.image);
    return [{ name, ...(image ? { image } : {}), privileged: obj(c.securityContext).privileged === true }];
  });
}

/** A workload's owner (controller reference), with a ReplicaSet named `DEPLOY-HASH` folded into its Deployment. */
function controllerOf(meta: Obj): { kind: string; name: string } | undefined {
  const owners = arr(meta.ownerReferences).map(obj);
  const o = owners.find((x) => x.controller === true) ?? owners[0];
  const kind = str(o?.kind);
  const name = str(o?.name);
  return kind && name ? { kind, name } : undefined;
}

/**
 * The Deployment a ReplicaSet belongs to: its name less the pod-template-hash (from the label, or
 * when the object does not carry it, a suffix in the hash's own alphabet: Kubernetes spells it
 * with digits and consonants only, so `web-server` is not taken for a hash).
 */
function deploymentOfReplicaSet(name: string, labels: Record<string, string>): string | undefined {
  const hash = labels['pod-template-hash'];
  if (hash) return name.endsWith(`-${hash}`) ? name.slice(0, -hash.length - 1) : undefined;
  const m = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{6,10}$/.exec(name);
  return m?.[1];
}

/** Adds one object's identities and edges to `delta`. Unknown kinds add nothing. */
export function addKubeObject(delta: GraphDelta, cluster: string, object: KubeObjectLike): void {
  const meta = obj(object.metadata);
  const kind = str(object.kind);
  const name = str(meta.name);
  if (!kind || !name) return;
  const ns = str(meta.namespace);
  const labels = labelsOf(meta.labels);
  const spec = obj(object.spec);
  const node = (n: GraphNode) => delta.nodes.push(n);
  const nsId = ns ? nodeId.namespace(cluster, ns) : undefined;
  if (ns) {
    node({ id: nsId!, kind: 'namespace', cluster, namespace: ns, name: ns, attrs: {} });
    delta.edges.push({ src: nodeId.cluster(cluster), dst: nsId!, kind: 'contains', cluster });
  }
  node({ id: nodeId.cluster(cluster), kind: 'cluster', cluster, name: cluster, attrs: {} });

  if (kind === 'Pod' && ns) {
    addPod(delta, cluster, ns, name, meta, labels, spec, obj(object.status));
    return;
  }
  if (WORKLOAD_KINDS.has(kind) && ns) {
    const id = nodeId.workload(cluster, ns, kind, name);
    const template = podTemplate(kind, spec);
    const templateSpec = obj(template.spec);
    const sa = str(templateSpec.serviceAccountName) ?? str(templateSpec.serviceAccount) ?? 'default';
    node({ id, kind: 'workload', cluster, namespace: ns, name, attrs: {
      workloadKind: kind, labels, podLabels: labelsOf(obj(template.metadata).labels), serviceAccount: sa,
      containers: containersOf(templateSpec),
    } });
    delta.edges.push({ src: id, dst: nodeId.serviceAccount(cluster, ns, sa), kind: 'runs-as', cluster });
    const owner = controllerOf(meta) ?? (kind === 'ReplicaSet' && deploymentOfReplicaSet(name, labels) ? { kind: 'Deployment', name: deploymentOfReplicaSet(name, labels)! } : undefined);
    if (owner) delta.edges.push({ src: nodeId.workload(cluster, ns, owner.kind, owner.name), dst: id, kind: 'owns', cluster });
    else delta.edges.push({ src: nsId!, dst: id, kind: 'contains', cluster });
    return;
  }
  if (kind === 'Service' && ns) {
    const ports = arr(spec.ports).map(obj).map((p) => ({ port: p.port, nodePort: p.nodePort, protocol: p.protocol ?? 'TCP', name: p.name }));
    const ingress = arr(obj(obj(object.status).loadBalancer).ingress).map(obj).map((i) => str(i.ip) ?? str(i.hostname)).filter(Boolean);
    node({ id: nodeId.service(cluster, ns, name), kind: 'service', cluster, namespace: ns, name, attrs: {
      type: str(spec.type) ?? 'ClusterIP', selector: labelsOf(spec.selector), ports, loadBalancer: ingress, labels,
    } });
    delta.edges.push({ src: nsId!, dst: nodeId.service(cluster, ns, name), kind: 'contains', cluster });
    return;
  }
  if (kind === 'Ingress' && ns) {
    const id = nodeId.ingress(cluster, ns, name);
    const hosts = arr(spec.rules).map(obj).map((r) => str(r.host)).filter(Boolean);
    node({ id, kind: 'ingress', cluster, namespace: ns, name, attrs: { hosts, tls: arr(spec.tls).length > 0, ingressClass: str(spec.ingressClassName) } });
    const backends = [obj(spec.defaultBackend), ...arr(spec.rules).flatMap((r) => arr(obj(obj(r).http).paths)).map((p) => obj(obj(p).backend))];
    for (const backend of backends) {
      const service = obj(backend.service);
      const target = str(service.name) ?? str(backend.serviceName);
      if (!target) continue;
      const port = obj(service.port).number ?? obj(service.port).name ?? backend.servicePort;
      delta.edges.push({ src: id, dst: nodeId.service(cluster, ns, target), kind: 'routes', cluster, attrs: { port, hosts } });
    }
    return;
  }
  if (kind === 'ServiceAccount' && ns) {
    node({ id: nodeId.serviceAccount(cluster, ns, name), kind: 'serviceaccount', cluster, namespace: ns, name, attrs: {
      ...(typeof object.automountServiceAccountToken === 'boolean' ? { automountToken: object.automountServiceAccountToken } : {}),
    } });
    delta.edges.push({ src: nsId!, dst: nodeId.serviceAccount(cluster, ns, name), kind: 'contains', cluster });
    return;
  }
  if (kind === 'Role' && ns) {
    node({ id: nodeId.role(cluster, ns, name), kind: 'role', cluster, namespace: ns, name, attrs: { rules: arr(object.rules) } });
    return;
  }
  if (kind === 'ClusterRole') {
    node({ id: nodeId.clusterRole(cluster, name), kind: 'clusterrole', cluster, name, attrs: { rules: arr(object.rules) } });
    return;
  }
  if (kind === 'RoleBinding' || kind === 'ClusterRoleBinding') {
    const id = kind === 'RoleBinding' && ns ? nodeId.roleBinding(cluster, ns, name) : nodeId.clusterRoleBinding(cluster, name);
    const roleRef = obj(object.roleRef);
    const roleName = str(roleRef.name);
    const subjects = arr(object.subjects).map(obj).map((s) => ({ kind: str(s.kind), name: str(s.name), namespace: str(s.namespace) }));
    node({ id, kind: kind === 'RoleBinding' ? 'rolebinding' : 'clusterrolebinding', cluster, ...(ns ? { namespace: ns } : {}), name, attrs: {
      roleRef: { kind: str(roleRef.kind), name: roleName }, subjects,
    } });
    if (roleName) {
      const roleId = roleRef.kind === 'Role' && ns ? nodeId.role(cluster, ns, roleName) : nodeId.clusterRole(cluster, roleName);
      delta.edges.push({ src: id, dst: roleId, kind: 'role-ref', cluster });
    }
    for (const s of subjects) {
      const subjectNs = s.namespace ?? ns;
      if (s.kind === 'ServiceAccount' && s.name && subjectNs) delta.edges.push({ src: id, dst: nodeId.serviceAccount(cluster, subjectNs, s.name), kind: 'subject', cluster });
    }
    return;
  }
  if (kind === 'Node') {
    node({ id: nodeId.node(cluster, name), kind: 'node', cluster, name, attrs: { labels } });
    return;
  }
  if (kind === 'Namespace') node({ id: nodeId.namespace(cluster, name), kind: 'namespace', cluster, namespace: name, name, attrs: { labels } });
}

function addPod(delta: GraphDelta, cluster: string, ns: string, name: string, meta: Obj, labels: Record<string, string>, spec: Obj, status: Obj): void {
  const id = nodeId.pod(cluster, ns, name);
  const uid = str(meta.uid);
  const sa = str(spec.serviceAccountName) ?? str(spec.serviceAccount) ?? 'default';
  const containers = containersOf(spec);
  const nodeName = str(spec.nodeName);
  delta.nodes.push({ id, kind: 'pod', cluster, namespace: ns, name, attrs: {
    labels, serviceAccount: sa, ...(uid ? { uid } : {}), ...(nodeName ? { nodeName } : {}),
    privileged: containers.some((c) => c.privileged), hostNetwork: spec.hostNetwork === true, hostPID: spec.hostPID === true,
    ...(typeof spec.automountServiceAccountToken === 'boolean' ? { automountToken: spec.automountServiceAccountToken } : {}),
  } });
  if (uid) delta.aliases.push({ alias: aliasOf.podUid(cluster, uid), nodeId: id });
  delta.edges.push({ src: id, dst: nodeId.serviceAccount(cluster, ns, sa), kind: 'runs-as', cluster });
  if (nodeName) delta.edges.push({ src: nodeId.node(cluster, nodeName), dst: id, kind: 'hosts', cluster });
  const owner = controllerOf(meta);
  if (owner) {
    const ownerId = nodeId.workload(cluster, ns, owner.kind, owner.name);
    delta.edges.push({ src: ownerId, dst: id, kind: 'owns', cluster });
    const deployment = owner.kind === 'ReplicaSet' ? deploymentOfReplicaSet(owner.name, labels) : undefined;
    if (deployment) delta.edges.push({ src: nodeId.workload(cluster, ns, 'Deployment', deployment), dst: ownerId, kind: 'owns', cluster });
  } else {
    delta.edges.push({ src: nodeId.namespace(cluster, ns), dst: id, kind: 'contains', cluster });
  }
  const statuses = new Map([...arr(status.containerStatuses), ...arr(status.initContainerStatuses), ...arr(status.ephemeralContainerStatuses)]
    .map(obj).map((s) => [str(s.name), s] as const));
  for (const c of containers) {
    const containerId = nodeId.container(cluster, ns, name, c.name);
    const seen = statuses.get(c.name);
    const runtimeId = str(seen?.containerID);
    const digest = digestOf(str(seen?.imageID)) ?? digestOf(c.image);
    delta.nodes.push({ id: containerId, kind: 'container', cluster, namespace: ns, name: `${name}/${c.name}`, attrs: {
      container: c.name, pod: name, ...(c.image ? { image: c.image } : {}), privileged: c.privileged,
      ...(runtimeId ? { runtimeId: bareContainerId(runtimeId) } : {}),
    } });
    delta.edges.push({ src: id, dst: containerId, kind: 'runs', cluster });
    if (runtimeId) delta.aliases.push({ alias: aliasOf.containerId(cluster, bareContainerId(runtimeId)), nodeId: containerId });
    if (digest) {
      delta.nodes.push({ id: nodeId.image(digest), kind: 'image', name: digest, attrs: c.image ? { references: [c.image] } : {} });
      delta.edges.push({ src: containerId, dst: nodeId.image(digest), kind: 'image', cluster, attrs: c.image ? { reference: c.image } : {} });
    }
  }
}

/** Every object of a live cluster listing as one delta. */
export function kubeObjectsDelta(cluster: string, objects: Iterable<KubeObjectLike>): GraphDelta {
  const delta = emptyDelta();
  for (const o of objects) addKubeObject(delta, cluster, o);
  return delta;
}
