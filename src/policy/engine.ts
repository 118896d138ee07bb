/**
 * Compiles a user's policy configuration against the built-in definitions once, then evaluates
 * resources against it. Everything here is pure: the CLI, the admission route and the posture
 * jobs all call the same functions.
 */
import { PalisadeError, type Clock, systemClock } from '../core/index.js';
import { podOf } from './kube/pods.js';
import type { KubeObject } from './kube/types.js';
import {
  DEFAULT_EXCLUDED_NAMESPACES, EFFECTS, type AnyPolicy, type Effect, type LabelSelector, type PolicyConfig,
  type ImageAssessment, type PolicyException, type PolicyResult, type PolicyViolation, type ResourceId,
} from './model.js';
import { matchesSelector } from './selectors.js';

export interface CompiledPolicy {
  definition: AnyPolicy;
  effect: Effect;
  excludedNamespaces: Set<string>;
  namespaceSelector?: LabelSelector;
  labelSelector?: LabelSelector;
  parameters: Record<string, unknown>;
  kinds?: Set<string>;
}

export interface PolicySet {
  policies: CompiledPolicy[];
  exceptions: PolicyException[];
}

export interface EvaluateOptions {
  clock?: Clock;
  /** Labels of a namespace, for namespaceSelector; unknown namespaces never match a selector. */
  namespaceLabels?: (namespace: string) => Record<string, string> | undefined;
  /** Image assessments for policies that need them (`needs: 'image-assessments'`), keyed by the image as written. */
  images?: ReadonlyMap<string, ImageAssessment>;
}

export type AssessmentStatus = 'healthy' | 'unhealthy' | 'notApplicable';

export interface Assessment {
  policy: CompiledPolicy;
  status: AssessmentStatus;
  violations: PolicyViolation[];
  /** Set when an exception made the resource not applicable. */
  exception?: PolicyException;
}

