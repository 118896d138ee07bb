import { BlockList, isIP } from 'node:net';
import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { PalisadeError } from '../core/index.js';
import type { AuditEvent } from './event.js';
import { containersOf, podSpecOf, serviceAccountOf, VIEW_ROOTS } from './view.js';

/**
 * The rule condition language: a small declarative matcher, compiled once into closures, with CEL
 * for what it cannot say. A condition is an object whose keys are ANDed:
 *
 *   verb / resource / subresource / apiGroup / namespace / name / username: value or list (shorthands; the
 *                       first three also index the rule, see engine.ts)
 *   all: [c, ...]   any: [c, ...]   not: c
 *   field: PATH  with one test: equals | in | prefix | suffix | contains | glob | regex | exists | cidr | gt | lt
 *   anyOf: PATH  where: c          (some element of the array at PATH satisfies c, paths inside c are relative)
 *   cel: EXPR                       (bound: event, podSpec, containers, serviceAccount; strings extension)
 *
 * PATH is dotted (`requestObject.spec.hostNetwork`); `[]` expands an array (`containers[].image`),
 * and the test holds when any expanded value passes. A test operand `@name` refers to a list.
 */
export type Condition = Record<string, unknown>;
export type Lists = ReadonlyMap<string, readonly unknown[]>;
export type Predicate = (root: unknown, event: AuditEvent) => boolean;

const SHORTHANDS: Record<string, string> = {
  verb: 'verb',
  resource: 'objectRef.resource',
  subresource: 'objectRef.subresource',
  apiGroup: 'objectRef.apiGroup',
  namespace: 'objectRef.namespace',
  name: 'objectRef.name',
  username: 'user.username',
};
const TESTS = ['equals', 'in', 'prefix', 'suffix', 'contains', 'glob', 'regex', 'exists', 'cidr', 'gt', 'lt'] as const;

function fail(where: string, message: string): never {
  throw new PalisadeError('audit.rule-invalid', `${where}: ${message}`, { field: where });
}

/** Walks PATH from root, calling visit on each value reached; stops early when visit returns true. */
type Walker = (root: unknown, event: AuditEvent, visit: (value: unknown) => boolean) => boolean;

/**
 * Splits `a.b[].c` and `annotations["authorization.k8s.io/decision"]` (keys holding dots) into
 * steps; `[]` after a key expands the array there.
 */
export function parsePath(path: string): Array<{ key: string; expand: boolean }> {
  const steps: Array<{ key: string; expand: boolean }> = [];
  const re = /\.?(?:\["([^"]+)"\]|([^.[\]]+))(\[\])?/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < path.length && (m = re.exec(path)) !== null) {
    steps.push({ key: (m[1] ?? m[2])!, expand: m[3] !== undefined });
    at = re.lastIndex;
  }
  if (at !== path.length || steps.length === 0) throw new Error(`bad field path ${path}`);
  return steps;
}

function compilePath(path: string, where: string, relative: boolean): Walker {
  if (typeof path !== 'string' || path === '') fail(where, 'field path must be a non-empty string');
  let steps: Array<{ key: string; expand: boolean }>;
  try {
    steps = parsePath(path);
  } catch (error) {
    fail(where, (error as Error).message);
  }
  const view = !relative ? VIEW_ROOTS[steps[0]!.key] : undefined;
  const walk = (value: unknown, i: number, visit: (v: unknown) => boolean): boolean => {
    for (; i < steps.length; i++) {
      const step = steps[i]!;
      if (!(view && i === 0)) {
        if (typeof value !== 'object' || value === null) return false;
        value = (value as Record<string, unknown>)[step.key];
      }
      if (step.expand) {
        if (!Array.isArray(value)) return false;
        for (const item of value) if (walk(item, i + 1, visit)) return true;
        return false;
      }
    }
    return value === undefined ? false : visit(value);
  };
  if (view) return (_root, event, visit) => walk(view(event), 0, visit);
  const expanded = steps.findIndex((s) => s.expand);
  // Fast paths: a plain dotted path (`user.username`), and one whose last step is an array whose
  // elements are tested (`sourceIPs[]`).
  if (expanded === -1 || expanded === steps.length - 1) {
    const keys = steps.map((s) => s.key);
    const follow = (root: unknown): unknown => {
      let value = root;
      for (const key of keys) {
        if (typeof value !== 'object' || value === null) return undefined;
        value = (value as Record<string, unknown>)[key];
      }
      return value;
    };
    if (expanded === -1) return (root, _event, visit) => {
      const value = follow(root);
      return value === undefined ? false : visit(value);
    };
    return (root, _event, visit) => {
      const value = follow(root);
      if (!Array.isArray(value)) return false;
      for (let i = 0; i < value.length; i++) if (value[i] !== undefined && visit(value[i])) return true;
      return false;
    };
  }
  return (root, _event, visit) => walk(root, 0, visit);
}

