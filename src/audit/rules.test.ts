import { describe, expect, it } from 'vitest';
import { AuditDetector } from './detect.js';
import { AuditRuleEngine } from './engine.js';
import { loadAuditRules, type AuditEvent } from './index.js';
import { judgeSamples } from '../rules/index.js';

/**
 * Every rule's samples (gatekeeper-library habit): each fire sample fires its rule, each quiet
 * sample does not. A sample is one event or a sequence (stateful rules); the last event is judged,
 * and for quiet sequences no event may fire.
 */
const ruleSet = loadAuditRules({ dir: null });

describe('built-in audit rules', () => {
  it('has 35 or more rules, each with fire and quiet samples and complete metadata', () => {
    expect(ruleSet.rules.length).toBeGreaterThanOrEqual(35);
    for (const { rule } of ruleSet.rules) {
      expect.soft(rule.samples.fire.length, `${rule.id} fire samples`).toBeGreaterThan(0);
      expect.soft(rule.samples.quiet.length, `${rule.id} quiet samples`).toBeGreaterThan(0);
      expect.soft(rule.technique, rule.id).toMatch(/^T\d{4}(\.\d{3})?$/);
    }
  });

  for (const { rule } of ruleSet.rules) {
    describe(rule.id, () => {
      // A fresh engine per sample, with only this rule, so state does not leak between samples.
      // Rules that are off until the user lists what is allowed (k8s.disallowed-user) are tested switched on.
      const only = { rules: ruleSet.rules.filter((r) => r.rule.id === rule.id).map((r) => ({ ...r, rule: { ...r.rule, enabled: true } })), lists: ruleSet.lists };
      const fired = (events: AuditEvent[]) => {
        const detector = new AuditDetector({ rules: new AuditRuleEngine(only), cluster: 'samples' });
        return events.map((e) => detector.process([e]).length > 0);
      };
      // The kernel's sample runner, as the agent rules use it: a fire sample's last event fires, no quiet event does.
      for (const verdict of judgeSamples(rule.samples, fired)) {
        it(verdict.kind === 'fire' ? `fires on fire sample ${verdict.index}` : `stays quiet on quiet sample ${verdict.index}`, () => {
          expect(verdict.ok).toBe(true);
        });
      }
    });
  }
});
