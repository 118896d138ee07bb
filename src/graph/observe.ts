/**
 * Alerts as graph observations: what the center's intake records already carries the objects and
 * containers it concerns, so the graph learns from it without another pass over the input.
 * - audit: the events kept as evidence (pods, workloads, services, ingresses, RBAC objects in
 *   requestObject / responseObject; deletes remove the identity),
 * - agent: the container the agent resolved through the kubelet or CRI (pod, namespace, pod uid,
 *   container name, image), and the node,
 * - registry: the image digest.
 */
import { addKubeObject, type KubeObjectLike } from './kube.js';
import { aliasOf, digestOf, nodeId } from './ids.js';
import { emptyDelta, type GraphDelta } from './schema.js';

/** The part of a detected threat the graph reads (the center's DetectedThreat fits). */
export interface ObservedThreat {
  source: string;
  resource: { kind: string; id: string; name: string; cluster?: string; namespace?: string };
  evidence: unknown[];
}

const KINDS: Record<string, string> = {
  pods: 'Pod', deployments: 'Deployment', replicasets: 'ReplicaSet', statefulsets: 'StatefulSet', daemonsets: 'DaemonSet',
  jobs: 'Job', cronjobs: 'CronJob', replicationcontrollers: 'ReplicationController', services: 'Service', ingresses: 'Ingress',
  serviceaccounts: 'ServiceAccount', roles: 'Role', clusterroles: 'ClusterRole', rolebindings: 'RoleBinding',
  clusterrolebindings: 'ClusterRoleBinding', nodes: 'Node', namespaces: 'Namespace',
};

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** The identity a deleted object had (only kinds whose id needs no more than kind, namespace and name). */
function removedId(cluster: string, resource: string, ns: string | undefined, name: string): string | undefined {
  switch (resource) {
    case 'pods': return ns ? nodeId.pod(cluster, ns, name) : undefined;
    case 'services': return ns ? nodeId.service(cluster, ns, name) : undefined;
    case 'ingresses': return ns ? nodeId.ingress(cluster, ns, name) : undefined;
    case 'rolebindings': return ns ? nodeId.roleBinding(cluster, ns, name) : undefined;
    case 'clusterrolebindings': return nodeId.clusterRoleBinding(cluster, name);
    case 'roles': return ns ? nodeId.role(cluster, ns, name) : undefined;
    case 'clusterroles': return nodeId.clusterRole(cluster, name);
    default: return KINDS[resource] && ns && !['serviceaccounts', 'nodes', 'namespaces'].includes(resource) ? nodeId.workload(cluster, ns, KINDS[resource]!, name) : undefined;
  }
}

/** One audit event's object, if it is one the graph keeps. */
export function addAuditEvent(delta: GraphDelta, cluster: string, event: unknown): void {
  const e = obj(event);
  const ref = obj(e.objectRef);
  const resource = str(ref.resource);
  if (!resource || !KINDS[resource] || str(ref.subresource)) return;
  const code = obj(e.responseStatus).code;
  if (typeof code === 'number' && code >= 400) return;
  const verb = str(e.verb);
  const ns = str(ref.namespace);
  if (verb === 'delete') {
    const name = str(ref.name);
    const id = name ? removedId(cluster, resource, ns, name) : undefined;
    if (id) delta.removed.push(id);
    return;
  }
  if (verb !== 'create' && verb !== 'update' && verb !== 'patch') return;
  // The response is the stored object (name from generateName, uid, defaults); the request is what the user sent.
  const response = obj(e.responseObject);
  const request = obj(e.requestObject);
  const body = obj(response.metadata).name ? response : request;
  const meta = { ...obj(body.metadata) };
  meta.name ??= str(ref.name);
  meta.namespace ??= ns;
  if (!str(meta.name)) return;
  addKubeObject(delta, cluster, { ...(body as KubeObjectLike), kind: KINDS[resource], metadata: meta });
}

/** One agent evidence item: the container as the agent resolved it. */
export function addAgentEvidence(delta: GraphDelta, cluster: string, evidence: unknown): void {
  const ev = obj(evidence);
  const container = obj(ev.container);
  const runtimeId = str(container.id);
  const pod = str(container.pod);
  const ns = str(container.namespace);
  const nodeName = str(ev.node);
  if (nodeName) delta.nodes.push({ id: nodeId.node(cluster, nodeName), kind: 'node', cluster, name: nodeName, attrs: {} });
  if (!runtimeId || !pod || !ns) return;
  const name = str(container.name) ?? runtimeId.slice(0, 12);
  const podId = nodeId.pod(cluster, ns, pod);
  const containerId = nodeId.container(cluster, ns, pod, name);
  const podUid = str(container.podUid);
  const image = str(container.image);
  delta.nodes.push({ id: podId, kind: 'pod', cluster, namespace: ns, name: pod, attrs: { ...(podUid ? { uid: podUid } : {}), ...(nodeName ? { nodeName } : {}) } });
  delta.nodes.push({ id: containerId, kind: 'container', cluster, namespace: ns, name: `${pod}/${name}`, attrs: { container: name, pod, runtimeId, ...(image ? { image } : {}) } });
  delta.edges.push({ src: podId, dst: containerId, kind: 'runs', cluster });
  if (nodeName) delta.edges.push({ src: nodeId.node(cluster, nodeName), dst: podId, kind: 'hosts', cluster });
  delta.aliases.push({ alias: aliasOf.containerId(cluster, runtimeId), nodeId: containerId });
  if (podUid) delta.aliases.push({ alias: aliasOf.podUid(cluster, podUid), nodeId: podId });
  const digest = digestOf(image);
  if (digest) {
    delta.nodes.push({ id: nodeId.image(digest), kind: 'image', name: digest, attrs: { references: [image] } });
    delta.edges.push({ src: containerId, dst: nodeId.image(digest), kind: 'image', cluster, attrs: { reference: image } });
  }
}

/** What the graph learns from threats as the intake records them. */
export function threatsDelta(threats: readonly ObservedThreat[]): GraphDelta {
  const delta = emptyDelta();
  for (const t of threats) {
    const cluster = t.resource.cluster;
    if (t.source === 'registry' || t.resource.kind === 'image') {
      const digest = digestOf(t.resource.id);
      if (digest) delta.nodes.push({ id: nodeId.image(digest), kind: 'image', name: digest, attrs: { registryImages: [t.resource.id.slice(0, t.resource.id.lastIndexOf('@'))] } });
      continue;
    }
    if (!cluster) continue;
    for (const e of t.evidence) {
      if (t.source === 'audit') addAuditEvent(delta, cluster, e);
      else if (t.source === 'agent') addAgentEvidence(delta, cluster, e);
    }
  }
  return delta;
}
