import type { Container, KubeObject, ObjectMeta, PodSpec } from './types.js';

/**
 * A pod as a policy sees it: the pod's (or pod template's) metadata and spec, and where that spec
 * sits inside the manifest, so every message can name the exact field to fix.
 */
export interface PodView {
  metadata: ObjectMeta;
  spec: PodSpec;
  /** Path of the pod spec in the manifest: `spec`, `spec.template.spec`, `spec.jobTemplate.spec.template.spec`. */
  specPath: string;
  /** Path of the pod metadata: `metadata`, `spec.template.metadata`, ... */
  metadataPath: string;
}

/** The kinds whose pod template is checked as a pod (issue 8). */
export const POD_TEMPLATE_KINDS = new Set([
  'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob', 'PodTemplate',
]);

function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The pod inside any workload kind, or undefined for kinds that carry no pod. */
export function podOf(object: KubeObject): PodView | undefined {
  const kind = object.kind;
  if (kind === 'Pod') {
    return { metadata: object.metadata ?? {}, spec: (asObject(object.spec) ?? {}) as PodSpec, specPath: 'spec', metadataPath: 'metadata' };
  }
  if (kind === 'CronJob') {
    const jobTemplate = asObject(asObject(object.spec)?.jobTemplate);
    const template = asObject(asObject(jobTemplate?.spec)?.template);
    if (!template) return undefined;
    return {
      metadata: (asObject(template.metadata) ?? {}) as ObjectMeta,
      spec: (asObject(template.spec) ?? {}) as PodSpec,
      specPath: 'spec.jobTemplate.spec.template.spec',
      metadataPath: 'spec.jobTemplate.spec.template.metadata',
    };
  }
  if (kind === 'PodTemplate') {
    const template = asObject(object.template);
    if (!template) return undefined;
    return {
      metadata: (asObject(template.metadata) ?? {}) as ObjectMeta,
      spec: (asObject(template.spec) ?? {}) as PodSpec,
      specPath: 'template.spec',
      metadataPath: 'template.metadata',
    };
  }
  if (kind && POD_TEMPLATE_KINDS.has(kind)) {
    const template = asObject(asObject(object.spec)?.template);
    if (!template) return undefined;
    return {
      metadata: (asObject(template.metadata) ?? {}) as ObjectMeta,
      spec: (asObject(template.spec) ?? {}) as PodSpec,
      specPath: 'spec.template.spec',
      metadataPath: 'spec.template.metadata',
    };
  }
  return undefined;
}

export interface ContainerRef {
  container: Container;
  /** Which list the container is in. */
  list: 'containers' | 'initContainers' | 'ephemeralContainers';
  /** `spec.template.spec.containers[0]` */
  path: string;
  name: string;
}

const LISTS = ['containers', 'initContainers', 'ephemeralContainers'] as const;

/** Most policies walk the containers of the same pod: list them once per pod view. */
const containerCache = new WeakMap<PodView, ContainerRef[]>();

/** Every container of a pod, init and ephemeral ones included, as PSA's visitContainers does. */
export function containersOf(pod: PodView): ContainerRef[] {
  const cached = containerCache.get(pod);
  if (cached) return cached;
  const out: ContainerRef[] = [];
  for (const list of LISTS) {
    const items = pod.spec[list];
    if (!Array.isArray(items)) continue;
    items.forEach((container, i) => {
      if (!container || typeof container !== 'object') return;
      out.push({ container, list, path: `${pod.specPath}.${list}[${i}]`, name: typeof container.name === 'string' ? container.name : `#${i}` });
    });
  }
  containerCache.set(pod, out);
  return out;
}
