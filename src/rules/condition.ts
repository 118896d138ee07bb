import { BlockList, isIP } from 'node:net';
import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { RE2JS } from '@bufbuild/re2';
import { PalisadeError } from '../core/index.js';

/**
 * The one condition language of Palisade's detection rules (audit and host), compiled once into
 * closures. A condition is an object whose keys are ANDed (or `true`/`false`, for a macro that
 * users widen later):
 *
 *   PATH: test          a scalar (equals), a list or `'@list'` (in), or an object of tests, ANDed:
 *                       { equals | in | prefix | suffix | contains | glob | regex | cidr | exists | gt | lt: operand }
 *   field: PATH  + one test key beside it (`field: user.username, glob: 'system:*'`)
 *   all: [c, ...]   any: [c, ...]   not: c
 *   anyOf: PATH  where: c          some element of the array at PATH satisfies c (paths in c are relative to it)
 *   cel: EXPR                       a CEL expression over the variables the event schema binds
 *
 * (`macro: name` is replaced by the named condition when the rules load, see load.ts.)
 *
 * PATH is dotted over the event (`user.username`, `process.name`); keys holding dots are quoted
 * (`annotations["authorization.k8s.io/decision"]`). An array met along the path is expanded (its
 * elements are walked on: `ancestors.name`), `[]` says so explicitly (`containers[].image`), and a
 * test on an array value holds when any element passes (`exists` judges the array: non-empty).
 * An operand `'@name'` refers to a list. Each capability supplies its EventSchema: shorthands,
 * derived path roots computed only when a rule names them, the field roots a path may start from,
 * and the CEL variables.
 */
export type Condition = Record<string, unknown>;
export type Lists = ReadonlyMap<string, readonly unknown[]>;
/** `root` is what paths start from (the event, or an array element inside anyOf); `event` is the whole event. */
export type Predicate<E> = (root: unknown, event: E) => boolean;

export interface EventSchema<E> {
  /** Error code prefix: `audit` gives `audit.rule-invalid`. */
  code: string;
  /** Shorthand keys for paths (`resource` for `objectRef.resource`). */
  aliases?: Readonly<Record<string, string>>;
  /** Path roots computed from the event only when a rule names them (`podSpec`, `containers`). */
  views?: Readonly<Record<string, (event: E) => unknown>>;
  /** The first path steps a condition may name; a typo in a key is then an error, not a rule that never fires. */
  roots?: ReadonlySet<string>;
  /** The variables a `cel:` expression sees. */
  cel: (event: E) => Record<string, unknown>;
}

export const TESTS = ['equals', 'in', 'prefix', 'suffix', 'contains', 'glob', 'regex', 'cidr', 'exists', 'gt', 'lt'] as const;
const KEYWORDS = new Set(['all', 'any', 'not', 'cel', 'anyOf', 'where', 'field', 'macro']);

export function ruleError(code: string, where: string, message: string, hint?: string): never {
  throw new PalisadeError(`${code}.rule-invalid`, `${where}: ${message}`, { field: where, ...(hint ? { hint } : {}) });
}

type Visit = (value: unknown) => boolean;
/** Walks PATH from root, calling visit on each value reached; stops early when visit returns true. */
type Walker<E> = (root: unknown, event: E, visit: Visit) => boolean;

/**
 * Splits `a.b[].c` and `annotations["authorization.k8s.io/decision"]` (keys holding dots) into
 * steps; `[]` after a key expands the array there.
 */
