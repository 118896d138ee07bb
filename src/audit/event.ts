/**
 * The one normalized audit event every source produces: the `audit.k8s.io/v1` Event as the
 * kube-apiserver writes it (log and webhook backends), plus the cluster it came from.
 * Older `v1beta1` events and cloud exports (AKS, EKS, GKE) are rebuilt into this shape, so rules
 * are written once against the Kubernetes schema users already know.
 */
export interface AuditUser {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export interface AuditObjectRef {
  resource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiGroup?: string;
  apiVersion?: string;
  resourceVersion?: string;
  subresource?: string;
}

export interface AuditResponseStatus {
  code?: number;
  status?: string;
  reason?: string;
  message?: string;
  [key: string]: unknown;
}

export interface AuditEvent {
  kind: 'Event';
  apiVersion: 'audit.k8s.io/v1';
  level: string;
  auditID: string;
  stage: string;
  requestURI: string;
  verb: string;
  user: AuditUser;
  impersonatedUser?: AuditUser;
  sourceIPs: string[];
  userAgent?: string;
  objectRef?: AuditObjectRef;
  responseStatus?: AuditResponseStatus;
  requestObject?: unknown;
  responseObject?: unknown;
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  annotations: Record<string, string>;
  /** Cluster the event came from: the webhook token's cluster, the cloud resource, or a CLI option. */
  cluster?: string;
}

/** Bad input, reported with where it was found; the valid events beside it are still processed. */
export interface AuditInputError {
  code: string;
  message: string;
  file?: string;
  /** 1-based line in a JSON-lines file. */
  line?: number;
  /** Index of the event inside a batch (EventList items, array, AKS records). */
  index?: number;
  field?: string;
}

/** Milliseconds since the epoch of when the apiserver received the request. */
export function eventTime(event: AuditEvent): number {
  const t = Date.parse(event.requestReceivedTimestamp);
  return Number.isNaN(t) ? 0 : t;
}
