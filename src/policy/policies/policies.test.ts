import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compilePolicySet, evaluateObject } from '../engine.js';
import { parseManifests } from '../kube/manifests.js';
import type { AnyPolicy } from '../model.js';
import { BUILTIN_POLICIES, DEFAULT_POLICY_IDS } from './index.js';

/** Each policy alone, with its sample parameters, enabled even if off by default. */
function only(policy: AnyPolicy) {
  const effect = policy.defaults.effect === 'disabled' ? 'audit' : policy.defaults.effect;
  return compilePolicySet([policy], { policies: { [policy.id]: { effect, parameters: policy.sample?.parameters ?? {} } } });
}

/** Image assessments the samples are judged with, for policies that read images. */
function sampleOptions(policy: AnyPolicy) {
  return policy.sample?.images ? { images: new Map(Object.entries(policy.sample.images)) } : {};
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

  it('with no configuration run Pod Security baseline and Defender\'s default recommendations; the rest is opt-in', () => {
    expect([...DEFAULT_POLICY_IDS].sort()).toEqual([
      'allowed-capabilities', 'allowed-host-paths', 'allowed-ports', 'allowed-registries', 'allowed-users-groups',
      'apparmor-profile', 'automount-service-account-token', 'container-limits', 'host-namespaces', 'host-network-ports',
      'ingress-https-only', 'no-default-namespace', 'no-privilege-escalation', 'no-privileged-containers',
      'pod-security-baseline', 'read-only-root-filesystem',
    ]);
    // What no configuration does to a privileged pod sharing the host's PID namespace, and to a plain-HTTP Ingress.
    const set = compilePolicySet(BUILTIN_POLICIES);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'shop' }, spec: { hostPID: true, containers: [{ name: 'c', image: 'nginx', securityContext: { privileged: true } }] } };
    const fired = new Set(evaluateObject(set, pod).map((r) => r.policy));
    expect(fired).toContain('pod-security-baseline');
    expect(fired).toContain('no-privileged-containers');
    expect(fired).toContain('host-namespaces');
    expect(fired).not.toContain('pod-security-restricted');
    expect(fired).not.toContain('image-tag-pinned');
    const ingress = examples(BUILTIN_POLICIES.find((p) => p.id === 'ingress-https-only')!, 'disallowed')[0]!;
    expect(evaluateObject(set, ingress).map((r) => r.policy)).toEqual(['ingress-https-only']);
  });

  for (const policy of BUILTIN_POLICIES) {
    describe(policy.id, () => {
      it('does not fire on example_allowed.yaml', () => {
        const set = only(policy);
        const objects = examples(policy, 'allowed');
        expect(objects.length).toBeGreaterThan(0);
        for (const o of objects) expect(evaluateObject(set, o, sampleOptions(policy))).toEqual([]);
      });
      it('fires on every object of example_disallowed.yaml, naming the field', () => {
        const set = only(policy);
        const objects = examples(policy, 'disallowed');
        expect(objects.length).toBeGreaterThan(0);
        for (const o of objects) {
          const results = evaluateObject(set, o, sampleOptions(policy));
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

describe('image policies read references with the image grammar (image/reference.ts)', () => {
  const pod = (image: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'shop' }, spec: { containers: [{ name: 'c', image }] } });
  const policy = (id: string) => BUILTIN_POLICIES.find((p) => p.id === id)!;
  const messages = (id: string, image: string, parameters?: Record<string, unknown>) => {
    const set = parameters ? compilePolicySet([policy(id)], { policies: { [id]: { effect: 'audit', parameters } } }) : only(policy(id));
    return evaluateObject(set, pod(image)).map((r) => r.message);
  };

  it('reports a missing tag as such and a string that is no reference as invalid, never as pinned or allowed', () => {
    expect(messages('image-tag-pinned', 'nginx')).toEqual(['container "c" image "nginx" has no tag (defaults to latest)']);
    expect(messages('image-tag-pinned', 'nginx:1.27')).toEqual([]);
    expect(messages('image-tag-pinned', 'Shop/App:1')).toEqual(['container "c" image "Shop/App:1" is not a valid image reference']);
    expect(messages('image-digest-required', `nginx@sha256:${'a'.repeat(64)}`)).toEqual([]);
    expect(messages('image-digest-required', 'nginx@sha256:short')).toHaveLength(1);
    expect(messages('allowed-registries', 'registry.example.com/shop/api:2')).toEqual([]);
    expect(messages('allowed-registries', 'registry.example.com/Shop/api:2')).toHaveLength(1);
  });

  it('normalises Docker Hub names the way docker does', () => {
    const hub = { registries: ['docker.io/library/'] };
    expect(messages('allowed-registries', 'nginx:1.27', hub)).toEqual([]);
    expect(messages('allowed-registries', 'docker.io/nginx:1.27', hub)).toEqual([]);
    expect(messages('allowed-registries', 'index.docker.io/library/nginx:1.27', hub)).toEqual([]);
    expect(messages('allowed-registries', 'bitnami/redis:7', hub)).toHaveLength(1);
  });
});
