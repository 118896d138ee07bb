/**
 * The agent's rule condition language, compiled once into closures. A condition is an object
 * whose keys are ANDed:
 *
 *   all: [c, ...]   any: [c, ...]   not: c
 *   PATH: test      test is a scalar (equals), a list (in) or one of
 *                   { in | equals | prefix | suffix | contains | glob | regex | cidr | exists | gt | lt: operand }
 *
 * PATH is dotted over the event view (view.ts): `process.name`, `parent.name`, `ancestors.name`
 * (a list: the test holds when any element passes), `remote.ip`, `container.id`. An operand
 * `@name` refers to a list (lists.yaml, or supplied at run time such as the threat-intel list).
 * Same shape as the audit rules' language, over host events.
 */
import { BlockList, isIP } from 'node:net';
import { PalisadeError } from '../core/index.js';

export type Condition = Record<string, unknown>;
export type Lists = ReadonlyMap<string, readonly unknown[]>;
export type Predicate = (view: Record<string, unknown>) => boolean;

const TESTS = ['equals', 'in', 'prefix', 'suffix', 'contains', 'glob', 'regex', 'cidr', 'exists', 'gt', 'lt'] as const;
type TestName = (typeof TESTS)[number];

function fail(where: string, message: string): never {
  throw new PalisadeError('agent.rule-invalid', `${where}: ${message}`, { field: where });
}

export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

/** Resolves `@list` operands; a list of operands may mix literals and lists. */
function operand(value: unknown, lists: Lists, where: string): unknown[] {
  const items = Array.isArray(value) ? value : [value];
  const out: unknown[] = [];
  for (const item of items) {
    if (typeof item === 'string' && item.startsWith('@')) {
      const list = lists.get(item.slice(1));
      if (!list) fail(where, `unknown list ${item}`);
      out.push(...list);
    } else out.push(item);
  }
  return out;
}

export function buildBlockList(entries: readonly unknown[], where = 'cidr'): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const text = String(entry).trim();
    const [address, prefix] = text.split('/') as [string, string | undefined];
    const family = isIP(address);
    if (!family) fail(where, `'${text}' is not an IP address or CIDR`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else {
      const bits = Number(prefix);
      if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) fail(where, `bad prefix in '${text}'`);
      list.addSubnet(address, bits, type);
    }
  }
  return list;
}

type ValueTest = (value: unknown) => boolean;

/** A test over one value; operands are resolved now (the engine recompiles when a run-time list changes). */
function compileTest(name: TestName, raw: unknown, lists: Lists, where: string): ValueTest {
  const items = operand(raw, lists, where);
  switch (name) {
    case 'equals':
    case 'in': {
      const set = new Set(items.map(String));
      return (v) => v !== undefined && v !== null && set.has(String(v));
    }
    case 'prefix': {
      const p = items.map(String);
      return (v) => typeof v === 'string' && p.some((x) => v.startsWith(x));
    }
    case 'suffix': {
      const p = items.map(String);
      return (v) => typeof v === 'string' && p.some((x) => v.endsWith(x));
    }
    case 'contains': {
      const p = items.map(String);
      return (v) => typeof v === 'string' && p.some((x) => v.includes(x));
    }
    case 'glob': {
      const res = items.map((g) => globToRegExp(String(g)));
      return (v) => typeof v === 'string' && res.some((r) => r.test(v));
    }
    case 'regex': {
      const res = items.map((g) => {
        try {
          return new RegExp(String(g));
        } catch (e) {
          fail(where, `bad regex: ${(e as Error).message}`);
        }
      });
      return (v) => typeof v === 'string' && res.some((r) => r.test(v));
    }
    case 'cidr': {
      const block = buildBlockList(items, where);
      return (v) => {
        if (typeof v !== 'string') return false;
        const family = isIP(v);
        return family !== 0 && block.check(v, family === 4 ? 'ipv4' : 'ipv6');
      };
    }
    case 'exists':
      return raw ? (v) => v !== undefined && v !== null && v !== '' : (v) => v === undefined || v === null || v === '';
    case 'gt':
      return (v) => typeof v === 'number' && v > Number(raw);
    case 'lt':
      return (v) => typeof v === 'number' && v < Number(raw);
  }
}

function compileField(path: string, spec: unknown, lists: Lists, where: string): Predicate {
  const steps = path.split('.');
  const get = (view: Record<string, unknown>): unknown => {
    let value: unknown = view;
    for (const step of steps) {
      if (Array.isArray(value)) value = value.map((v) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[step] : undefined));
      else if (value && typeof value === 'object') value = (value as Record<string, unknown>)[step];
      else return undefined;
    }
    return value;
  };
  let tests: ValueTest[];
  let existsTest = false;
  if (spec !== null && typeof spec === 'object' && !Array.isArray(spec)) {
    const entries = Object.entries(spec as Record<string, unknown>);
    if (!entries.length) fail(where, 'empty test');
    tests = entries.map(([name, raw]) => {
      if (!(TESTS as readonly string[]).includes(name)) fail(where, `unknown test '${name}' (use ${TESTS.join(', ')})`);
      if (name === 'exists') existsTest = true;
      return compileTest(name as TestName, raw, lists, `${where}.${name}`);
    });
  } else {
    tests = [compileTest(Array.isArray(spec) ? 'in' : 'equals', spec, lists, where)];
  }
  const all = (v: unknown) => tests.every((t) => t(v));
  return (view) => {
    const value = get(view);
    // A list value passes when any element passes; `exists` judges the list itself.
    if (Array.isArray(value) && !existsTest) return value.some(all);
    if (Array.isArray(value) && existsTest) return all(value.length ? value : undefined);
    return all(value);
  };
}

export function compileCondition(condition: unknown, lists: Lists, where = 'condition'): Predicate {
  if (condition === null || typeof condition !== 'object' || Array.isArray(condition)) fail(where, 'a condition is an object of tests');
  const parts: Predicate[] = [];
  for (const [key, value] of Object.entries(condition as Condition)) {
    if (key === 'all' || key === 'any') {
      if (!Array.isArray(value) || !value.length) fail(`${where}.${key}`, 'expects a non-empty list of conditions');
      const subs = value.map((c, i) => compileCondition(c, lists, `${where}.${key}[${i}]`));
      parts.push(key === 'all' ? (v) => subs.every((s) => s(v)) : (v) => subs.some((s) => s(v)));
    } else if (key === 'not') {
      const sub = compileCondition(value, lists, `${where}.not`);
      parts.push((v) => !sub(v));
    } else {
      parts.push(compileField(key, value, lists, `${where}.${key}`));
    }
  }
  return (v) => parts.every((p) => p(v));
}
