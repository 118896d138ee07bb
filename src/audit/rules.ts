import path from 'node:path';
import type { Severity } from '../core/index.js';
import {
  compileRuleMatch, deepMerge, globToRegExp, indexValues, loadRuleFiles, parseDuration, parseRuleMeta, parseSamples, ruleError,
  type Condition, type ExceptionKind, type Lists, type RuleException, type RuleMeta, type RuleSample as KernelSample, type Title,
} from '../rules/index.js';
import type { AuditEvent } from './event.js';
import { AUDIT_SCHEMA, containersOf } from './view.js';

/**
 * Audit rules on the shared rule kernel (src/rules): YAML files of `lists:`, `macros:`, `rules:`,
 * `overrides:` and `samples:`. Built-ins live in src/audit/rules/; users add files in
 * PALISADE_RULES_DIR, which append to or replace built-in lists and macros, add rules, and append
 * to, override or tune built-in rules (Falco's semantics, see src/rules/load.ts). This file adds
 * what is audit's own: stages and outcome, first-seen state, the exception kinds (users,
 * namespaces, images) and sample events completed the way the apiserver writes them.
 */
export const BUILTIN_RULES_DIR = path.join(import.meta.dirname, 'rules');

/** The audit exception kinds, each a list of globs (`exceptions: { users: [...] }`). */
export interface RuleExceptions {
  /** Globs over the requesting user's name (`system:serviceaccount:monitoring:*`). */
  users?: string[];
  namespaces?: string[];
  /** Globs over container images: the event is excepted only when every image in it matches. */
  images?: string[];
}

/** A stateful rule: among events meeting the condition, fire on a value never seen before in its scope. */
export interface FirstSeenSpec {
  /** Paths naming the scope (`cluster`, `user.username`); the scope learns on its own. */
  scope: string[];
  /** Paths whose joined values are "the thing" (`verb`, `objectRef.resource`, `containers[].image`). */
  value: string[];
  /** The scope must have seen this many matching events, and existed this long, before it alerts. */
  learning: { events: number; periodMs: number };
}

export type RuleSample = KernelSample<AuditEvent>;

export interface AuditRule extends Omit<RuleMeta, 'technique' | 'condition'> {
  technique: string;
  /** Technique name in Microsoft's threat matrix for Kubernetes. */
  matrix: string;
  /** `success` (default): only requests the apiserver allowed and completed; `failure`: only refused ones; `any`. */
  outcome: 'success' | 'failure' | 'any';
  /**
   * Audit stages the rule looks at; by default every stage, so a rule fires at the earliest one
   * that carries what it needs (the detector alerts once per auditID and rule): a rule judging
   * the outcome waits for a response code (ResponseStarted for exec, attach and port-forward
   * streams, whose ResponseComplete may come hours later or never), one reading the request
   * body waits for the stage that logs it.
   */
  stages: string[];
  condition: Condition;
  exceptions: RuleException[];
  firstSeen?: FirstSeenSpec;
  samples: { fire: RuleSample[]; quiet: RuleSample[] };
}

export interface CompiledRule {
  rule: AuditRule;
  verbs: Set<string> | undefined;
  resources: Set<string> | undefined;
  subresources: Set<string> | undefined;
  /** Condition and exceptions only, for an engine whose index already checked stage and outcome. */
  matchesIndexed: (event: AuditEvent) => boolean;
  /** The alert title for an event the rule matched (titles may fill in event fields). */
  title: Title<AuditEvent>;
}

export interface RuleOverride {
  rule: string;
  enabled?: boolean;
  severity?: Severity;
  exceptions?: RuleExceptions;
}

export interface RuleSetOptions {
  /** Directory of user rule files (PALISADE_RULES_DIR). */
  dir?: string;
  /** Load the built-in rules (default true). */
  builtin?: boolean;
  overrides?: RuleOverride[];
}

export interface RuleSet {
  rules: CompiledRule[];
  lists: Lists;
}

type Json = Record<string, unknown>;

const AUDIT_RULE_KEYS = ['matrix', 'outcome', 'stages', 'firstSeen'];

