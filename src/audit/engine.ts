import type { AuditEvent } from './event.js';
import { outcomeOf, type CompiledRule, type Outcome, type RuleSet } from './rules.js';

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
  private readonly candidates = new Map<string, unknown>();
  private cached = 0;

  constructor(ruleSet: RuleSet) {
    this.rules = ruleSet.rules.filter((r) => r.rule.enabled);
  }

  get size(): number {
    return this.rules.length;
  }

  /**
   * Rules that could match events with this verb, resource and subresource, and, when given, this
   * stage and outcome (so a rule's stage and outcome are tested once per kind of event, not per event).
   */
  candidatesFor(verb: string, resource: string, subresource: string, stage?: string, outcome?: Outcome): readonly CompiledRule[] {
    // Nested maps: lookups of strings the event already holds, no key string built per event.
    const byResource = this.step(this.candidates, verb);
    const bySubresource = byResource && this.step(byResource, resource);
    const byStage = bySubresource && this.step(bySubresource, subresource);
    const byOutcome = byStage && this.step(byStage, stage ?? '*');
    if (!byOutcome) return this.compute(verb, resource, subresource, stage, outcome);
    const last = outcome ?? '?';
    let list = byOutcome.get(last) as readonly CompiledRule[] | undefined;
    if (list === undefined) {
      list = this.compute(verb, resource, subresource, stage, outcome);
      if (this.cached < MAX_CACHED_TRIPLES) {
        byOutcome.set(last, list);
        this.cached++;
      }
    }
    return list;
  }

  /** The next level of the index, made on first use; undefined once the index is full (garbage input). */
  private step(level: Map<string, unknown>, part: string): Map<string, unknown> | undefined {
    let next = level.get(part) as Map<string, unknown> | undefined;
    if (next === undefined) {
      if (this.cached >= MAX_CACHED_TRIPLES) return undefined;
      next = new Map();
      level.set(part, next);
    }
    return next;
  }

  private compute(verb: string, resource: string, subresource: string, stage?: string, outcome?: Outcome): readonly CompiledRule[] {
    const found = this.rules.filter((r) => admits(r.verbs, verb) && admits(r.resources, resource) && admits(r.subresources, subresource)
      && (stage === undefined || r.rule.stages.includes(stage))
      && (stage === undefined || r.rule.outcome === 'any' || r.rule.outcome === outcome));
    return found.length === 0 ? NONE : found;
  }

  /** The rules this event matches (a shared empty array when none). */
  match(event: AuditEvent): readonly CompiledRule[] {
    const ref = event.objectRef;
    const candidates = this.candidatesFor(event.verb, ref?.resource ?? '', ref?.subresource ?? '', event.stage, outcomeOf(event));
    if (candidates.length === 0) return NONE;
    let out: CompiledRule[] | undefined;
    for (const rule of candidates) {
      if (rule.matchesIndexed(event)) (out ??= []).push(rule);
    }
    return out ?? NONE;
  }
}
