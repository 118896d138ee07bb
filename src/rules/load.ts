import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { PalisadeError, yamlLibrary } from '../core/index.js';
import { ruleError, type Condition } from './condition.js';
import { appendExceptions } from './exceptions.js';

/**
 * The one loader of rule files, for every capability. A file is a YAML mapping of
 *   lists:     name: [items]                     (see `listRedefinition` for a plain redefinition)
 *              name: { items: [...], append: true } or { items, override: { items: append | replace } }
 *   macros:    name: condition                   (defines, or replaces a macro of an earlier file)
 *              name: { condition, append: true } or { condition, override: { condition: append | replace } }
 *   rules:     [rule, ...]                       (a rule whose id an earlier file defined replaces it, unless it
 *                                                 says `append: true` or `override: { key: append | replace }`)
 *   overrides: [{ rule, enabled, severity, exceptions }]   (tune a rule without restating it)
 *   samples:   name: event                       (shared samples that rule samples `$ref`)
 * Files load in order: the built-in directory's, then the user's, each sorted by name, so a user
 * file extends or replaces what the built-ins define, as Falco's rules files do: appending to a list
 * adds items; appending to a macro ORs the new condition to it (it widens what the macro matches,
 * how `user_known_*` exceptions grow); appending to a rule ANDs the new condition to it (it
 * narrows the rule) and adds exception values by exception name.
 */
type Json = Record<string, unknown>;

export interface LoadRuleFilesOptions {
  /** Error code prefix (`audit` → `audit.rule-invalid`). */
  code: string;
  builtinDir?: string;
  userDir?: string;
  /**
   * What a plain `name: [items]` does to a list an earlier file defined: `replace` (Falco's
   * semantics, the audit rules') or `append` (what the node agent's --rules-dir has always done).
   */
  listRedefinition: 'replace' | 'append';
  /** Tuning applied after every file (audit analyze's overrides from the caller). */
  overrides?: Json[];
}

export interface LoadedRules {
  /** Rule objects as written, merged, tuned and with macros expanded; `source` names the file. */
  rules: Array<Json & { id: string; source: string }>;
  lists: Map<string, unknown[]>;
  macros: Map<string, Condition | boolean>;
  samples: Map<string, Json>;
}

const TOP_KEYS = ['lists', 'macros', 'rules', 'overrides', 'samples'];
/** Rule keys a later file may append to (the rest can only be replaced). */
const APPENDABLE = new Set(['condition', 'exceptions']);

function yamlFiles(dir: string, code: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new PalisadeError(`${code}.rules-dir`, `cannot read rules directory ${dir}`, { kind: 'not-found', field: 'PALISADE_RULES_DIR', cause: error });
  }
  return names.filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => path.join(dir, n)).filter((f) => statSync(f).isFile());
}

/**
 * The parsed form the build writes beside a built-in rule file (scripts/copy-assets.mjs), when it
 * is at least as new as the file: JSON.parse reads it in a fraction of the time YAML takes.
 */
function prebuiltJson(file: string): string | undefined {
  const json = `${file}.json`;
  if (!existsSync(json)) return undefined;
  return statSync(json).mtimeMs >= statSync(file).mtimeMs ? readFileSync(json, 'utf8') : undefined;
}

function readYaml(file: string, code: string, builtin: boolean): Json {
  let doc: unknown;
  try {
    const json = builtin ? prebuiltJson(file) : undefined;
    // yaml is loaded only when a file has no prebuilt form (user rules, the sources under tests).
    doc = json !== undefined ? JSON.parse(json) : yamlLibrary().parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new PalisadeError(`${code}.rule-invalid`, `${file}: not valid YAML: ${(error as Error).message}`, { field: file, cause: error });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) ruleError(code, file, 'a rule file is a mapping of lists, macros, rules, overrides and samples');
  for (const key of Object.keys(doc)) if (!TOP_KEYS.includes(key)) ruleError(code, `${file}: ${key}`, 'unknown top-level key', 'a rule file has lists, macros, rules, overrides and samples');
  return doc as Json;
}