function firstSeenOf(value: unknown, where: string): FirstSeenSpec | undefined {
  if (value === undefined) return undefined;
  const v = value as Json;
  const paths = (x: unknown, w: string) => {
    if (!Array.isArray(x) || x.length === 0 || !x.every((p) => typeof p === 'string')) ruleError('audit', w, 'must be a non-empty list of field paths');
    return x as string[];
  };
  const learning = (v.learning ?? {}) as Json;
  return {
    scope: paths(v.scope, `${where}.scope`),
    value: paths(v.value, `${where}.value`),
    learning: { events: typeof learning.events === 'number' ? learning.events : 0, periodMs: learning.period === undefined ? 0 : parseDuration(learning.period, 'audit', `${where}.learning.period`) },
  };
}

/** The base every sample event starts from: what a kubectl request through the log backend looks like. */
const SAMPLE_BASE = {
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'RequestResponse',
  stage: 'ResponseComplete',
  user: { username: 'alice@example.com', groups: ['system:authenticated'] },
  sourceIPs: ['10.240.0.4'],
  userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/3968350',
  annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
};

function requestURIOf(e: Json): string {
  const ref = (e.objectRef ?? {}) as Json;
  const base = ref.apiGroup ? `/apis/${String(ref.apiGroup)}/${String(ref.apiVersion ?? 'v1')}` : `/api/${String(ref.apiVersion ?? 'v1')}`;
  const ns = ref.namespace ? `/namespaces/${String(ref.namespace)}` : '';
  const name = e.verb === 'create' && !ref.subresource ? undefined : ref.name;
  return [base + ns, ref.resource, name, ref.subresource].filter(Boolean).join('/');
}

/**
 * Turns a sample as written in YAML into an AuditEvent: `$ref` names a shared sample (samples.yaml),
 * the rest is merged over it (null deletes a key), and boilerplate (auditID, timestamps, requestURI,
 * response code) is filled in the way the apiserver would.
 */
