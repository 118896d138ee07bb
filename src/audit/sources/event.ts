import { PalisadeError } from '../../core/index.js';
import type { AuditEvent, AuditObjectRef, AuditUser } from '../event.js';

/** The apiVersions the apiserver has written for audit Events; v1alpha1 died with Kubernetes 1.12. */
export const AUDIT_API_VERSIONS = ['audit.k8s.io/v1', 'audit.k8s.io/v1beta1'] as const;

type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bad(code: string, message: string, field: string, hint?: string): PalisadeError {
  return new PalisadeError(code, message, { field, ...(hint ? { hint } : {}) });
}

function str(obj: Json, key: string, field: string, required: boolean): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) {
    if (required) throw bad('audit.missing-field', `audit event has no ${field}`, field);
    return undefined;
  }
  if (typeof value !== 'string') throw bad('audit.bad-field', `audit event ${field} is not a string`, field);
  return value;
}

function strings(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw bad('audit.bad-field', `audit event ${field} is not a list of strings`, field);
  }
  return value as string[];
}

function user(value: unknown, field: string): AuditUser {
  if (!isObject(value)) throw bad('audit.missing-field', `audit event has no ${field}`, field);
  const username = str(value, 'username', `${field}.username`, false) ?? '';
  const out: AuditUser = { username, groups: strings(value.groups, `${field}.groups`) };
  const uid = str(value, 'uid', `${field}.uid`, false);
  if (uid !== undefined) out.uid = uid;
  if (isObject(value.extra)) out.extra = value.extra as Record<string, string[]>;
  return out;
}

function objectRef(value: unknown): AuditObjectRef | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw bad('audit.bad-field', 'audit event objectRef is not an object', 'objectRef');
  const out: AuditObjectRef = {};
  for (const key of ['resource', 'namespace', 'name', 'uid', 'apiGroup', 'apiVersion', 'resourceVersion', 'subresource'] as const) {
    const v = value[key];
    if (typeof v === 'string') out[key] = v;
  }
  return out;
}

/**
 * Validates one `audit.k8s.io` Event object and returns it as a v1 AuditEvent.
 * v1beta1 events (Kubernetes < 1.12 logs, like the audit2rbac sample) carry `timestamp` instead of
 * `requestReceivedTimestamp`/`stageTimestamp`; both are accepted.
 */
export function normalizeEvent(value: unknown, cluster?: string): AuditEvent {
  if (!isObject(value)) throw bad('audit.not-an-event', 'audit event is not a JSON object', 'kind');
  // Collectors may drop kind and apiVersion (EventList items inherit the list's); a record that
  // names another kind or API is not an audit event, and the error says which field showed it.
  if (value.kind !== undefined && value.kind !== 'Event') {
    throw bad('audit.not-an-event', `expected kind Event, got ${JSON.stringify(value.kind)}`, 'kind');
  }
  const apiVersion = value.apiVersion;
  if (apiVersion !== undefined && !AUDIT_API_VERSIONS.includes(apiVersion as (typeof AUDIT_API_VERSIONS)[number])) {
    throw bad('audit.api-version', `unsupported audit apiVersion ${JSON.stringify(apiVersion)}`, 'apiVersion',
      `expected one of ${AUDIT_API_VERSIONS.join(', ')}`);
  }
  const verb = str(value, 'verb', 'verb', true)!;
  const received = str(value, 'requestReceivedTimestamp', 'requestReceivedTimestamp', false)
    ?? str(value, 'timestamp', 'timestamp', false)
    ?? (isObject(value.metadata) && typeof value.metadata.creationTimestamp === 'string' ? value.metadata.creationTimestamp : undefined)
    ?? str(value, 'stageTimestamp', 'stageTimestamp', false);
  if (!received) throw bad('audit.missing-field', 'audit event has no requestReceivedTimestamp', 'requestReceivedTimestamp');
  if (Number.isNaN(Date.parse(received))) throw bad('audit.bad-field', `audit event timestamp ${received} is not a date`, 'requestReceivedTimestamp');
  const event: AuditEvent = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: str(value, 'level', 'level', false) ?? 'Metadata',
    auditID: str(value, 'auditID', 'auditID', true)!,
    stage: str(value, 'stage', 'stage', false) ?? 'ResponseComplete',
    requestURI: str(value, 'requestURI', 'requestURI', false) ?? '',
    verb,
    user: user(value.user, 'user'),
    sourceIPs: strings(value.sourceIPs, 'sourceIPs'),
    requestReceivedTimestamp: received,
    stageTimestamp: str(value, 'stageTimestamp', 'stageTimestamp', false) ?? received,
    annotations: isObject(value.annotations) ? (value.annotations as Record<string, string>) : {},
  };
  if (value.impersonatedUser !== undefined && value.impersonatedUser !== null) event.impersonatedUser = user(value.impersonatedUser, 'impersonatedUser');
  const agent = str(value, 'userAgent', 'userAgent', false);
  if (agent !== undefined) event.userAgent = agent;
  const ref = objectRef(value.objectRef);
  if (ref) event.objectRef = ref;
  if (isObject(value.responseStatus)) event.responseStatus = value.responseStatus;
  if (value.requestObject !== undefined) event.requestObject = value.requestObject;
  if (value.responseObject !== undefined) event.responseObject = value.responseObject;
  if (cluster !== undefined) event.cluster = cluster;
  else if (typeof value.cluster === 'string') event.cluster = value.cluster;
  return event;
}
