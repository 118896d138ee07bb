/**
 * Workload posture: each enabled policy evaluated over every resource of a cluster becomes a
 * recommendation with healthy, unhealthy and not-applicable resources (Defender's model).
 */
import type { Recommendation, ResourceKind, ResourceRef } from '../core/index.js';
import { assessObject, type EvaluateOptions, type PolicySet } from './engine.js';
import type { KubeObject } from './kube/types.js';

/** A recommendation and the secure-score control it counts toward. */
export interface PolicyRecommendation extends Recommendation {
  control: string;
  /** Why each unhealthy resource is unhealthy (first messages), keyed by ResourceRef.id. */
  reasons?: Record<string, string[]>;
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob']);

function refKind(kind: string): ResourceKind {
  if (kind === 'Pod') return 'pod';
  if (kind === 'Namespace') return 'namespace';
  if (kind === 'Node') return 'node';
  if (WORKLOAD_KINDS.has(kind)) return 'workload';
  // Services, service accounts, RBAC objects: Palisade files them under the workload kind with the API kind in the id.
  return 'workload';
}

/** `prod/shop/deployment/web`: stable across scans, unique per cluster. */
export function resourceRef(object: KubeObject, cluster?: string): ResourceRef {
  const kind = String(object.kind ?? 'Unknown');
  const name = String(object.metadata?.name ?? '');
  const namespace = object.metadata?.namespace;
  const ref: ResourceRef = {
    kind: refKind(kind),
    id: [cluster ?? '-', namespace ?? '-', kind.toLowerCase(), name].join('/'),
    name,
  };
  if (cluster) ref.cluster = cluster;
  if (namespace) ref.namespace = namespace;
  return ref;
}

/**
 * Pod-owned objects (ReplicaSets of a Deployment, Jobs of a CronJob, Pods of anything) are
 * assessed through their owner, as Defender does, so one bad Deployment is one unhealthy resource.
 */
export function isOwned(object: KubeObject): boolean {
  const owners = (object.metadata as { ownerReferences?: { controller?: boolean }[] } | undefined)?.ownerReferences;
  return Array.isArray(owners) && owners.some((o) => o?.controller === true);
}

export function assessPosture(set: PolicySet, objects: Iterable<KubeObject>, options: EvaluateOptions & { cluster?: string; includeOwned?: boolean } = {}): PolicyRecommendation[] {
  const recs = new Map<string, PolicyRecommendation>();
  for (const p of set.policies) {
    if (p.effect === 'disabled') continue;
    const d = p.definition;
    recs.set(d.id, { policy: d.id, title: d.title, severity: d.severity, remediation: d.remediation, control: d.control, healthy: [], unhealthy: [], notApplicable: [], reasons: {} });
  }
  for (const object of objects) {
    if (!options.includeOwned && isOwned(object)) continue;
    const ref = resourceRef(object, options.cluster);
    for (const a of assessObject(set, object, options)) {
      const rec = recs.get(a.policy.definition.id);
      if (!rec) continue;
      if (a.status === 'healthy') rec.healthy.push(ref);
      else if (a.status === 'notApplicable') rec.notApplicable.push(ref);
      else {
        rec.unhealthy.push(ref);
        rec.reasons![ref.id] = a.violations.slice(0, 5).map((v) => v.message);
      }
    }
  }
  return [...recs.values()];
}
