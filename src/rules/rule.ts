import { isSeverity, type Severity } from '../core/index.js';
import { compileCondition, ruleError, type Condition, type EventSchema, type Lists } from './condition.js';
import { compileExceptions, parseExceptions, type ExceptionKind, type RuleException } from './exceptions.js';
import { compileTitle, type Title } from './template.js';

/** What every detection rule says, whichever events it reads. */
export interface RuleMeta {
  id: string;
  /** May fill in event fields: `%user.username created %objectRef.name` (template.ts). */
  title: string;
  description: string;
  severity: Severity;
  tactic: string;
  technique?: string;
  remediation: string;
  enabled: boolean;
  condition: Condition | boolean;
  exceptions: RuleException[];
  /** File the rule came from. */
  source: string;
}

type Json = Record<string, unknown>;

const COMMON_KEYS = ['id', 'title', 'description', 'severity', 'mitre', 'remediation', 'enabled', 'condition', 'exceptions', 'samples'];

function text(obj: Json, key: string, code: string, where: string): string {
  const value = obj[key];
  if (typeof value !== 'string' || value.trim() === '') ruleError(code, `${where}.${key}`, 'is required and must be a non-empty string');
  return value.trim();
}

/**
 * Validates the keys every rule has; `keys` are the capability's own (`stages`, `events`, ...),
 * any other key is an error naming the file, rule and key.
 */
export function parseRuleMeta(r: Json & { id: string; source: string }, code: string, keys: readonly string[], options: { techniqueRequired: boolean }): RuleMeta {
  const where = `${r.source}: ${r.id}`;
  for (const key of Object.keys(r)) {
    if (key !== 'source' && !COMMON_KEYS.includes(key) && !keys.includes(key)) ruleError(code, `${where}.${key}`, 'unknown rule key');
  }
  if (!isSeverity(r.severity)) ruleError(code, `${where}.severity`, `${String(r.severity)} is not one of critical, high, medium, low, informational`);
  const condition = r.condition;
  if (typeof condition !== 'boolean' && (typeof condition !== 'object' || condition === null || Array.isArray(condition))) ruleError(code, `${where}.condition`, 'is required (a condition object)');
  const mitre = (r.mitre ?? {}) as Json;
  const technique = options.techniqueRequired || mitre.technique !== undefined ? text(mitre, 'technique', code, `${where}.mitre`) : undefined;
  return {
    id: r.id,
    title: text(r, 'title', code, where),
    description: text(r, 'description', code, where),
    severity: r.severity,
    tactic: text(mitre, 'tactic', code, `${where}.mitre`),
    ...(technique ? { technique } : {}),
    remediation: text(r, 'remediation', code, where),
    enabled: r.enabled !== false,
    condition: condition as Condition | boolean,
    exceptions: parseExceptions(r.exceptions, code, `${where}.exceptions`),
    source: r.source,
  };
}

export interface CompiledMatch<E> {
  /** The condition holds and no exception does. */
  matches: (event: E) => boolean;
  /** The alert title for an event the rule matched. */
  title: Title<E>;
}

export function compileRuleMatch<E>(rule: RuleMeta, lists: Lists, schema: EventSchema<E>, kinds: Readonly<Record<string, ExceptionKind<E>>> = {}): CompiledMatch<E> {
  const where = `${rule.source}: ${rule.id}`;
  const test = compileCondition(rule.condition, lists, schema, `${where}.condition`);
  const excepted = compileExceptions(rule.exceptions, lists, schema, kinds, `${where}.exceptions`);
  return {
    matches: excepted ? (event) => test(event, event) && !excepted(event) : (event) => test(event, event),
    title: compileTitle(rule.title, schema, `${where}.title`),
  };
}
