import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isSeverity, PalisadeError, type Severity } from '../core/index.js';
import { compileCondition, globToRegExp, indexKeys, type Condition, type Lists, type Predicate } from './condition.js';
import type { AuditEvent } from './event.js';
import { containersOf } from './view.js';

/**
 * Rules are data (YAML files of `lists:`, `rules:` and `overrides:`), validated and compiled once.
 * Built-ins live in src/audit/rules/; users add files in PALISADE_RULES_DIR, whose lists extend or
 * replace built-in lists, whose rules add to the set, and whose overrides disable or tune built-ins.
 */
export const BUILTIN_RULES_DIR = path.join(import.meta.dirname, 'rules');

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

export interface RuleSample {
  /** One event, or a sequence for stateful rules (the last event is the one judged). */
  events: AuditEvent[];
}

export interface AuditRule {
  id: string;
  title: string;
  description: string;
  severity: Severity;
  tactic: string;
  technique: string;
  /** Technique name in Microsoft's threat matrix for Kubernetes. */
  matrix: string;
  remediation: string;
  enabled: boolean;
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
  exceptions: RuleExceptions;
  firstSeen?: FirstSeenSpec;
  samples: { fire: RuleSample[]; quiet: RuleSample[] };
  /** File the rule came from. */
  source: string;
}

export interface CompiledRule {
  rule: AuditRule;
  verbs: Set<string> | undefined;
  resources: Set<string> | undefined;
  subresources: Set<string> | undefined;
  /** Condition and exceptions only, for an engine whose index already checked stage and outcome. */
  matchesIndexed: (event: AuditEvent) => boolean;
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

function invalid(where: string, message: string, hint?: string): never {
  throw new PalisadeError('audit.rule-invalid', `${where}: ${message}`, { field: where, ...(hint ? { hint } : {}) });
}

function text(obj: Json, key: string, where: string): string {
  const value = obj[key];
  if (typeof value !== 'string' || value.trim() === '') invalid(`${where}.${key}`, 'is required and must be a string');
  return value.trim();
}

function globs(value: unknown, where: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) invalid(where, 'must be a list of globs');
  return value as string[];
}

function exceptionsOf(value: unknown, where: string): RuleExceptions {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) invalid(where, 'must be an object of users, namespaces, images');
  const v = value as Json;
  for (const key of Object.keys(v)) if (!['users', 'namespaces', 'images'].includes(key)) invalid(`${where}.${key}`, 'unknown exception kind', 'use users, namespaces or images');
  const out: RuleExceptions = {};
  const users = globs(v.users, `${where}.users`);
  const namespaces = globs(v.namespaces, `${where}.namespaces`);
  const images = globs(v.images, `${where}.images`);
  if (users) out.users = users;
  if (namespaces) out.namespaces = namespaces;
  if (images) out.images = images;
  return out;
}

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: unknown, where: string): number {
  if (typeof value === 'number') return value;
  const m = typeof value === 'string' ? DURATION.exec(value) : null;
  if (!m) invalid(where, `${JSON.stringify(value)} is not a duration`, 'write it like 30s, 15m, 24h or 7d');
  return Number(m[1]) * UNIT[m[2]!]!;
}

function firstSeenOf(value: unknown, where: string): FirstSeenSpec | undefined {
  if (value === undefined) return undefined;
  const v = value as Json;
  const paths = (x: unknown, w: string) => {
    if (!Array.isArray(x) || x.length === 0 || !x.every((p) => typeof p === 'string')) invalid(w, 'must be a non-empty list of field paths');
    return x as string[];
  };
  const learning = (v.learning ?? {}) as Json;
  return {
    scope: paths(v.scope, `${where}.scope`),
    value: paths(v.value, `${where}.value`),
    learning: { events: typeof learning.events === 'number' ? learning.events : 0, periodMs: learning.period === undefined ? 0 : parseDuration(learning.period, `${where}.learning.period`) },
  };
}

const SAMPLE_EPOCH = Date.UTC(2025, 5, 1, 12, 0, 0);

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

