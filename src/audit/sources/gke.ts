import { PalisadeError } from '../../core/index.js';
import type { AuditEvent, AuditObjectRef } from '../event.js';
import { isObject } from './event.js';

/**
 * GKE writes Kubernetes audit events to Cloud Logging as `LogEntry`s whose `protoPayload` is a
 * `google.cloud.audit.AuditLog`. We rebuild the apiserver Event from it:
 * - `resourceName` (`core/v1/namespaces/default/pods/web/exec`) gives group, version, namespace,
 *   resource, name and subresource; a name without a version (`readyz`, `HNAP1`) is a non-resource path.
 * - the last segment of `methodName` (`io.k8s.core.v1.pods.exec.create`) is the verb.
 * - `status.code` is a google.rpc code; it is mapped back to the HTTP status the apiserver answered.
 * GKE does not export the user's groups, so `user.groups` is empty for these events.
 */
const RPC_TO_HTTP: Record<number, number> = {
  0: 200, 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401,
};

const VERSION = /^v\d+((alpha|beta)\d+)?$/;

export function isGkeEntry(value: Record<string, unknown>): boolean {
  return isObject(value.protoPayload);
}

function objectRefFrom(resourceName: string): AuditObjectRef | undefined {
  const parts = resourceName.split('/');
  if (parts.length < 3 || !VERSION.test(parts[1] ?? '')) return undefined;
  const group = parts[0] === 'core' ? '' : parts[0]!;
  let rest = parts.slice(2);
  const ref: AuditObjectRef = { apiGroup: group, apiVersion: parts[1]! };
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    ref.namespace = rest[1]!;
    rest = rest.slice(2);
  }
  if (rest[0]) ref.resource = rest[0];
  if (rest[1]) ref.name = rest[1];
  if (rest[2]) ref.subresource = rest[2];
  if (ref.resource === 'namespaces' && ref.name) ref.namespace = ref.name;
  return ref;
}

function requestURI(ref: AuditObjectRef | undefined, resourceName: string): string {
  if (!ref) return '/' + resourceName.replace(/^\/+/, '');
  const base = ref.apiGroup ? `/apis/${ref.apiGroup}/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
  const ns = ref.namespace && ref.resource !== 'namespaces' ? `/namespaces/${ref.namespace}` : '';
  return [base + ns, ref.resource, ref.name, ref.subresource].filter(Boolean).join('/');
}

export function gkeEntryToEvent(entry: Record<string, unknown>, cluster?: string): AuditEvent {
  const payload = entry.protoPayload as Record<string, unknown>;
  if (payload.serviceName !== undefined && payload.serviceName !== 'k8s.io') {
    throw new PalisadeError('audit.not-kubernetes', `GKE log entry is for ${String(payload.serviceName)}, not k8s.io`, { field: 'protoPayload.serviceName' });
  }
  const method = payload.methodName;
  if (typeof method !== 'string' || !method.startsWith('io.k8s.')) {
    throw new PalisadeError('audit.missing-field', 'GKE log entry has no io.k8s methodName', { field: 'protoPayload.methodName' });
  }
  const timestamp = typeof entry.timestamp === 'string' ? entry.timestamp : undefined;
  if (!timestamp || Number.isNaN(Date.parse(timestamp))) {
    throw new PalisadeError('audit.missing-field', 'GKE log entry has no timestamp', { field: 'timestamp' });
  }
  const resourceName = typeof payload.resourceName === 'string' ? payload.resourceName : '';
  const ref = objectRefFrom(resourceName);
  const auth = isObject(payload.authenticationInfo) ? payload.authenticationInfo : {};
  const meta = isObject(payload.requestMetadata) ? payload.requestMetadata : {};
  const status = isObject(payload.status) ? payload.status : {};
  const rpc = typeof status.code === 'number' ? status.code : 0;
  const operation = isObject(entry.operation) ? entry.operation : {};
  const labels = isObject(entry.labels) ? (entry.labels as Record<string, string>) : {};
  const resource = isObject(entry.resource) && isObject(entry.resource.labels) ? entry.resource.labels : {};
  const event: AuditEvent = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: payload.request !== undefined || payload.response !== undefined ? 'RequestResponse' : 'Metadata',
    auditID: String(entry.insertId ?? operation.id ?? ''),
    stage: 'ResponseComplete',
    requestURI: requestURI(ref, resourceName),
    verb: method.slice(method.lastIndexOf('.') + 1),
    user: { username: typeof auth.principalEmail === 'string' ? auth.principalEmail : '', groups: [] },
    sourceIPs: typeof meta.callerIp === 'string' ? [meta.callerIp] : [],
    responseStatus: { code: RPC_TO_HTTP[rpc] ?? 500, ...(typeof status.message === 'string' ? { message: status.message } : {}) },
    requestReceivedTimestamp: timestamp,
    stageTimestamp: timestamp,
    annotations: { ...labels },
  };
  if (typeof meta.callerSuppliedUserAgent === 'string') event.userAgent = meta.callerSuppliedUserAgent;
  if (ref) event.objectRef = ref;
  if (payload.request !== undefined) event.requestObject = payload.request;
  if (payload.response !== undefined) event.responseObject = payload.response;
  const name = cluster ?? (typeof resource.cluster_name === 'string' ? resource.cluster_name : undefined);
  if (name !== undefined) event.cluster = name;
  return event;
}
