/**
 * Agent rules on the shared rule kernel (src/rules): YAML files of `lists:`, `macros:` and
 * `rules:` in src/agent/rules/ (and an optional user directory, whose lists extend ours, whose
 * macros and rules replace or append to ours as Falco's do), each rule with the sample events that
 * must fire it and must not. What is the agent's own: the event kinds a rule reads (the engine's
 * index) and host-event samples.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { compileRuleMatch, loadRuleFiles, parseRuleMeta, parseSamples, ruleError, type Lists, type RuleMeta, type RuleSamples, type Title } from '../rules/index.js';
import type { HostEvent, HostEventKind } from './events.js';
import { sampleEvent } from './samples.js';
import { HOST_EVENT_SCHEMA, type HostEventView } from './view.js';

const HERE = path.join(import.meta.dirname, 'rules');
/** The built CLI runs from dist/, where the YAML is not copied: fall back to the sources. */
export const BUILTIN_AGENT_RULES_DIR = hasYaml(HERE) ? HERE : path.resolve(import.meta.dirname, '../../src/agent/rules');

function hasYaml(dir: string): boolean {
  return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.yaml'));
}

const KINDS: readonly HostEventKind[] = ['exec', 'network', 'file', 'container', 'syscall'];

export interface AgentRule extends RuleMeta {
  /** Event kinds the rule reads: the engine tests an event only against the rules of its kind. */
  events: HostEventKind[];
  samples: RuleSamples<HostEvent>;
}

export interface CompiledAgentRule extends AgentRule {
  test: (view: HostEventView) => boolean;
  /** The alert title for a view the rule matched (titles may fill in event fields). */
  render: Title<HostEventView>;
}

export interface AgentRuleSet {
  rules: AgentRule[];
  lists: Map<string, unknown[]>;
}

function parseRule(r: Record<string, unknown> & { id: string; source: string }): AgentRule {
  const where = `${r.source}: ${r.id}`;
  const meta = parseRuleMeta(r, 'agent', ['events'], { techniqueRequired: false });
  const events = r.events;
  if (!Array.isArray(events) || !events.length || events.some((e) => !KINDS.includes(e as HostEventKind))) ruleError('agent', `${where}.events`, `must list event kinds among ${KINDS.join(', ')}`);
  return {
    ...meta,
    source: path.basename(r.source),
    events: events as HostEventKind[],
    samples: parseSamples(r.samples, 'agent', `${where}.samples`, (item) => sampleEvent(item), { required: true }),
  };
}

/** Reads rule files: built-ins, then a user directory (a plain list there extends ours, as it always has). */
export function loadAgentRules(options: { dir?: string | null; builtin?: boolean } = {}): AgentRuleSet {
  if (options.dir && !existsSync(options.dir)) ruleError('agent', options.dir, 'rules directory not found');
  const loaded = loadRuleFiles({
    code: 'agent',
    ...(options.builtin === false ? {} : { builtinDir: BUILTIN_AGENT_RULES_DIR }),
    ...(options.dir ? { userDir: options.dir } : {}),
    listRedefinition: 'append',
  });
  return { rules: loaded.rules.map(parseRule), lists: loaded.lists };
}

export function compileAgentRule(rule: AgentRule, lists: Lists): CompiledAgentRule {
  const { matches, title } = compileRuleMatch(rule, lists, HOST_EVENT_SCHEMA);
  return { ...rule, test: matches, render: title };
}
