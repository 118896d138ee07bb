import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compilePolicySet, evaluateObject } from '../engine.js';
import { parseManifests } from '../kube/manifests.js';
import type { AnyPolicy } from '../model.js';
import { BUILTIN_POLICIES } from './index.js';

/** Each policy alone, with its sample parameters, enabled even if off by default. */
function only(policy: AnyPolicy) {
  const effect = policy.defaults.effect === 'disabled' ? 'audit' : policy.defaults.effect;
  return compilePolicySet([policy], { policies: { [policy.id]: { effect, parameters: policy.sample?.parameters ?? {} } } });
}

function examples(policy: AnyPolicy, which: 'allowed' | 'disallowed') {
  const file = path.join(import.meta.dirname, policy.id, `example_${which}.yaml`);
  return parseManifests(readFileSync(file, 'utf8'), file).map((s) => s.object);
}

describe('built-in policies run their gatekeeper-style samples', () => {
  it('have unique ids and complete metadata', () => {
    expect(new Set(BUILTIN_POLICIES.map((p) => p.id)).size).toBe(BUILTIN_POLICIES.length);
    for (const p of BUILTIN_POLICIES) {
      expect(p.title && p.description && p.remediation && p.control, p.id).toBeTruthy();
    }
  });

  for (const policy of BUILTIN_POLICIES) {
    describe(policy.id, () => {
      it('does not fire on example_allowed.yaml', () => {
        const set = only(policy);
        const objects = examples(policy, 'allowed');
        expect(objects.length).toBeGreaterThan(0);
        for (const o of objects) expect(evaluateObject(set, o)).toEqual([]);
      });
      it('fires on every object of example_disallowed.yaml, naming the field', () => {
        const set = only(policy);
        const objects = examples(policy, 'disallowed');
        expect(objects.length).toBeGreaterThan(0);
        for (const o of objects) {
          const results = evaluateObject(set, o);
          expect(results.length, `${policy.id} on ${o.kind}/${o.metadata?.name}`).toBeGreaterThan(0);
          for (const r of results) {
            expect(r.policy).toBe(policy.id);
            expect(r.field, r.message).toBeTruthy();
          }
        }
      });
    });
  }
});