function parsePath(path: string): Array<{ key: string; expand: boolean }> {
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

/** What a walk met when a plain path crossed an array: the general walker takes over. */
const CROSSED_ARRAY = Symbol('array');

function compilePath<E>(path: unknown, schema: EventSchema<E>, where: string, relative: boolean): Walker<E> {
  if (typeof path !== 'string' || path === '') ruleError(schema.code, where, 'field path must be a non-empty string');
  let steps: Array<{ key: string; expand: boolean }>;
  try {
    steps = parsePath(path);
  } catch (error) {
    ruleError(schema.code, where, (error as Error).message);
  }
  const first = steps[0]!.key;
  const view = !relative ? schema.views?.[first] : undefined;
  if (!relative && !view && schema.roots && !schema.roots.has(first)) {
    ruleError(schema.code, where, `unknown field ${first}`, `a path starts with one of ${[...schema.roots, ...Object.keys(schema.views ?? {})].join(', ')}`);
  }
  const walk = (value: unknown, i: number, visit: Visit): boolean => {
    for (; i < steps.length; i++) {
      const step = steps[i]!;
      if (!(view && i === 0)) {
        // An array met on the way is expanded: `ancestors.name` walks every ancestor.
        if (Array.isArray(value)) {
          for (const item of value) if (walk(item, i, visit)) return true;
          return false;
        }
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
  if (expanded !== -1 && expanded !== steps.length - 1) return (root, _event, visit) => walk(root, 0, visit);
  // Fast paths: a plain dotted path (`user.username`), and one whose last step is an array whose
  // elements are tested (`sourceIPs[]`); an array crossed on the way hands over to the general walk.
  const keys = steps.map((s) => s.key);
  const follow = (root: unknown): unknown => {
    let value = root;
    for (const key of keys) {
      if (typeof value !== 'object' || value === null) return undefined;
      if (Array.isArray(value)) return CROSSED_ARRAY;
      value = (value as Record<string, unknown>)[key];
    }
    return value;
  };
  if (expanded === -1) return (root, _event, visit) => {
    const value = follow(root);
    if (value === CROSSED_ARRAY) return walk(root, 0, visit);
    return value === undefined ? false : visit(value);
  };
  return (root, _event, visit) => {
    const value = follow(root);
    if (value === CROSSED_ARRAY) return walk(root, 0, visit);
    if (!Array.isArray(value)) return false;
    for (let i = 0; i < value.length; i++) if (value[i] !== undefined && visit(value[i])) return true;
    return false;
  };
}

/** Resolves `@list` operands; a list of operands may mix literals and lists. */
function operand(value: unknown, lists: Lists, code: string, where: string): unknown {
  const resolve = (item: unknown): unknown => {
    if (typeof item !== 'string' || !item.startsWith('@')) return item;
    const list = lists.get(item.slice(1));
    if (!list) ruleError(code, where, `unknown list ${item}`);
    return list;
  };
  if (!Array.isArray(value)) return resolve(value);
  return value.flatMap((item) => {
    const resolved = resolve(item);
    return resolved !== item && Array.isArray(resolved) ? resolved : [resolved];
  });
}

function asStrings(value: unknown, code: string, where: string, test: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((v) => typeof v === 'string' || typeof v === 'number')) ruleError(code, where, `${test} needs a string or a list of strings`);
  return list.map(String);
}

export function globToRegExp(globs: readonly string[]): RegExp {
  const alternatives = globs.map((g) => g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.'));
  return new RegExp(`^(?:${alternatives.join('|')})$`);
}

/** IP addresses and CIDR ranges, each validated (a bad prefix is an error, not a range that never matches). */
function buildBlockList(entries: readonly unknown[], code = 'rules', where = 'cidr'): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const text = String(entry).trim();
    const [address, prefix] = text.split('/') as [string, string | undefined];
    const family = isIP(address);
    if (!family) ruleError(code, where, `'${text}' is not an IP address or CIDR range`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else {
      const bits = Number(prefix);
      if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) ruleError(code, where, `bad prefix in '${text}'`);
      list.addSubnet(address, bits, type);
    }
  }
  return list;
}

/**
 * Remembers a string test's answers: the rules that meet every event (source IP lists, user-agent
 * globs, process names) see the same few hundred strings over and over. Bounded; cleared when full.
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

/** Scalars compare by their text, so a port written `"443"` in YAML equals the number 443 in an event. */
function scalarKey(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0);
}

/** A test over one value (an array value passes when any element does). */
function compileTest(test: string, raw: unknown, lists: Lists, code: string, where: string): (value: unknown) => boolean {
  const arg = operand(raw, lists, code, where);
  let one: (value: unknown) => boolean;
  switch (test) {
    case 'equals':
    case 'in': {
      const items = Array.isArray(arg) ? arg : [arg];
      if (test === 'in' && !Array.isArray(arg)) ruleError(code, where, 'in needs a list');
      const want = items.length === 1 ? scalarKey(items[0]) : undefined;
      if (want !== undefined) {
        // One scalar (`verb: create`, `hostNetwork: true`): a comparison, no set.
        one = (v) => typeof v === 'string' ? v === want : scalarKey(v) === want;
        break;
      }
      const set = new Set(items.map((i) => scalarKey(i) ?? i));
      one = (v) => {
        if (typeof v === 'string') return set.has(v);
        const key = scalarKey(v);
        return key !== undefined ? set.has(key) : set.has(v);
      };
      break;
    }
    case 'prefix': {
      const prefixes = asStrings(arg, code, where, test);
      one = (v) => typeof v === 'string' && prefixes.some((p) => v.startsWith(p));
      break;
    }
    case 'suffix': {
      const suffixes = asStrings(arg, code, where, test);
      one = (v) => typeof v === 'string' && suffixes.some((p) => v.endsWith(p));
      break;
    }
    case 'contains': {
      // A substring of a string value, or (on an array value) an element.
      const needles = Array.isArray(arg) ? arg : [arg];
      one = (v) => typeof v === 'string' ? needles.some((n) => typeof n === 'string' && v.includes(n)) : needles.includes(v);
      break;
    }
    case 'glob': {
      const re = globToRegExp(asStrings(arg, code, where, test));
      one = memo((v) => re.test(v));
      break;
    }
    case 'regex': {
      let re: RegExp;
      try {
        re = new RegExp(asStrings(arg, code, where, test).map((r) => `(?:${r})`).join('|'));
      } catch (error) {
        ruleError(code, where, `bad regex: ${(error as Error).message}`);
      }
      one = (v) => typeof v === 'string' && re.test(v);
      break;
    }
    case 'cidr': {
      const blocks = buildBlockList(Array.isArray(arg) ? arg : [arg], code, where);
      one = memo((v) => {
        const family = isIP(v);
        return family !== 0 && blocks.check(v, family === 6 ? 'ipv6' : 'ipv4');
      });
      break;
    }
    case 'gt':
    case 'lt': {
      const n = typeof arg === 'number' ? arg : typeof arg === 'string' && arg.trim() !== '' ? Number(arg) : NaN;
      if (Number.isNaN(n)) ruleError(code, where, `${test} needs a number`);
      one = test === 'gt' ? (v) => typeof v === 'number' && v > n : (v) => typeof v === 'number' && v < n;
      break;
    }
    default:
      ruleError(code, where, `unknown test '${test}'`, `use ${TESTS.join(', ')}`);
  }
  return (v) => {
    if (!Array.isArray(v)) return one(v);
    for (let i = 0; i < v.length; i++) if (one(v[i])) return true;
    return false;
  };
}

/**
 * CEL's `matches()` compiles its pattern on every call; a rule's pattern is nearly always a
 * literal, so each is compiled once and kept (bounded: a pattern built from event data cannot
 * grow the cache without limit). Same RE2 engine and semantics as the built-in.
 */
const MAX_CACHED_PATTERNS = 1024;
const compiledPatterns = new Map<string, { test(text: string): boolean }>();
const cachedRe2 = {
  compile(pattern: string) {
    let compiled = compiledPatterns.get(pattern);
    if (!compiled) {
      compiled = RE2JS.compile(pattern);
      if (compiledPatterns.size >= MAX_CACHED_PATTERNS) compiledPatterns.clear();
      compiledPatterns.set(pattern, compiled);
    }
    return compiled;
  },
};

const cel = celEnv({ funcs: strings, re2: cachedRe2 });

function compileCel<E>(expr: unknown, schema: EventSchema<E>, where: string): Predicate<E> {
  if (typeof expr !== 'string') ruleError(schema.code, where, 'cel needs an expression string');
  let program: ReturnType<typeof plan>;
  try {
    program = plan(cel, parse(expr));
  } catch (error) {
    ruleError(schema.code, where, `CEL does not parse: ${(error as Error).message}`);
  }
  return (_root, event) => {
    // A missing field is a CelError, which is "no match", like a declarative test on a missing path.
    const result = program(schema.cel(event) as never);
    return !isCelError(result) && result === true;
  };
}

/** One path and its tests (`exists` among them judges the value as a whole). */
function compilePathTests<E>(walker: Walker<E>, tests: Array<[string, unknown]>, lists: Lists, code: string, where: string): Predicate<E> {
  const parts: Predicate<E>[] = tests.map(([name, raw]) => {
    if (name === 'exists') {
      const want = raw !== false;
      return (root, event) => walker(root, event, present) === want;
    }
    const test = compileTest(name, raw, lists, code, `${where}.${name}`);
    return (root, event) => walker(root, event, test);
  });
  return parts.length === 1 ? parts[0]! : (root, event) => parts.every((p) => p(root, event));
}

/** The tests a `PATH: spec` key asks for: a scalar is equals, a list or `'@list'` is in, an object names its tests. */
function testsOf(spec: unknown, code: string, where: string): Array<[string, unknown]> {
  if (Array.isArray(spec) || (typeof spec === 'string' && spec.startsWith('@'))) return [['in', spec]];
  if (typeof spec !== 'object' || spec === null) return [['equals', spec]];
  const entries = Object.entries(spec as Record<string, unknown>);
  if (entries.length === 0) ruleError(code, where, 'empty test');
  for (const [name] of entries) if (!(TESTS as readonly string[]).includes(name)) ruleError(code, `${where}.${name}`, `unknown test '${name}'`, `use ${TESTS.join(', ')}`);
  return entries;
}

/** Compiles a condition into one predicate; `relative` conditions (inside anyOf) see the array element as root. */
export function compileCondition<E>(condition: unknown, lists: Lists, schema: EventSchema<E>, where = 'condition', relative = false): Predicate<E> {
  const code = schema.code;
  if (typeof condition === 'boolean') return condition ? () => true : () => false;
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) ruleError(code, where, 'a condition is an object of tests');
  const c = condition as Condition;
  const parts: Predicate<E>[] = [];
  for (const [key, value] of Object.entries(c)) {
    const alias = relative ? undefined : schema.aliases?.[key];
    if (alias !== undefined) {
      parts.push(compilePathTests(compilePath(alias, schema, `${where}.${key}`, false), testsOf(value, code, `${where}.${key}`), lists, code, `${where}.${key}`));
    } else if (key === 'all' || key === 'any') {
      if (!Array.isArray(value) || value.length === 0) ruleError(code, `${where}.${key}`, 'needs a non-empty list of conditions');
      const subs = value.map((v, i) => compileCondition(v, lists, schema, `${where}.${key}[${i}]`, relative));
      parts.push(key === 'all' ? (r, e) => subs.every((s) => s(r, e)) : (r, e) => subs.some((s) => s(r, e)));
    } else if (key === 'not') {
      const sub = compileCondition(value, lists, schema, `${where}.not`, relative);
      parts.push((r, e) => !sub(r, e));
    } else if (key === 'cel') {
      parts.push(compileCel(value, schema, `${where}.cel`));
    } else if (key === 'anyOf') {
      const walker = compilePath(value, schema, `${where}.anyOf`, relative);
      const sub = compileCondition(c.where, lists, schema, `${where}.where`, true);
      parts.push((root, event) => walker(root, event, (v) => Array.isArray(v) ? v.some((item) => sub(item, event)) : sub(v, event)));
    } else if (key === 'where') {
      if (!('anyOf' in c)) ruleError(code, `${where}.where`, 'where belongs to anyOf');
    } else if (key === 'macro') {
      ruleError(code, `${where}.macro`, `unknown macro ${String(value)}`);
    } else if (key === 'field') {
      const tests = TESTS.filter((t) => t in c);
      if (tests.length !== 1) ruleError(code, where, `field ${String(value)} needs exactly one of ${TESTS.join(', ')}`);
      const name = tests[0]!;
      const field = !relative && typeof value === 'string' ? schema.aliases?.[value] ?? value : value;
      parts.push(compilePathTests(compilePath(field, schema, `${where}.field`, relative), [[name, c[name]]], lists, code, where));
    } else if ((TESTS as readonly string[]).includes(key) && 'field' in c) {
      // the test beside `field:`, compiled with it
    } else {
      parts.push(compilePathTests(compilePath(key, schema, `${where}.${key}`, relative), testsOf(value, code, `${where}.${key}`), lists, code, `${where}.${key}`));
    }
  }
  if (parts.length === 0) ruleError(code, where, 'empty condition');
  if (parts.length === 1) return parts[0]!;
  return (root, event) => {
    for (const part of parts) if (!part(root, event)) return false;
    return true;
  };
}

/** Values of a shorthand at the top of a condition, or undefined when the rule can meet any value (the capability's index keys). */
export function indexValues(condition: Condition, key: string, lists: Lists, code: string): Set<string> | undefined {
  const raw = condition[key];
  if (raw === undefined) return undefined;
  const value = operand(raw, lists, code, `condition.${key}`);
  return new Set((Array.isArray(value) ? value : [value]).map(String));
}

/** The first value at PATH, or undefined: a stateful rule's scalar key or a title field, read without allocating. */
export function compileFirst<E>(path: string, schema: EventSchema<E>, where: string): (event: E) => unknown {
  const walker = compilePath(schema.aliases?.[path] ?? path, schema, where, false);
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
export function compileValues<E>(path: string, schema: EventSchema<E>, where: string): (event: E) => unknown[] {
  const walker = compilePath(schema.aliases?.[path] ?? path, schema, where, false);
  return (event) => {
    const out: unknown[] = [];
    walker(event, event, (v) => {
      out.push(v);
      return false;
    });
    return out;
  };
}

export { KEYWORDS as CONDITION_KEYWORDS };
