import { loadRuleSet, type RuleOverride, type RuleSet } from './rules.js';
import { normalizeEvent } from './sources/event.js';

export interface LoadAuditRulesOptions {
  /** User rules directory; defaults to PALISADE_RULES_DIR. Pass null to ignore the environment. */
  dir?: string | null;
  builtin?: boolean;
  overrides?: RuleOverride[];
}

/** Built-in rules plus the user's (PALISADE_RULES_DIR), validated and compiled. */
export function loadAuditRules(options: LoadAuditRulesOptions = {}): RuleSet {
  const dir = options.dir === undefined ? process.env.PALISADE_RULES_DIR || undefined : options.dir ?? undefined;
  return loadRuleSet({
    ...(dir ? { dir } : {}),
    ...(options.builtin !== undefined ? { builtin: options.builtin } : {}),
    ...(options.overrides ? { overrides: options.overrides } : {}),
  }, (v) => normalizeEvent(v));
}