/** `append: true` (Falco's older form) or `override: { key: append | replace }` (its current one): what to do with `key`. */
function mergeMode(entry: Json, key: string, code: string, where: string): 'append' | 'replace' | undefined {
  if (entry.override !== undefined) {
    if (typeof entry.override !== 'object' || entry.override === null) ruleError(code, `${where}.override`, 'must map keys to append or replace');
    const mode = (entry.override as Json)[key];
    if (mode !== undefined && mode !== 'append' && mode !== 'replace') ruleError(code, `${where}.override.${key}`, `${String(mode)} is neither append nor replace`);
    if (entry.append !== undefined) ruleError(code, where, 'append and override cannot be used together');
    return mode as 'append' | 'replace' | undefined;
  }
  return entry.append === true ? 'append' : undefined;
}

function loadLists(d: Json, file: string, options: LoadRuleFilesOptions, lists: Map<string, unknown[]>): void {
  const code = options.code;
  for (const [name, value] of Object.entries((d.lists ?? {}) as Json)) {
    const where = `${file}: lists.${name}`;
    if (Array.isArray(value)) {
      lists.set(name, options.listRedefinition === 'append' ? [...(lists.get(name) ?? []), ...value] : value);
      continue;
    }
    if (typeof value !== 'object' || value === null || !Array.isArray((value as Json).items)) ruleError(code, where, 'must be a list, or { items: [...], append: true }');
    const items = (value as Json).items as unknown[];
    const mode = mergeMode(value as Json, 'items', code, where);
    if (mode === 'append') {
      // Appending to a list that does not exist yet starts it: a user's feed may come before any rule names it.
      lists.set(name, [...(lists.get(name) ?? []), ...items]);
    } else lists.set(name, items);
  }
}

function loadMacros(d: Json, file: string, code: string, macros: Map<string, Condition | boolean>): void {
  for (const [name, value] of Object.entries((d.macros ?? {}) as Json)) {
    const where = `${file}: macros.${name}`;
    const wrapped = typeof value === 'object' && value !== null && !Array.isArray(value) && 'condition' in value;
    const condition = wrapped ? (value as Json).condition : value;
    if (typeof condition !== 'boolean' && (typeof condition !== 'object' || condition === null || Array.isArray(condition))) {
      ruleError(code, where, 'a macro is a condition object (or true/false)');
    }
    const mode = wrapped ? mergeMode(value as Json, 'condition', code, where) : undefined;
    if (mode === 'append') {
      const old = macros.get(name);
      if (old === undefined) ruleError(code, where, `cannot append to macro ${name}: no earlier file defines it`);
      macros.set(name, { any: [old, condition] });
    } else macros.set(name, condition as Condition | boolean);
  }
}

function mergeRule(old: Json, entry: Json, code: string, where: string): Json {
  const merged: Json = { ...old };
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'id' || key === 'append' || key === 'override') continue;
    const mode = mergeMode(entry, key, code, where) ?? (entry.override !== undefined ? undefined : 'append');
    if (mode === undefined) ruleError(code, `${where}.${key}`, 'the override names no mode for this key', `add override: { ${key}: append } or { ${key}: replace }`);
    if (mode === 'replace' || !APPENDABLE.has(key)) {
      if (mode === 'append') ruleError(code, `${where}.${key}`, 'only condition and exceptions can be appended to', `use override: { ${key}: replace }`);
      merged[key] = value;
    } else if (key === 'condition') {
      merged.condition = old.condition === undefined ? value : { all: [old.condition, value] };
    } else {
      merged.exceptions = appendExceptions(old.exceptions, value, code, `${where}.exceptions`);
    }
  }
  return merged;
}

/**
 * Replaces `macro: name` (or a list of names) anywhere in a condition by the named conditions,
 * ANDed with the rest of the object: the shared pieces (who the control plane is, which
 * subresources do not change a pod spec) are written once. Macros may use macros.
 */
function expandMacros(condition: unknown, macros: ReadonlyMap<string, Condition | boolean>, code: string, where: string, depth = 0): unknown {
  if (depth > 20) ruleError(code, where, 'macros nest too deep (a macro that uses itself?)');
  if (Array.isArray(condition)) return condition.map((c, i) => expandMacros(c, macros, code, `${where}[${i}]`, depth));
  if (typeof condition !== 'object' || condition === null) return condition;
  const out: Json = {};
  let used: unknown[] = [];
  for (const [key, value] of Object.entries(condition as Json)) {
    if (key === 'macro') {
      const names = Array.isArray(value) ? value : [value];
      used = names.map((n) => {
        const macro = macros.get(String(n));
        if (macro === undefined) ruleError(code, `${where}.macro`, `unknown macro ${String(n)}`);
        return expandMacros(macro, macros, code, `macro ${String(n)}`, depth + 1);
      });
    } else out[key] = key === 'where' || key === 'not' || key === 'all' || key === 'any' ? expandMacros(value, macros, code, `${where}.${key}`, depth) : value;
  }
  if (used.length === 0) return out;
  if (Object.keys(out).length === 0 && used.length === 1) return used[0];
  out.all = [...((out.all as unknown[] | undefined) ?? []), ...used];
  return out;
}