const POD_KINDS = new Set(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob', 'PodTemplate']);

function typeName(v: unknown): string {
  return Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
}

/** Checks a user's configuration, listing every bad key in one error, and merges it over defaults. */
export function compilePolicySet(definitions: readonly AnyPolicy[], config: PolicyConfig = {}): PolicySet {
  const problems: string[] = [];
  const byId = new Map(definitions.map((d) => [d.id, d]));
  const settings = config.policies ?? {};
  if (typeof settings !== 'object' || Array.isArray(settings)) problems.push('policies: must be a map of policy id to settings');
  for (const id of Object.keys(settings)) if (!byId.has(id)) problems.push(`policies.${id}: unknown policy`);

  const policies: CompiledPolicy[] = definitions.map((definition) => {
    const s = settings[definition.id] ?? {};
    const effect = s.effect ?? definition.defaults.effect;
    if (!EFFECTS.includes(effect)) problems.push(`policies.${definition.id}.effect: must be audit, deny or disabled`);
    const parameters: Record<string, unknown> = { ...(definition.defaults.parameters as Record<string, unknown>) };
    for (const [key, value] of Object.entries(s.parameters ?? {})) {
      if (!(key in parameters)) { problems.push(`policies.${definition.id}.parameters.${key}: unknown parameter`); continue; }
      const expected = typeName(parameters[key]);
      if (expected !== 'undefined' && expected !== 'null' && typeName(value) !== expected) {
        problems.push(`policies.${definition.id}.parameters.${key}: expected ${expected}, got ${typeName(value)}`);
        continue;
      }
      parameters[key] = value;
    }
    for (const problem of definition.validate?.(parameters) ?? []) problems.push(`policies.${definition.id}.parameters.${problem}`);
    const excluded = s.excludedNamespaces ?? DEFAULT_EXCLUDED_NAMESPACES;
    if (!Array.isArray(excluded)) problems.push(`policies.${definition.id}.excludedNamespaces: must be a list`);
    const compiled: CompiledPolicy = {
      definition, effect, parameters,
      excludedNamespaces: new Set(Array.isArray(excluded) ? excluded : []),
    };
    if (s.namespaceSelector) compiled.namespaceSelector = s.namespaceSelector;
    if (s.labelSelector) compiled.labelSelector = s.labelSelector;
    if (definition.appliesTo !== 'pods') compiled.kinds = new Set(definition.appliesTo);
    return compiled;
  });

  const exceptions = config.exceptions ?? [];
  if (!Array.isArray(exceptions)) problems.push('exceptions: must be a list');
  else exceptions.forEach((e, i) => {
    if (!Array.isArray(e.policies) || e.policies.length === 0) problems.push(`exceptions[${i}].policies: list the policy ids (or "*")`);
    else for (const p of e.policies) if (p !== '*' && !byId.has(p)) problems.push(`exceptions[${i}].policies: unknown policy ${p}`);
    if (typeof e.reason !== 'string' || e.reason.trim() === '') problems.push(`exceptions[${i}].reason: required`);
    if (typeof e.expires !== 'string' && !((e.expires as unknown) instanceof Date)) problems.push(`exceptions[${i}].expires: required (ISO date)`);
    else if (Number.isNaN(new Date(e.expires).getTime())) problems.push(`exceptions[${i}].expires: not a date`);
    if (e.namespace === undefined && e.name === undefined && e.labels === undefined && e.kind === undefined) {
      problems.push(`exceptions[${i}]: name a namespace, name, kind or labels to exempt`);
    }
  });

  if (problems.length) {
    throw new PalisadeError('policy.config_invalid', `invalid policy configuration: ${problems.join('; ')}`, {
      field: problems[0]?.split(':')[0], hint: 'fix every key listed',
    });
  }
  return { policies, exceptions: Array.isArray(exceptions) ? exceptions : [] };
}

export function resourceIdOf(object: KubeObject): ResourceId {
  const m = object.metadata ?? {};
  const id: ResourceId = { kind: String(object.kind ?? 'Unknown'), name: String(m.name ?? m.generateName ?? '') };
  if (m.namespace) id.namespace = m.namespace;
  return id;
}

/**
 * A name exception for a workload also covers the pods and jobs it creates: their controller is
 * the workload itself (`web`) or, for Deployments and CronJobs, a child named `web-<hash>`.
 */
function ownedBy(object: KubeObject, name: string): boolean {
  const owners = (object.metadata as { ownerReferences?: { name?: string; controller?: boolean }[] } | undefined)?.ownerReferences;
  if (!Array.isArray(owners)) return false;
  return owners.some((o) => o?.controller === true && typeof o.name === 'string' && (o.name === name || o.name.startsWith(`${name}-`)));
}

function exceptionFor(set: PolicySet, policyId: string, object: KubeObject, now: number): PolicyException | undefined {
  const m = object.metadata ?? {};
  for (const e of set.exceptions) {
    if (!e.policies.includes('*') && !e.policies.includes(policyId)) continue;
    if (new Date(e.expires).getTime() < now) continue;
    if (e.namespace !== undefined && e.namespace !== m.namespace) continue;
    if (e.name !== undefined && e.name !== m.name && !ownedBy(object, e.name)) continue;
    if (e.kind !== undefined && e.kind !== object.kind) continue;
    if (e.labels !== undefined && !matchesSelector({ matchLabels: e.labels }, m.labels)) continue;
    return e;
  }
  return undefined;
}

function namespaceMatches(policy: CompiledPolicy, namespace: string | undefined, options: EvaluateOptions): boolean {
  if (!policy.namespaceSelector) return true;
  const labels = namespace === undefined ? undefined : options.namespaceLabels?.(namespace);
  return labels !== undefined && matchesSelector(policy.namespaceSelector, labels);
}

const NO_VIOLATIONS: PolicyViolation[] = [];

/**
 * Visits every enabled policy's verdict on one resource. The one loop behind assessObject and
 * evaluateObject: evaluation is the hot path of `policy check` and admission, so it allocates
 * nothing for policies that do not apply and reads the clock only when exceptions exist.
 */
function visit(set: PolicySet, object: KubeObject, options: EvaluateOptions, onVerdict: (a: Assessment) => void, onlyViolations: boolean): void {
  let now: number | undefined;
  const kind = String(object.kind ?? '');
  const namespace = object.metadata?.namespace;
  const pod = POD_KINDS.has(kind) ? podOf(object) : undefined;
  for (const policy of set.policies) {
    if (policy.effect === 'disabled') continue;
    const applies = (policy.kinds ? policy.kinds.has(kind) : pod !== undefined)
      && (policy.definition.needs !== 'image-assessments' || options.images !== undefined);
    if (!applies || (namespace && policy.excludedNamespaces.has(namespace))
      || !matchesSelector(policy.labelSelector, object.metadata?.labels)
      || !namespaceMatches(policy, namespace, options)) {
      if (!onlyViolations) onVerdict({ policy, status: 'notApplicable', violations: NO_VIOLATIONS });
      continue;
    }
    if (set.exceptions.length) {
      now ??= (options.clock ?? systemClock).now().getTime();
      const exception = exceptionFor(set, policy.definition.id, object, now);
      if (exception) {
        if (!onlyViolations) onVerdict({ policy, status: 'notApplicable', violations: NO_VIOLATIONS, exception });
        continue;
      }
    }
    const violations = policy.definition.evaluate({ object, pod, parameters: policy.parameters, images: options.images });
    if (violations.length || !onlyViolations) onVerdict({ policy, status: violations.length ? 'unhealthy' : 'healthy', violations });
  }
}

/** Every enabled policy's verdict on one resource. */
export function assessObject(set: PolicySet, object: KubeObject, options: EvaluateOptions = {}): Assessment[] {
  const out: Assessment[] = [];
  visit(set, object, options, (a) => out.push(a), false);
  return out;
}

function toResults(object: KubeObject, set: PolicySet, options: EvaluateOptions): PolicyResult[] {
  let resource: ResourceId | undefined;
  const out: PolicyResult[] = [];
  visit(set, object, options, (a) => {
    resource ??= resourceIdOf(object);
    for (const v of a.violations) {
      const r: PolicyResult = {
        resource, policy: a.policy.definition.id, effect: a.policy.effect as 'audit' | 'deny',
        severity: a.policy.definition.severity, message: v.message,
      };
      if (v.container !== undefined) r.container = v.container;
      if (v.field !== undefined) r.field = v.field;
      out.push(r);
    }
  }, true);
  return out;
}

/** One result per violation of one resource. */
export function evaluateObject(set: PolicySet, object: KubeObject, options: EvaluateOptions = {}): PolicyResult[] {
  return toResults(object, set, options);
}

/**
 * An UPDATE: policies marked `new-violations` report only what the old object did not already
 * violate (compared by policy, field and message).
 */
export function evaluateUpdate(set: PolicySet, object: KubeObject, oldObject: KubeObject, options: EvaluateOptions = {}): PolicyResult[] {
  const results = evaluateObject(set, object, options);
  const compare = new Set(set.policies.filter((p) => p.definition.onUpdate === 'new-violations').map((p) => p.definition.id));
  if (compare.size === 0) return results;
  const before = new Set(evaluateObject(set, oldObject, options).filter((r) => compare.has(r.policy)).map((r) => `${r.policy}\0${r.field ?? ''}\0${r.message}`));
  return results.filter((r) => !compare.has(r.policy) || !before.has(`${r.policy}\0${r.field ?? ''}\0${r.message}`));
}

/** Every result over many resources. */
export function evaluateObjects(set: PolicySet, objects: Iterable<KubeObject>, options: EvaluateOptions = {}): PolicyResult[] {
  const out: PolicyResult[] = [];
  for (const o of objects) for (const r of evaluateObject(set, o, options)) out.push(r);
  return out;
}
