/**
 * The detection-rule kernel that audit (Kubernetes audit events) and agent (host events) share:
 * one condition language, one loader of rule files (lists, macros, rules, appends and overrides as
 * Falco's), per-rule exceptions, titles that fill in event fields, and one sample runner. It knows
 * no event type: each capability supplies an EventSchema (shorthands, derived roots, CEL
 * variables) and indexes its own rules (audit by verb and resource, agent by event kind).
 */
export {
  compileCondition, compileFirst, compileValues, globToRegExp, indexValues, ruleError,
  type Condition, type EventSchema, type Lists, type Predicate,
} from './condition.js';
export { loadRuleFiles, type LoadedRules, type LoadRuleFilesOptions } from './load.js';
export { type ExceptionKind, type RuleException } from './exceptions.js';
export { compileRuleMatch, parseRuleMeta, type CompiledMatch, type RuleMeta } from './rule.js';
export { deepMerge, judgeSamples, parseDuration, parseSamples, type RuleSample, type RuleSamples, type SampleVerdict } from './samples.js';
export { compileTitle, type Title } from './template.js';