function applyOverride(rules: Map<string, Json & { id: string; source: string }>, o: Json, code: string, where: string): void {
  const id = o.rule;
  if (typeof id !== 'string' || id === '') ruleError(code, `${where}.rule`, 'is required and must be a string');
  const rule = rules.get(id);
  if (!rule) ruleError(code, `overrides: ${id}`, 'no such rule');
  for (const key of Object.keys(o)) if (!['rule', 'enabled', 'severity', 'exceptions'].includes(key)) ruleError(code, `${where}.${key}`, 'unknown override key', 'an override sets enabled, severity or exceptions');
  if (o.enabled !== undefined) rule.enabled = o.enabled === true;
  if (o.severity !== undefined) rule.severity = o.severity;
  if (o.exceptions !== undefined) rule.exceptions = appendExceptions(rule.exceptions, o.exceptions, code, `${where}.exceptions`);
}

/** Reads, merges and macro-expands the built-in rule files and the user's. */
export function loadRuleFiles(options: LoadRuleFilesOptions): LoadedRules {
  const code = options.code;
  const files = [
    ...(options.builtinDir ? yamlFiles(options.builtinDir, code).map((file) => ({ file, builtin: true })) : []),
    ...(options.userDir ? yamlFiles(options.userDir, code).map((file) => ({ file, builtin: false })) : []),
  ];
  const lists = new Map<string, unknown[]>();
  const macros = new Map<string, Condition | boolean>();
  const samples = new Map<string, Json>();
  const rules = new Map<string, Json & { id: string; source: string }>();
  const builtinIds = new Set<string>();
  const overrides: Array<{ o: Json; where: string }> = [];
  for (const { file, builtin } of files) {
    const d = readYaml(file, code, builtin);
    loadLists(d, file, options, lists);
    loadMacros(d, file, code, macros);
    for (const [name, sample] of Object.entries((d.samples ?? {}) as Record<string, Json>)) samples.set(name, sample);
    if (d.rules !== undefined && !Array.isArray(d.rules)) ruleError(code, `${file}: rules`, 'must be a list');
    ((d.rules ?? []) as unknown[]).forEach((entry, i) => {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) ruleError(code, `${file}: rules[${i}]`, 'a rule is a mapping');
      const r = entry as Json;
      if (typeof r.id !== 'string' || r.id === '') ruleError(code, `${file}: rules[${i}]`, 'a rule needs an id');
      const where = `${file}: ${r.id}`;
      const old = rules.get(r.id);
      if (r.append !== undefined || r.override !== undefined) {
        if (!old) ruleError(code, where, 'no earlier rule has this id to append to or override');
        rules.set(r.id, { ...mergeRule(old, r, code, where), id: r.id, source: old.source });
        return;
      }
      if (old && builtin && builtinIds.has(r.id)) ruleError(code, where, `duplicate rule id (also in ${old.source})`, 'use append: true or override: to change a rule');
      if (builtin) builtinIds.add(r.id);
      rules.set(r.id, { ...r, id: r.id, source: file });
    });
    if (d.overrides !== undefined && !Array.isArray(d.overrides)) ruleError(code, `${file}: overrides`, 'must be a list');
    ((d.overrides ?? []) as Json[]).forEach((o, i) => overrides.push({ o, where: `${file}: overrides[${i}]` }));
  }
  (options.overrides ?? []).forEach((o, i) => overrides.push({ o, where: `overrides[${i}]` }));
  for (const { o, where } of overrides) applyOverride(rules, o, code, where);
  for (const rule of rules.values()) {
    if (rule.condition !== undefined) rule.condition = expandMacros(rule.condition, macros, code, `${rule.source}: ${rule.id}.condition`);
  }
  return { rules: [...rules.values()], lists, macros, samples };
}
