import { compileCondition, ruleError, TESTS, type EventSchema, type Lists, type Predicate } from './condition.js';

/**
 * Per-rule exceptions, as Falco's: events a rule must not fire on, kept apart from its condition
 * so a user file extends them by name without restating the rule.
 *
 *   exceptions:
 *     - name: known_shell_parents
 *       fields: [container.image, parent.name]   # paths of the condition language
 *       comps: [glob, equals]                    # tests (Falco's =, in, startswith, endswith, pmatch too); default equals
 *       values: [[registry.example.com/*, supervisord]]   # tuples: the event is excepted when every field passes
 *     - name: known_admins
 *       fields: user.username                    # one field: values are a flat list, comps defaults to in
 *       values: [ops@example.com]
 *
 * A capability may also offer named exception kinds as a mapping (`exceptions: { users: [globs] }`
 * in audit rules); those are kept as `{ name: kind, values }` and compiled by the capability.
 * Appending (a later file's rule with `append: true`, `override: { exceptions: append }`, or an
 * `overrides:` entry) adds values to the exception of the same name, or adds a new exception.
 */
export interface RuleException {
  name: string;
  /** Absent for a capability's exception kind (its name says which). */
  fields?: string | string[];
  comps?: string | string[];
  values: unknown[];
}

/** Compiles a capability's exception kind from its values: the event is excepted when it returns true. */
export type ExceptionKind<E> = (values: string[], lists: Lists, where: string) => (event: E) => boolean;

type Json = Record<string, unknown>;

const FALCO_COMPS: Record<string, string> = { '=': 'equals', in: 'in', startswith: 'prefix', endswith: 'suffix', pmatch: 'prefix', contains: 'contains', glob: 'glob' };

function normalize(value: unknown, code: string, where: string): RuleException[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) {
    return value.map((e, i) => {
      const w = `${where}[${i}]`;
      if (typeof e !== 'object' || e === null) ruleError(code, w, 'an exception is { name, fields, comps, values }');
      const x = e as Json;
      if (typeof x.name !== 'string' || x.name === '') ruleError(code, `${w}.name`, 'is required');
      if (x.values !== undefined && !Array.isArray(x.values)) ruleError(code, `${w}.values`, 'must be a list');
      return { name: x.name, ...(x.fields !== undefined ? { fields: x.fields as string | string[] } : {}), ...(x.comps !== undefined ? { comps: x.comps as string | string[] } : {}), values: (x.values ?? []) as unknown[] };
    });
  }
  if (typeof value !== 'object') ruleError(code, where, 'must be a list of exceptions, or a mapping of exception kinds to values');
  return Object.entries(value as Json).map(([name, values]) => {
    if (typeof values === 'string') return { name, values: [values] };
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) ruleError(code, `${where}.${name}`, 'must be a list of globs');
    return { name, values };
  });
}

/** The exceptions of `base` with those of `more` added: values of a same-named exception are appended. */
export function appendExceptions(base: unknown, more: unknown, code: string, where: string): RuleException[] {
  const out = normalize(base, code, where).map((e) => ({ ...e, values: [...e.values] }));
  for (const extra of normalize(more, code, where)) {
    const same = out.find((e) => e.name === extra.name);
    if (same) same.values.push(...extra.values);
    else out.push(extra);
  }
  return out;
}

export function parseExceptions(value: unknown, code: string, where: string): RuleException[] {
  return normalize(value, code, where);
}

/** One predicate that holds when any exception does, or undefined when the rule has none with values. */
export function compileExceptions<E>(exceptions: readonly RuleException[], lists: Lists, schema: EventSchema<E>, kinds: Readonly<Record<string, ExceptionKind<E>>>, where: string): ((event: E) => boolean) | undefined {
  const code = schema.code;
  const parts: Array<(event: E) => boolean> = [];
  for (const e of exceptions) {
    const w = `${where}.${e.name}`;
    if (e.values.length === 0) continue;
    if (e.fields === undefined) {
      const kind = kinds[e.name];
      if (!kind) ruleError(code, w, `unknown exception kind ${e.name}`, Object.keys(kinds).length ? `use ${Object.keys(kinds).join(', ')}, or { name, fields, comps, values }` : 'write it as { name, fields, comps, values }');
      parts.push(kind(e.values.map(String), lists, w));
      continue;
    }
    const comp = (c: unknown): string => {
      const name = FALCO_COMPS[String(c)] ?? String(c);
      if (!(TESTS as readonly string[]).includes(name)) ruleError(code, `${w}.comps`, `unknown comparison ${String(c)}`);
      return name;
    };
    let condition: unknown;
    if (typeof e.fields === 'string') {
      condition = { field: e.fields, [comp(e.comps ?? 'in')]: e.values };
    } else {
      const fields = e.fields;
      const comps = Array.isArray(e.comps) ? e.comps : fields.map(() => e.comps ?? 'equals');
      if (comps.length !== fields.length) ruleError(code, `${w}.comps`, 'needs one comparison per field');
      condition = {
        any: e.values.map((tuple, i) => {
          if (!Array.isArray(tuple) || tuple.length !== fields.length) ruleError(code, `${w}.values[${i}]`, `must be a list of ${fields.length} values, one per field`);
          return { all: fields.map((f, j) => ({ field: f, [comp(comps[j])]: tuple[j] })) };
        }),
      };
    }
    const test: Predicate<E> = compileCondition(condition, lists, schema, w);
    parts.push((event) => test(event, event));
  }
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  return (event) => parts.some((p) => p(event));
}
