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

type Meta = { name?: unknown; generateName?: unknown; ownerReferences?: unknown };

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
  const generate = metadata(event.requestObject)?.generateName;
  return typeof generate === 'string' ? generate : undefined;
}

export function alertResource(event: AuditEvent, defaultCluster: string): ResourceRef {
  const cluster = event.cluster ?? defaultCluster;
  const ref = event.objectRef;
  const namespace = ref?.namespace;
  const resource = ref?.resource ?? '';
  const name = objectName(event);
  if (namespace && name && resource === 'pods') {
    const owners = metadata(event.requestObject)?.ownerReferences;
    const owner = Array.isArray(owners) ? (owners.find((o) => o?.controller) ?? owners[0]) as { kind?: unknown; name?: unknown } | undefined : undefined;
    if (owner && typeof owner.kind === 'string' && typeof owner.name === 'string') {
      const kind = owner.kind.toLowerCase();
      return { kind: 'workload', id: `${cluster}/${namespace}/${kind}/${owner.name}`, name: owner.name, cluster, namespace };
    }
    return { kind: 'pod', id: `${cluster}/${namespace}/pod/${name}`, name, cluster, namespace };
  }
  const workload = WORKLOADS[resource];
  if (namespace && name && workload) {
    return { kind: 'workload', id: `${cluster}/${namespace}/${workload}/${name}`, name, cluster, namespace };
  }
  if (namespace) return { kind: 'namespace', id: `${cluster}/${namespace}`, name: namespace, cluster, namespace };
  return { kind: 'cluster', id: cluster, name: cluster, cluster };
}
