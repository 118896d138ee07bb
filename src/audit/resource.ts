import type { ResourceRef } from '../core/index.js';
import type { AuditEvent } from './event.js';

/**
 * What an audit alert is about: the workload (or pod) an event touched, else its namespace, else
 * the cluster. Pods created by a controller are attributed to their owner, so the alerts of every
 * replica of a Deployment land on one resource and dedupe into one alert.
 */
const WORKLOADS: Record<string, string> = {
  deployments: 'deployment',
  daemonsets: 'daemonset',
  statefulsets: 'statefulset',
  replicasets: 'replicaset',
  jobs: 'job',
  cronjobs: 'cronjob',
  replicationcontrollers: 'replicationcontroller',
};

type Meta = { name?: unknown; generateName?: unknown; ownerReferences?: unknown; labels?: unknown };

function metadata(value: unknown): Meta | undefined {
  const m = (value as { metadata?: unknown } | undefined)?.metadata;
  return typeof m === 'object' && m !== null ? (m as Meta) : undefined;
}

function objectName(event: AuditEvent): string | undefined {
  if (event.objectRef?.name) return event.objectRef.name;
  for (const body of [event.responseObject, event.requestObject]) {
    const m = metadata(body);
    if (typeof m?.name === 'string') return m.name;
  }
  const generate = metadata(event.requestObject)?.generateName ?? metadata(event.responseObject)?.generateName;
  return typeof generate === 'string' ? generate : undefined;
}

/** The controller each built-in controller's service account makes objects for. */
const CONTROLLER_KINDS: Record<string, string> = {
  'system:serviceaccount:kube-system:replicaset-controller': 'replicaset',
  'system:serviceaccount:kube-system:deployment-controller': 'deployment',
  'system:serviceaccount:kube-system:job-controller': 'job',
  'system:serviceaccount:kube-system:cronjob-controller': 'cronjob',
  'system:serviceaccount:kube-system:daemon-set-controller': 'daemonset',
  'system:serviceaccount:kube-system:statefulset-controller': 'statefulset',
  'system:serviceaccount:kube-system:replication-controller': 'replicationcontroller',
};

/**
 * Who made this object: its controller owner reference, else (an event that kept no owner
 * references, or a Metadata-level one) the name its generateName was derived from, with the kind
 * the requesting controller makes. A ReplicaSet owner whose name ends in the pod's
 * pod-template-hash is a Deployment's: the pods of every rollout fold into the Deployment.
 */
export function ownerOf(event: AuditEvent): { kind: string; name: string } | undefined {
  const meta = metadata(event.requestObject) ?? metadata(event.responseObject);
  if (!meta) return undefined;
  const owners = meta.ownerReferences;
  let owner: { kind: string; name: string } | undefined;
  if (Array.isArray(owners) && owners.length > 0) {
    const o = (owners.find((x) => (x as { controller?: unknown })?.controller === true) ?? owners[0]) as { kind?: unknown; name?: unknown };
    if (typeof o?.kind === 'string' && typeof o.name === 'string') owner = { kind: o.kind.toLowerCase(), name: o.name };
  } else if (typeof meta.generateName === 'string' && meta.generateName.length > 1 && !event.objectRef?.name) {
    const kind = CONTROLLER_KINDS[event.user.username];
    if (kind) owner = { kind, name: meta.generateName.replace(/-$/, '') };
  }
  if (!owner) return undefined;
  const hash = (meta.labels as Record<string, unknown> | undefined)?.['pod-template-hash'];
  if (owner.kind === 'replicaset' && typeof hash === 'string' && owner.name.endsWith(`-${hash}`)) {
    return { kind: 'deployment', name: owner.name.slice(0, -hash.length - 1) };
  }
  return owner;
}

export function alertResource(event: AuditEvent, defaultCluster: string): ResourceRef {
  const cluster = event.cluster ?? defaultCluster;
  const ref = event.objectRef;
  const namespace = ref?.namespace;
  const resource = ref?.resource ?? '';
  const workload = WORKLOADS[resource];
  if (namespace && (resource === 'pods' || workload) && !ref?.subresource) {
    // Made by a controller: the alert belongs to the owner, so 50 replicas are one alert.
    const owner = ownerOf(event);
    if (owner) return { kind: 'workload', id: `${cluster}/${namespace}/${owner.kind}/${owner.name}`, name: owner.name, cluster, namespace };
  }
  const name = objectName(event);
  if (namespace && name && resource === 'pods') {
    return { kind: 'pod', id: `${cluster}/${namespace}/pod/${name}`, name, cluster, namespace };
  }
  if (namespace && name && workload) {
    return { kind: 'workload', id: `${cluster}/${namespace}/${workload}/${name}`, name, cluster, namespace };
  }
  if (namespace) return { kind: 'namespace', id: `${cluster}/${namespace}`, name: namespace, cluster, namespace };
  return { kind: 'cluster', id: cluster, name: cluster, cluster };
}