function deepMerge(base: unknown, patch: unknown): unknown {
  if (typeof base !== 'object' || base === null || Array.isArray(base) || typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    return patch === undefined ? base : patch;
  }
  const out: Json = { ...(base as Json) };
  for (const [k, v] of Object.entries(patch as Json)) out[k] = v === null ? undefined : deepMerge(out[k], v);
  return out;
}

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
function sampleEvent(raw: unknown, shared: Map<string, Json>, where: string, n: number, atMs: number, normalize: (v: unknown) => AuditEvent): AuditEvent {
  if (typeof raw !== 'object' || raw === null) invalid(where, 'a sample is an event object');
  const { $ref, repeat: _repeat, every: _every, ...rest } = raw as Json;
  let base: unknown = SAMPLE_BASE;
  let recorded = false;
  if ($ref !== undefined) {
    const ref = shared.get(String($ref));
    if (!ref) invalid(`${where}.$ref`, `unknown sample ${String($ref)}`);
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
  if (recorded) {
    try {
      return normalize(e);
    } catch (error) {
      return invalid(where, `recorded sample is not a valid audit Event: ${(error as Error).message}`);
    }
  }
  const at = new Date(atMs).toISOString().replace('Z', '000Z');
  e.auditID ??= `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  e.requestReceivedTimestamp ??= at;
  e.stageTimestamp ??= e.requestReceivedTimestamp;
  e.requestURI ??= requestURIOf(e);
  e.responseStatus ??= { metadata: {}, code: e.verb === 'create' ? 201 : 200 };
  try {
    return normalize(e);
  } catch (error) {
    return invalid(where, `sample is not a valid audit Event: ${(error as Error).message}`);
  }
}

function samplesOf(value: unknown, shared: Map<string, Json>, where: string, normalize: (v: unknown) => AuditEvent): AuditRule['samples'] {
  const v = (value ?? {}) as Json;
  const list = (x: unknown, kind: string): RuleSample[] => {
    if (x === undefined) return [];
    if (!Array.isArray(x)) invalid(`${where}.${kind}`, 'must be a list of sample events');
    return x.map((s, i) => {
      const w = `${where}.${kind}[${i}]`;
      const isSeq = typeof s === 'object' && s !== null && Array.isArray((s as Json).sequence);
      const seq = isSeq ? ((s as Json).sequence as unknown[]) : [s];
      // `repeat: N` and `every: 1h` on a sequence item stand for N such events spaced by that much.
      const events: AuditEvent[] = [];
      let at = SAMPLE_EPOCH;
      seq.forEach((e, j) => {
        const item = (e ?? {}) as Json;
        const repeat = typeof item.repeat === 'number' ? item.repeat : 1;
        const step = item.every === undefined ? 60_000 : parseDuration(item.every, `${w}.sequence[${j}].every`);
        for (let k = 0; k < repeat; k++) {
          events.push(sampleEvent(e, shared, isSeq ? `${w}.sequence[${j}]` : w, events.length, at, normalize));
          at += step;
        }
      });
      return { events };
    });
  };
  return { fire: list(v.fire, 'fire'), quiet: list(v.quiet, 'quiet') };
}

interface RuleFile {
  lists: Map<string, { values: unknown[]; append: boolean }>;
  macros: Map<string, Condition>;
  rules: Json[];
  overrides: RuleOverride[];
  samples: Map<string, Json>;
  file: string;
}

function readRuleFile(file: string): RuleFile {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new PalisadeError('audit.rule-invalid', `${file}: not valid YAML: ${(error as Error).message}`, { field: file, cause: error });
  }
  const d = (doc ?? {}) as Json;
  for (const key of Object.keys(d)) if (!['lists', 'macros', 'rules', 'overrides', 'samples'].includes(key)) invalid(`${file}: ${key}`, 'unknown top-level key', 'a rule file has lists, macros, rules, overrides and samples');
  const macros = new Map<string, Condition>();
  for (const [name, value] of Object.entries((d.macros ?? {}) as Json)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid(`${file}: macros.${name}`, 'a macro is a condition object');
    macros.set(name, value as Condition);
  }
  const lists = new Map<string, { values: unknown[]; append: boolean }>();
  for (const [name, value] of Object.entries((d.lists ?? {}) as Json)) {
    if (Array.isArray(value)) lists.set(name, { values: value, append: false });
    else if (typeof value === 'object' && value !== null && Array.isArray((value as Json).items)) {
      lists.set(name, { values: (value as Json).items as unknown[], append: (value as Json).append === true });
    } else invalid(`${file}: lists.${name}`, 'must be a list, or { items: [...], append: true }');
  }
  const overrides = ((d.overrides ?? []) as Json[]).map((o, i) => {
    const where = `${file}: overrides[${i}]`;
    const out: RuleOverride = { rule: text(o, 'rule', where) };
    if (o.enabled !== undefined) out.enabled = o.enabled === true;
    if (o.severity !== undefined) {
      if (!isSeverity(o.severity)) invalid(`${where}.severity`, `${String(o.severity)} is not a severity`);
      out.severity = o.severity;
    }
    if (o.exceptions !== undefined) out.exceptions = exceptionsOf(o.exceptions, `${where}.exceptions`);
    return out;
  });
  if (d.rules !== undefined && !Array.isArray(d.rules)) invalid(`${file}: rules`, 'must be a list');
  return { lists, macros, rules: (d.rules ?? []) as Json[], overrides, samples: new Map(Object.entries((d.samples ?? {}) as Record<string, Json>)), file };
}

function yamlFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new PalisadeError('audit.rules-dir', `cannot read rules directory ${dir}`, { kind: 'not-found', field: 'PALISADE_RULES_DIR', cause: error });
  }
  return names.filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => path.join(dir, n)).filter((f) => statSync(f).isFile());
}

function parseRule(r: Json, file: string, shared: Map<string, Json>, normalize: (v: unknown) => AuditEvent): AuditRule {
  const id = typeof r.id === 'string' ? r.id : invalid(`${file}: rules[]`, 'a rule needs an id');
  const where = `${file}: ${id}`;
  for (const key of Object.keys(r)) {
    if (!['id', 'title', 'description', 'severity', 'mitre', 'matrix', 'remediation', 'enabled', 'outcome', 'stages', 'condition', 'exceptions', 'firstSeen', 'samples'].includes(key)) {
      invalid(`${where}.${key}`, 'unknown rule key');
    }
  }
  if (!isSeverity(r.severity)) invalid(`${where}.severity`, `${String(r.severity)} is not one of critical, high, medium, low, informational`);
  const mitre = (r.mitre ?? {}) as Json;
  const outcome = r.outcome ?? 'success';
  if (outcome !== 'success' && outcome !== 'failure' && outcome !== 'any') invalid(`${where}.outcome`, 'must be success, failure or any');
  if (typeof r.condition !== 'object' || r.condition === null) invalid(`${where}.condition`, 'is required');
  const rule: AuditRule = {
    id,
    title: text(r, 'title', where),
    description: text(r, 'description', where),
    severity: r.severity,
    tactic: text(mitre, 'tactic', `${where}.mitre`),
    technique: text(mitre, 'technique', `${where}.mitre`),
    matrix: text(r, 'matrix', where),
    remediation: text(r, 'remediation', where),
    enabled: r.enabled !== false,
    outcome,
    // A first-seen rule learns from each request once: at its final stage, which every request has one of.
    stages: Array.isArray(r.stages) ? r.stages.map(String) : r.firstSeen !== undefined ? ['ResponseComplete', 'Panic'] : [...ALL_STAGES],
    condition: r.condition as Condition,
    exceptions: exceptionsOf(r.exceptions, `${where}.exceptions`),
    samples: samplesOf(r.samples, shared, `${where}.samples`, normalize),
    source: file,
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
function expandGlobs(globs: string[] | undefined, lists: Lists, where: string): string[] {
  const out: string[] = [];
  for (const g of globs ?? []) {
    if (!g.startsWith('@')) {
      out.push(g);
      continue;
    }
    const list = lists.get(g.slice(1));
    if (!list) invalid(where, `unknown list ${g}`);
    out.push(...list.map(String));
  }
  return out;
}

/**
 * Replaces `macro: name` (or a list of names) anywhere in a condition by the named conditions,
 * ANDed with the rest of the object, as Falco's macros: the shared pieces (who the control plane
 * is, which subresources do not change a pod spec) are written once. Macros may use macros.
 */
export function expandMacros(condition: unknown, macros: ReadonlyMap<string, Condition>, where: string, depth = 0): unknown {
  if (depth > 20) invalid(where, 'macros nest too deep (a macro that uses itself?)');
  if (Array.isArray(condition)) return condition.map((c, i) => expandMacros(c, macros, `${where}[${i}]`, depth));
  if (typeof condition !== 'object' || condition === null) return condition;
  const out: Json = {};
  let used: Condition[] = [];
  for (const [key, value] of Object.entries(condition as Json)) {
    if (key === 'macro') {
      const names = Array.isArray(value) ? value : [value];
      used = names.map((n) => {
        const macro = macros.get(String(n));
        if (!macro) invalid(`${where}.macro`, `unknown macro ${String(n)}`);
        return expandMacros(macro, macros, `macro ${String(n)}`, depth + 1) as Condition;
      });
    } else out[key] = key === 'where' || key === 'not' || key === 'all' || key === 'any' ? expandMacros(value, macros, `${where}.${key}`, depth) : value;
  }
  if (used.length === 0) return out;
  if (Object.keys(out).length === 0 && used.length === 1) return used[0];
  out.all = [...((out.all as unknown[] | undefined) ?? []), ...used];
  return out;
}

function compileRule(rule: AuditRule, lists: Lists): CompiledRule {
  const test: Predicate = compileCondition(rule.condition, lists, `${rule.source}: ${rule.id}.condition`);
  const where = `${rule.source}: ${rule.id}.exceptions`;
  const globsOf = (key: keyof RuleExceptions) => {
    const list = expandGlobs(rule.exceptions[key], lists, `${where}.${key}`);
    return list.length ? globToRegExp(list) : undefined;
  };
  const users = globsOf('users');
  const namespaces = globsOf('namespaces');
  const images = globsOf('images');
  const matchesIndexed = (event: AuditEvent): boolean => {
    if (!test(event, event)) return false;
    if (users && users.test(event.user.username)) return false;
    if (namespaces && namespaces.test(event.objectRef?.namespace ?? '')) return false;
    if (images) {
      // Excepted only when every container's image is: one trusted image beside another does not hide it.
      const list = containersOf(event).map((c) => (c as { image?: unknown }).image).filter((i): i is string => typeof i === 'string');
      if (list.length > 0 && list.every((i) => images.test(i) || images.test(imageRepository(i)))) return false;
    }
    return true;
  };
  return {
    rule,
    verbs: indexKeys(rule.condition, 'verb', lists),
    resources: indexKeys(rule.condition, 'resource', lists),
    subresources: indexKeys(rule.condition, 'subresource', lists),
    matchesIndexed,
  };
}

/**
 * Loads, validates and compiles the built-in rules and the user's. Every problem is a PalisadeError
 * naming the file, rule and field. `normalize` validates sample events (sources/event.ts).
 */
export function loadRuleSet(options: RuleSetOptions, normalize: (v: unknown) => AuditEvent): RuleSet {
  const files = [
    ...(options.builtin === false ? [] : yamlFiles(BUILTIN_RULES_DIR)),
    ...(options.dir ? yamlFiles(options.dir) : []),
  ].map(readRuleFile);
  const lists = new Map<string, unknown[]>();
  const macros = new Map<string, Condition>();
  const shared = new Map<string, Json>();
  for (const f of files) {
    for (const [name, list] of f.lists) lists.set(name, list.append ? [...(lists.get(name) ?? []), ...list.values] : list.values);
    // A user file naming a built-in macro replaces it (Falco's user_known_* habit).
    for (const [name, macro] of f.macros) macros.set(name, macro);
    for (const [name, sample] of f.samples) shared.set(name, sample);
  }
  const rules = new Map<string, AuditRule>();
  for (const f of files) {
    for (const r of f.rules) {
      const rule = parseRule(r, f.file, shared, normalize);
      if (rules.has(rule.id)) invalid(`${f.file}: ${rule.id}`, `duplicate rule id (also in ${rules.get(rule.id)!.source})`, 'use an override to tune a built-in rule');
      rules.set(rule.id, rule);
    }
  }
  const overrides = [...files.flatMap((f) => f.overrides), ...(options.overrides ?? [])];
  for (const o of overrides) {
    const rule = rules.get(o.rule);
    if (!rule) invalid(`overrides: ${o.rule}`, 'no such rule');
    if (o.enabled !== undefined) rule.enabled = o.enabled;
    if (o.severity) rule.severity = o.severity;
    if (o.exceptions) {
      for (const key of ['users', 'namespaces', 'images'] as const) {
        const more = o.exceptions[key];
        if (more) rule.exceptions[key] = [...(rule.exceptions[key] ?? []), ...more];
      }
    }
  }
  for (const rule of rules.values()) rule.condition = expandMacros(rule.condition, macros, `${rule.source}: ${rule.id}.condition`) as Condition;
  return { rules: [...rules.values()].map((r) => compileRule(r, lists)), lists };
}
