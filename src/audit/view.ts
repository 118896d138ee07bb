import type { EventSchema } from '../rules/index.js';
import type { AuditEvent } from './event.js';

/**
 * Derived views rules can name as path roots, computed from the event only when a rule asks:
 * - `podSpec`: the pod spec inside the request object of a Pod, a workload template
 *   (Deployment, DaemonSet, StatefulSet, ReplicaSet, Job, ReplicationController) or a CronJob.
 * - `containers`: every container of that spec (containers, initContainers, ephemeralContainers).
 * - `serviceAccount`: `{ namespace, name }` when the requester is a service account.
 */
type Json = Record<string, unknown>;

function obj(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

export function podSpecOf(event: AuditEvent): Json | undefined {
  const body = obj(event.requestObject);
  const spec = obj(body?.spec);
  if (!spec) return undefined;
  if (Array.isArray(spec.containers) || Array.isArray(spec.ephemeralContainers)) return spec;
  const template = obj(obj(spec.template)?.spec);
  if (template) return template;
  return obj(obj(obj(obj(spec.jobTemplate)?.spec)?.template)?.spec);
}

const NO_CONTAINERS: unknown[] = [];

export function containersOf(event: AuditEvent): unknown[] {
  const spec = podSpecOf(event);
  if (!spec) return NO_CONTAINERS;
  const out: unknown[] = [];
  for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
    const list = spec[key];
    if (Array.isArray(list)) out.push(...list);
  }
  return out;
}

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

export function serviceAccountOf(event: AuditEvent): ServiceAccountRef | undefined {
  const name = event.user.username;
  if (!name.startsWith('system:serviceaccount:')) return undefined;
  const [, , namespace, account] = name.split(':');
  return namespace && account ? { namespace, name: account } : undefined;
}

/**
 * The registry an image reference pulls from, as the container runtime resolves it: the first
 * path component when it names a host (a dot, a port or localhost), else Docker Hub.
 */
export function imageRegistry(image: string): string {
  const slash = image.indexOf('/');
  if (slash === -1) return 'docker.io';
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first.toLowerCase() : 'docker.io';
}

/** The distinct registries of a pod spec's images (`imageRegistries[]`). */
export function imageRegistriesOf(event: AuditEvent): string[] {
  const out = new Set<string>();
  for (const c of containersOf(event)) {
    const image = (c as { image?: unknown }).image;
    if (typeof image === 'string') out.add(imageRegistry(image));
  }
  return [...out];
}

export const VIEW_ROOTS: Record<string, (event: AuditEvent) => unknown> = {
  podSpec: podSpecOf,
  containers: containersOf,
  serviceAccount: serviceAccountOf,
  imageRegistries: imageRegistriesOf,
};

/** The audit event's shape for the rule kernel: shorthands, derived roots, the fields a path may start from, CEL variables. */
export const AUDIT_SCHEMA: EventSchema<AuditEvent> = {
  code: 'audit',
  aliases: {
    verb: 'verb',
    resource: 'objectRef.resource',
    subresource: 'objectRef.subresource',
    apiGroup: 'objectRef.apiGroup',
    namespace: 'objectRef.namespace',
    name: 'objectRef.name',
    username: 'user.username',
  },
  views: VIEW_ROOTS,
  roots: new Set(['kind', 'apiVersion', 'level', 'auditID', 'stage', 'requestURI', 'verb', 'user', 'impersonatedUser', 'sourceIPs', 'userAgent',
    'objectRef', 'responseStatus', 'requestObject', 'responseObject', 'requestReceivedTimestamp', 'stageTimestamp', 'annotations', 'cluster']),
  cel: (event) => ({
    event,
    podSpec: podSpecOf(event) ?? null,
    containers: containersOf(event),
    serviceAccount: serviceAccountOf(event) ?? null,
  }),
};