function sampleEvent(raw: Json, shared: ReadonlyMap<string, Json>, where: string, n: number, atMs: number, normalize: (v: unknown) => AuditEvent): AuditEvent {
  const { $ref, ...rest } = raw;
  let base: unknown = SAMPLE_BASE;
  let recorded = false;
  if ($ref !== undefined) {
    const ref = shared.get(String($ref));
    if (!ref) ruleError('audit', `${where}.$ref`, `unknown sample ${String($ref)}`);
    // A recorded event (recorded.yaml) is used as it was written, never completed from the default.
    recorded = typeof ref.recorded === 'object' && ref.recorded !== null;
    base = recorded ? ref.event : deepMerge(base, ref);
  }
  const e = deepMerge(base, rest) as Json;
  if (recorded && n > 0) {
    // A later event of a sequence: its own request, at its own time.
    e.auditID = `${String(e.auditID)}-${n}`;
    e.requestReceivedTimestamp = e.stageTimestamp = new Date(atMs).toISOString();
  }
  if (!recorded) {
    const at = new Date(atMs).toISOString().replace('Z', '000Z');
    e.auditID ??= `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    e.requestReceivedTimestamp ??= at;
    e.stageTimestamp ??= e.requestReceivedTimestamp;
    e.requestURI ??= requestURIOf(e);
    e.responseStatus ??= { metadata: {}, code: e.verb === 'create' ? 201 : 200 };
  }
  try {
    return normalize(e);
  } catch (error) {
    return ruleError('audit', where, `${recorded ? 'recorded ' : ''}sample is not a valid audit Event: ${(error as Error).message}`);
  }
}

function parseRule(r: Json & { id: string; source: string }, shared: ReadonlyMap<string, Json>, normalize: (v: unknown) => AuditEvent): AuditRule {
  const where = `${r.source}: ${r.id}`;
  const meta = parseRuleMeta(r, 'audit', AUDIT_RULE_KEYS, { techniqueRequired: true });
  if (typeof meta.condition !== 'object') ruleError('audit', `${where}.condition`, 'is required (a condition object)');
  const outcome = r.outcome ?? 'success';
  if (outcome !== 'success' && outcome !== 'failure' && outcome !== 'any') ruleError('audit', `${where}.outcome`, 'must be success, failure or any');
  if (typeof r.matrix !== 'string' || r.matrix.trim() === '') ruleError('audit', `${where}.matrix`, 'is required and must be a non-empty string');
  const rule: AuditRule = {
    ...meta,
    technique: meta.technique!,
    condition: meta.condition,
    matrix: r.matrix.trim(),
    outcome,
    // A first-seen rule learns from each request once: at its final stage, which every request has one of.
    stages: Array.isArray(r.stages) ? r.stages.map(String) : r.firstSeen !== undefined ? ['ResponseComplete', 'Panic'] : [...ALL_STAGES],
    samples: parseSamples(r.samples, 'audit', `${where}.samples`, (item, w, n, at) => sampleEvent(item, shared, w, n, at, normalize)),
  };
  const firstSeen = firstSeenOf(r.firstSeen, `${where}.firstSeen`);
  if (firstSeen) rule.firstSeen = firstSeen;
  return rule;
}

export const ALL_STAGES = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'] as const;

/**
 * Whether the apiserver allowed and completed the request, or undefined while that is not known:
 * a RequestReceived event is written before authorization and carries neither a response code
 * nor a decision.
 */
export type Outcome = 'success' | 'failure' | undefined;

export function outcomeOf(event: AuditEvent): Outcome {
  const code = event.responseStatus?.code;
  if (typeof code === 'number') return code < 400 ? 'success' : 'failure';
  const decision = event.annotations['authorization.k8s.io/decision'];
  if (decision === 'forbid') return 'failure';
  if (event.stage === 'RequestReceived' && decision === undefined) return undefined;
  return 'success';
}

/** `registry/name` of an image reference, without tag or digest (Falco's image.repository). */
export function imageRepository(image: string): string {
  const at = image.indexOf('@');
  const ref = at === -1 ? image : image.slice(0, at);
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? ref.slice(0, colon) : ref;
}

/** Exception globs may name lists (`'@k8s_audit_privileged_images'`), as Falco's exceptions do. */
function expandGlobs(globs: string[], lists: Lists, where: string): string[] {
  return globs.flatMap((g) => {
    if (!g.startsWith('@')) return [g];
    const list = lists.get(g.slice(1));
    if (!list) ruleError('audit', where, `unknown list ${g}`);
    return list.map(String);
  });
}

/** The audit exception kinds: `exceptions: { users, namespaces, images }`, each a list of globs. */
const EXCEPTION_KINDS: Record<string, ExceptionKind<AuditEvent>> = {
  users: (values, lists, where) => {
    const re = globToRegExp(expandGlobs(values, lists, where));
    return (event) => re.test(event.user.username);
  },
  namespaces: (values, lists, where) => {
    const re = globToRegExp(expandGlobs(values, lists, where));
    return (event) => re.test(event.objectRef?.namespace ?? '');
  },
  images: (values, lists, where) => {
    const re = globToRegExp(expandGlobs(values, lists, where));
    // Excepted only when every container's image is: one trusted image beside another does not hide it.
    return (event) => {
      const list = containersOf(event).map((c) => (c as { image?: unknown }).image).filter((i): i is string => typeof i === 'string');
      return list.length > 0 && list.every((i) => re.test(i) || re.test(imageRepository(i)));
    };
  },
};

function compileRule(rule: AuditRule, lists: Lists): CompiledRule {
  const { matches, title } = compileRuleMatch(rule, lists, AUDIT_SCHEMA, EXCEPTION_KINDS);
  return {
    rule,
    verbs: indexValues(rule.condition, 'verb', lists, 'audit'),
    resources: indexValues(rule.condition, 'resource', lists, 'audit'),
    subresources: indexValues(rule.condition, 'subresource', lists, 'audit'),
    matchesIndexed: matches,
    title,
  };
}

/**
 * Loads, validates and compiles the built-in rules and the user's. Every problem is a PalisadeError
 * naming the file, rule and field. `normalize` validates sample events (sources/event.ts).
 */
export function loadRuleSet(options: RuleSetOptions, normalize: (v: unknown) => AuditEvent): RuleSet {
  const loaded = loadRuleFiles({
    code: 'audit',
    ...(options.builtin === false ? {} : { builtinDir: BUILTIN_RULES_DIR }),
    ...(options.dir ? { userDir: options.dir } : {}),
    listRedefinition: 'replace',
    ...(options.overrides ? { overrides: options.overrides as unknown as Json[] } : {}),
  });
  const rules = loaded.rules.map((r) => parseRule(r, loaded.samples, normalize));
  return { rules: rules.map((r) => compileRule(r, loaded.lists)), lists: loaded.lists };
}