function operand(value: unknown, lists: Lists, where: string): unknown {
  if (typeof value === 'string' && value.startsWith('@')) {
    const list = lists.get(value.slice(1));
    if (!list) fail(where, `unknown list ${value}`);
    return list;
  }
  return value;
}

function asStrings(value: unknown, where: string, test: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((v) => typeof v === 'string')) fail(where, `${test} needs a string or a list of strings`);
  return list as string[];
}

export function globToRegExp(globs: readonly string[]): RegExp {
  const alternatives = globs.map((g) => g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.'));
  return new RegExp(`^(?:${alternatives.join('|')})$`);
}

function ipBlockList(entries: string[], where: string): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const family = isIP(address ?? '');
    if (!family) fail(where, `${entry} is not an IP address or CIDR range`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, Number(prefix), type);
  }
  return list;
}

/**
 * Remembers a string test's answers: the rules that meet every event (source IP lists, user-agent
 * globs) see the same few hundred strings over and over. Bounded; cleared when full.
 */
function memo(test: (v: string) => boolean, max = 10_000): (v: unknown) => boolean {
  const seen = new Map<string, boolean>();
  return (v) => {
    if (typeof v !== 'string') return false;
    let answer = seen.get(v);
    if (answer === undefined) {
      answer = test(v);
      if (seen.size >= max) seen.clear();
      seen.set(v, answer);
    }
    return answer;
  };
}

function compileTest(test: string, raw: unknown, lists: Lists, where: string): (value: unknown) => boolean {
  const arg = operand(raw, lists, where);
  switch (test) {
    case 'equals':
      return (v) => v === arg;
    case 'in': {
      if (!Array.isArray(arg)) fail(where, 'in needs a list');
      const set = new Set(arg);
      return (v) => set.has(v);
    }
    case 'prefix': {
      const prefixes = asStrings(arg, where, test);
      return (v) => typeof v === 'string' && prefixes.some((p) => v.startsWith(p));
    }
    case 'suffix': {
      const suffixes = asStrings(arg, where, test);
      return (v) => typeof v === 'string' && suffixes.some((p) => v.endsWith(p));
    }
    case 'contains': {
      // A substring of a string value, or an element of an array value.
      const needles = Array.isArray(arg) ? arg : [arg];
      return (v) => typeof v === 'string' ? needles.some((n) => typeof n === 'string' && v.includes(n))
        : Array.isArray(v) && needles.some((n) => v.includes(n));
    }
    case 'glob': {
      const re = globToRegExp(asStrings(arg, where, test));
      return memo((v) => re.test(v));
    }
    case 'regex': {
      let re: RegExp;
      try {
        re = new RegExp(asStrings(arg, where, test).join('|'));
      } catch (error) {
        fail(where, `bad regex: ${(error as Error).message}`);
      }
      return (v) => typeof v === 'string' && re.test(v);
    }
    case 'cidr': {
      const blocks = ipBlockList(asStrings(arg, where, test), where);
      return memo((v) => {
        const family = isIP(v);
        return family !== 0 && blocks.check(v, family === 6 ? 'ipv6' : 'ipv4');
      });
    }
    case 'gt':
    case 'lt': {
      if (typeof arg !== 'number') fail(where, `${test} needs a number`);
      return test === 'gt' ? (v) => typeof v === 'number' && v > arg : (v) => typeof v === 'number' && v < arg;
    }
    default:
      fail(where, `unknown test ${test}`);
  }
}

const cel = celEnv({ funcs: strings });

function compileCel(expr: unknown, where: string): Predicate {
  if (typeof expr !== 'string') fail(where, 'cel needs an expression string');
  let program: ReturnType<typeof plan>;
  try {
    program = plan(cel, parse(expr));
  } catch (error) {
    fail(where, `CEL does not parse: ${(error as Error).message}`);
  }
  return (_root, event) => {
    // A missing field is a CelError, which is "no match", like a declarative test on a missing path.
    const result = program({
      event: event as never,
      podSpec: (podSpecOf(event) ?? null) as never,
      containers: containersOf(event) as never,
      serviceAccount: (serviceAccountOf(event) ?? null) as never,
    });
    return !isCelError(result) && result === true;
  };
}

