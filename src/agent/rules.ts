/**
 * Agent rules are data: YAML files of `lists:` and `rules:` in src/agent/rules/ (and an optional
 * user directory), each rule with the sample events that must fire it and must not. Validated
 * and compiled once; the engine indexes them by event kind.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isSeverity, PalisadeError, type Severity } from '../core/index.js';
import { compileCondition, type Lists, type Predicate } from './condition.js';
import type { HostEventKind } from './events.js';

const HERE = path.join(import.meta.dirname, 'rules');
/** The built CLI runs from dist/, where the YAML is not copied: fall back to the sources. */
export const BUILTIN_AGENT_RULES_DIR = hasYaml(HERE) ? HERE : path.resolve(import.meta.dirname, '../../src/agent/rules');

function hasYaml(dir: string): boolean {
  return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.yaml'));
}

const KINDS: readonly HostEventKind[] = ['exec', 'network', 'file', 'container', 'syscall'];

export interface AgentRule {
  id: string;
  title: string;
  description: string;
  severity: Severity;
  tactic: string;
  technique?: string;
  remediation: string;
  events: HostEventKind[];
  condition: unknown;
  samples: { fire: Record<string, unknown>[]; quiet: Record<string, unknown>[] };
  enabled: boolean;
  source: string;
}

export interface CompiledAgentRule extends AgentRule {
  test: Predicate;
}

export interface AgentRuleSet {
  rules: AgentRule[];
  lists: Map<string, unknown[]>;
}

function fail(where: string, message: string, hint?: string): never {
  throw new PalisadeError('agent.rule-invalid', `${where}: ${message}`, { field: where, ...(hint ? { hint } : {}) });
}

function str(value: unknown, where: string, required = true): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || !value.trim()) fail(where, 'must be a non-empty string');
  return value;
}

function parseRule(raw: unknown, where: string, source: string): AgentRule {
  if (!raw || typeof raw !== 'object') fail(where, 'a rule is a mapping');
  const r = raw as Record<string, unknown>;
  const id = str(r.id, `${where}.id`)!;
  const at = `${source}: rule ${id}`;
  const severity = r.severity;
  if (!isSeverity(severity)) fail(`${at}.severity`, `'${String(severity)}' is not a severity`, 'use critical, high, medium, low or informational');
  const mitre = (r.mitre ?? {}) as Record<string, unknown>;
  const events = r.events;
  if (!Array.isArray(events) || !events.length || events.some((e) => !KINDS.includes(e as HostEventKind))) fail(`${at}.events`, `must list event kinds among ${KINDS.join(', ')}`);
  const samples = (r.samples ?? {}) as Record<string, unknown>;
  const fire = samples.fire;
  const quiet = samples.quiet;
  if (!Array.isArray(fire) || !fire.length || !Array.isArray(quiet) || !quiet.length) fail(`${at}.samples`, 'every rule needs at least one fire and one quiet sample');
  if (r.condition === undefined) fail(`${at}.condition`, 'missing');
  const technique = str(mitre.technique, `${at}.mitre.technique`, false);
  return {
    id,
    title: str(r.title, `${at}.title`)!,
    description: str(r.description, `${at}.description`)!,
    severity,
    tactic: str(mitre.tactic, `${at}.mitre.tactic`)!,
    ...(technique ? { technique } : {}),
    remediation: str(r.remediation, `${at}.remediation`)!,
    events: events as HostEventKind[],
    condition: r.condition,
    samples: { fire: fire as Record<string, unknown>[], quiet: quiet as Record<string, unknown>[] },
    enabled: r.enabled !== false,
    source,
  };
}

/** Reads rule files: built-ins, then a user directory whose lists extend built-in lists and whose rules replace same-id rules. */
export function loadAgentRules(options: { dir?: string | null; builtin?: boolean } = {}): AgentRuleSet {
  const files: string[] = [];
  const dirs = [...(options.builtin === false ? [] : [BUILTIN_AGENT_RULES_DIR]), ...(options.dir ? [options.dir] : [])];
  for (const dir of dirs) {
    if (!existsSync(dir)) fail(dir, 'rules directory not found');
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.yaml') || f.endsWith('.yml')) files.push(path.join(dir, f));
  }
  const rules = new Map<string, AgentRule>();
  const lists = new Map<string, unknown[]>();
  for (const file of files) {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(file, 'utf8'));
    } catch (error) {
      fail(file, `not valid YAML: ${(error as Error).message}`);
    }
    const d = (doc ?? {}) as Record<string, unknown>;
    for (const [name, items] of Object.entries((d.lists ?? {}) as Record<string, unknown>)) {
      if (!Array.isArray(items)) fail(`${file}: list ${name}`, 'must be a sequence');
      lists.set(name, [...(lists.get(name) ?? []), ...items]);
    }
    const list = d.rules ?? [];
    if (!Array.isArray(list)) fail(file, 'rules must be a sequence');
    list.forEach((raw, i) => {
      const rule = parseRule(raw, `${file}: rules[${i}]`, path.basename(file));
      rules.set(rule.id, rule);
    });
  }
  return { rules: [...rules.values()], lists };
}

export function compileAgentRule(rule: AgentRule, lists: Lists): CompiledAgentRule {
  return { ...rule, test: compileCondition(rule.condition, lists, `${rule.source}: rule ${rule.id}.condition`) };
}
