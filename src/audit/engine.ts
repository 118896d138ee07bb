import type { AuditEvent } from './event.js';
import type { CompiledRule, RuleSet } from './rules.js';

/**
 * Runs compiled rules over events. Like Falco's per-event-type rule lists, rules are indexed by
 * (verb, resource, subresource): the candidate list for a triple is computed the first time the
 * triple is seen and cached, so the common read traffic (get/list/watch of leases, configmaps, ...)
 * costs one string concatenation and one Map lookup, and meets no rule at all.
 */
const NONE: readonly CompiledRule[] = Object.freeze([]);
/** Distinct triples a cluster produces are a few hundred; the bound guards against garbage input. */
const MAX_CACHED_TRIPLES = 20_000;

function admits(set: Set<string> | undefined, value: string): boolean {
  return set === undefined || set.has(value);
}

export class AuditRuleEngine {
  private readonly rules: CompiledRule[];
  private readonly candidates = new Map<string, readonly CompiledRule[]>();

  constructor(ruleSet: RuleSet) {
    this.rules = ruleSet.rules.filter((r) => r.rule.enabled);
  }

  get size(): number {
    return this.rules.length;
  }

  /** Rules that could match events with this verb, resource and subresource. */
  candidatesFor(verb: string, resource: string, subresource: string): readonly CompiledRule[] {
    const key = verb + '\u0000' + resource + '\u0000' + subresource;
    let list = this.candidates.get(key);
    if (list === undefined) {
      const found = this.rules.filter((r) => admits(r.verbs, verb) && admits(r.resources, resource) && admits(r.subresources, subresource));
      list = found.length === 0 ? NONE : found;
      if (this.candidates.size < MAX_CACHED_TRIPLES) this.candidates.set(key, list);
    }
    return list;
  }

  /** The rules this event matches (a shared empty array when none). */
  match(event: AuditEvent): readonly CompiledRule[] {
    const ref = event.objectRef;
    const candidates = this.candidatesFor(event.verb, ref?.resource ?? '', ref?.subresource ?? '');
    if (candidates.length === 0) return NONE;
    let out: CompiledRule[] | undefined;
    for (const rule of candidates) {
      if (rule.matches(event)) (out ??= []).push(rule);
    }
    return out ?? NONE;
  }
}