/** Compiles a condition into one predicate; `relative` conditions (inside anyOf) see the array element as root. */
export function compileCondition(condition: unknown, lists: Lists, where = 'condition', relative = false): Predicate {
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) fail(where, 'a condition is an object');
  const c = condition as Condition;
  const parts: Predicate[] = [];
  for (const [key, value] of Object.entries(c)) {
    if (key in SHORTHANDS && !relative) {
      const walker = compilePath(SHORTHANDS[key]!, `${where}.${key}`, false);
      const isList = Array.isArray(value) || (typeof value === 'string' && value.startsWith('@'));
      const test = compileTest(isList ? 'in' : 'equals', value, lists, `${where}.${key}`);
      parts.push((root, event) => walker(root, event, test));
    } else if (key === 'all' || key === 'any') {
      if (!Array.isArray(value) || value.length === 0) fail(`${where}.${key}`, 'needs a non-empty list of conditions');
      const subs = value.map((v, i) => compileCondition(v, lists, `${where}.${key}[${i}]`, relative));
      parts.push(key === 'all' ? (r, e) => subs.every((s) => s(r, e)) : (r, e) => subs.some((s) => s(r, e)));
    } else if (key === 'not') {
      const sub = compileCondition(value, lists, `${where}.not`, relative);
      parts.push((r, e) => !sub(r, e));
    } else if (key === 'cel') {
      parts.push(compileCel(value, `${where}.cel`));
    } else if (key === 'anyOf') {
      const walker = compilePath(value as string, `${where}.anyOf`, relative);
      const sub = compileCondition(c.where, lists, `${where}.where`, true);
      parts.push((root, event) => walker(root, event, (v) => Array.isArray(v) ? v.some((item) => sub(item, event)) : sub(v, event)));
    } else if (key === 'where') {
      if (!('anyOf' in c)) fail(`${where}.where`, 'where belongs to anyOf');
    } else if (key === 'field') {
      const tests = TESTS.filter((t) => t in c);
      if (tests.length !== 1) fail(where, `field ${String(value)} needs exactly one of ${TESTS.join(', ')}`);
      const name = tests[0]!;
      const walker = compilePath(value as string, `${where}.field`, relative);
      if (name === 'exists') {
        const want = c.exists !== false;
        parts.push((root, event) => walker(root, event, FOUND) === want);
      } else {
        const test = compileTest(name, c[name], lists, `${where}.${name}`);
        parts.push((root, event) => walker(root, event, test));
      }
    } else if (!(TESTS as readonly string[]).includes(key) || !('field' in c)) {
      fail(`${where}.${key}`, 'unknown condition key');
    }
  }
  if (parts.length === 0) fail(where, 'empty condition');
  if (parts.length === 1) return parts[0]!;
  return (root, event) => {
    for (const part of parts) if (!part(root, event)) return false;
    return true;
  };
}

/** Values of the index shorthands at the top of a condition, or undefined when the rule can meet any value. */
export function indexKeys(condition: Condition, key: 'verb' | 'resource' | 'subresource', lists: Lists): Set<string> | undefined {
  const raw = condition[key];
  if (raw === undefined) return undefined;
  const value = operand(raw, lists, `condition.${key}`);
  return new Set((Array.isArray(value) ? value : [value]).map(String));
}

const FOUND = (): boolean => true;

/** The first value at PATH, or undefined: a stateful rule's scalar key, read without allocating. */
export function compileFirst(path: string, where: string): (event: AuditEvent) => unknown {
  const walker = compilePath(path, where, false);
  let found: unknown;
  const take = (v: unknown): boolean => {
    found = v;
    return true;
  };
  return (event) => {
    found = undefined;
    walker(event, event, take);
    return found;
  };
}

/** Every value at PATH (after `[]` expansion), for stateful rules' scope and value keys. */
export function compileValues(path: string, where: string): (event: AuditEvent) => unknown[] {
  const walker = compilePath(path, where, false);
  return (event) => {
    const out: unknown[] = [];
    walker(event, event, (v) => {
      out.push(v);
      return false;
    });
    return out;
  };
}
