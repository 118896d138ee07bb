/**
 * Validating admission: AdmissionReview v1 in, AdmissionReview v1 out. Pure: the HTTP route
 * parses JSON, calls `reviewAdmission`, records what `record` says to record, and replies.
 */
import { PalisadeError } from '../core/index.js';
import { evaluateObject, evaluateUpdate, type EvaluateOptions, type PolicySet } from './engine.js';
import type { KubeObject } from './kube/types.js';
import type { PolicyResult } from './model.js';

export interface GroupVersionKind { group: string; version: string; kind: string }
export interface GroupVersionResource { group: string; version: string; resource: string }

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** k8s.io/api/admission/v1 AdmissionRequest (the fields Palisade reads). */
export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  name?: string;
  namespace?: string;
  operation: AdmissionOperation;
  userInfo?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  dryRun?: boolean;
  options?: unknown;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  warnings?: string[];
  /** Recorded by the API server in the request's audit event as `<webhook name>/<key>`. */
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

export interface AdmissionOutcome {
  /** What to send back to the API server. */
  review: AdmissionReview & { response: AdmissionResponse };
  /** Every violation found (deny and audit). */
  results: PolicyResult[];
  /** False for dryRun requests: evaluated, answered, never recorded. */
  record: boolean;
  request: AdmissionRequest;
}

/** The API server shows warnings to kubectl users; it truncates long ones, and too many is noise. */
const MAX_WARNINGS = 32;
const MAX_WARNING_LENGTH = 256;
/** A denial message is shown whole; keep it readable. */
const MAX_MESSAGE_LENGTH = 4096;

/** Subresources whose body is the parent object's pod spec; other subresources (status, scale, ...) are not policy-relevant. */
const CHECKED_SUBRESOURCES = new Set(['ephemeralcontainers']);

function invalid(message: string, field: string): PalisadeError {
  return new PalisadeError('admission.invalid_review', message, { field, hint: 'send an admission.k8s.io/v1 AdmissionReview with a request' });
}

/** Validates the envelope: Kubernetes sends exactly this shape, anything else is a caller error. */
export function parseAdmissionReview(body: unknown): AdmissionReview & { request: AdmissionRequest } {
  if (!body || typeof body !== 'object') throw invalid('body must be an AdmissionReview object', 'body');
  const review = body as Partial<AdmissionReview>;
  if (review.kind !== 'AdmissionReview') throw invalid(`kind must be AdmissionReview, got ${JSON.stringify(review.kind)}`, 'kind');
  if (review.apiVersion !== 'admission.k8s.io/v1' && review.apiVersion !== 'admission.k8s.io/v1beta1') {
    throw invalid(`apiVersion must be admission.k8s.io/v1, got ${JSON.stringify(review.apiVersion)}`, 'apiVersion');
  }
  const request = review.request;
  if (!request || typeof request !== 'object') throw invalid('request is missing', 'request');
  if (typeof request.uid !== 'string' || request.uid === '') throw invalid('request.uid is missing', 'request.uid');
  if (!['CREATE', 'UPDATE', 'DELETE', 'CONNECT'].includes(request.operation)) throw invalid(`request.operation ${JSON.stringify(request.operation)} is not CREATE, UPDATE, DELETE or CONNECT`, 'request.operation');
  return review as AdmissionReview & { request: AdmissionRequest };
}

const label = (r: PolicyResult): string => `[${r.policy}] ${r.message}`;
const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The object as stored: namespace and name from the request when the body omits them (generateName, defaulting). */
function withRequestIdentity(object: KubeObject, request: AdmissionRequest): KubeObject {
  const m = object.metadata ?? {};
  if ((m.namespace || !request.namespace) && (m.name || !request.name)) return object;
  return { ...object, metadata: { ...m, ...(m.namespace ? {} : request.namespace ? { namespace: request.namespace } : {}), ...(m.name ? {} : request.name ? { name: request.name } : {}) } };
}

/**
 * Evaluates an AdmissionReview. Deny-effect violations reject the request and the status message
 * lists every one; audit-effect violations come back as warnings (also when the request is
 * denied). UPDATEs compare with oldObject for policies marked `new-violations`.
 */
export function reviewAdmission(body: unknown, set: PolicySet, options: EvaluateOptions = {}): AdmissionOutcome {
  const review = parseAdmissionReview(body);
  const request = review.request;
  const response: AdmissionResponse = { uid: request.uid, allowed: true };
  const outcome = (results: PolicyResult[]): AdmissionOutcome => ({
    review: { apiVersion: review.apiVersion, kind: 'AdmissionReview', response },
    results,
    record: request.dryRun !== true,
    request,
  });

  const object = request.object;
  const skip = request.operation === 'DELETE' || request.operation === 'CONNECT'
    || !object || typeof object !== 'object'
    || (request.subResource !== undefined && request.subResource !== '' && !CHECKED_SUBRESOURCES.has(request.subResource));
  if (skip) return outcome([]);

  const subject = withRequestIdentity(object, request);
  const results = request.operation === 'UPDATE' && request.oldObject && typeof request.oldObject === 'object'
    ? evaluateUpdate(set, subject, withRequestIdentity(request.oldObject, request), options)
    : evaluateObject(set, subject, options);

  const denied = results.filter((r) => r.effect === 'deny');
  const audited = results.filter((r) => r.effect === 'audit');
  if (denied.length) {
    const who = `${subject.kind ?? request.kind.kind} ${subject.metadata?.namespace ? `${subject.metadata.namespace}/` : ''}${subject.metadata?.name ?? ''}`;
    response.allowed = false;
    response.status = {
      code: 403,
      reason: 'Forbidden',
      message: clip(`palisade denied ${who}: ${denied.map(label).join('; ')}`, MAX_MESSAGE_LENGTH),
    };
  }
  if (audited.length) {
    const warnings = audited.slice(0, MAX_WARNINGS).map((r) => clip(label(r), MAX_WARNING_LENGTH));
    if (audited.length > MAX_WARNINGS) warnings.push(`palisade: ${audited.length - MAX_WARNINGS} more audit findings not shown`);
    response.warnings = warnings;
  }
  if (results.length) {
    const ids = (list: PolicyResult[]): string => [...new Set(list.map((r) => r.policy))].join(',');
    response.auditAnnotations = {};
    if (denied.length) response.auditAnnotations['denied-by'] = ids(denied);
    if (audited.length) response.auditAnnotations['audit-findings'] = ids(audited);
  }
  return outcome(results);
}
