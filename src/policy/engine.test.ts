import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/index.js';
import { compilePolicySet, evaluateObject, evaluateUpdate } from './engine.js';
import type { KubeObject } from './kube/types.js';
import { BUILTIN_POLICIES } from './policies/index.js';
import { parseManifests } from './kube/manifests.js';

const privilegedPod = (namespace: string, labels: Record<string, string> = {}, name = 'p'): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels },
  spec: { containers: [{ name: 'c', image: 'registry.example.com/a:1', securityContext: { privileged: true } }] },
});
const privileged = compilePolicySet(BUILTIN_POLICIES.filter((p) => p.id === 'no-privileged-containers'));

describe('policy parameters', () => {
  it('skips kube-system, gatekeeper-system and palisade by default, and honours a custom list', () => {
    for (const ns of ['kube-system', 'gatekeeper-system', 'palisade']) expect(evaluateObject(privileged, privilegedPod(ns))).toEqual([]);
    expect(evaluateObject(privileged, privilegedPod('shop'))).toHaveLength(1);
    const custom = compilePolicySet(BUILTIN_POLICIES, { policies: { 'no-privileged-containers': { excludedNamespaces: ['shop'] } } });
    expect(evaluateObject(custom, privilegedPod('shop')).filter((r) => r.policy === 'no-privileged-containers')).toEqual([]);
    expect(evaluateObject(custom, privilegedPod('kube-system')).filter((r) => r.policy === 'no-privileged-containers')).toHaveLength(1);
  });

  it('applies effect overrides and skips disabled policies', () => {
    const set = compilePolicySet(BUILTIN_POLICIES, { policies: { 'no-privileged-containers': { effect: 'audit' }, 'pod-security-baseline': { effect: 'disabled' } } });
    const results = evaluateObject(set, privilegedPod('shop'));
    expect(results.find((r) => r.policy === 'no-privileged-containers')?.effect).toBe('audit');
    expect(results.some((r) => r.policy === 'pod-security-baseline')).toBe(false);
  });

  it('scopes by label selector and namespace selector', () => {
    const set = compilePolicySet(BUILTIN_POLICIES.filter((p) => p.id === 'no-privileged-containers'), {
      policies: { 'no-privileged-containers': { labelSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] }, namespaceSelector: { matchLabels: { env: 'prod' } } } },
    });
    const namespaceLabels = (ns: string) => (ns === 'shop' ? { env: 'prod' } : ns === 'dev' ? { env: 'dev' } : undefined);
    expect(evaluateObject(set, privilegedPod('shop', { tier: 'web' }), { namespaceLabels })).toHaveLength(1);
    expect(evaluateObject(set, privilegedPod('shop', { tier: 'db' }), { namespaceLabels })).toEqual([]);
    expect(evaluateObject(set, privilegedPod('dev', { tier: 'web' }), { namespaceLabels })).toEqual([]);
  });

  it('uses allowed values from parameters', () => {
    const set = compilePolicySet(BUILTIN_POLICIES.filter((p) => p.id === 'service-types'), { policies: { 'service-types': { effect: 'audit', parameters: { allowedTypes: ['ClusterIP', 'NodePort'] } } } });
    const svc = (type: string): KubeObject => ({ kind: 'Service', metadata: { name: 's', namespace: 'shop' }, spec: { type } });
    expect(evaluateObject(set, svc('NodePort'))).toEqual([]);
    expect(evaluateObject(set, svc('LoadBalancer'))).toHaveLength(1);
  });

  it('rejects a bad configuration listing every bad key', () => {
    expect(() => compilePolicySet(BUILTIN_POLICIES, {
      policies: { nope: {}, 'service-types': { effect: 'block' as never, parameters: { allowedTypes: 'ClusterIP', extra: 1 } } },
      exceptions: [{ policies: ['service-types'], namespace: 'x', expires: 'soon', reason: '' }],
    })).toThrow(/policies\.nope: unknown policy.*effect.*allowedTypes: expected array.*extra: unknown parameter.*reason: required.*expires: not a date/);
  });
});

describe('exceptions', () => {
  const config = {
    exceptions: [
      { policies: ['no-privileged-containers'], namespace: 'shop', name: 'p', expires: '2026-06-30', reason: 'vendor agent, ticket SEC-12' },
      { policies: ['*'], labels: { 'palisade.io/exempt': 'true' }, expires: '2026-12-31T00:00:00Z', reason: 'break glass' },
    ],
  };
  const set = compilePolicySet(BUILTIN_POLICIES.filter((p) => p.id === 'no-privileged-containers'), config);

  it('exempt by namespace and name until they expire', () => {
    const before = new ManualClock('2026-06-01T00:00:00Z');
    const after = new ManualClock('2026-07-02T00:00:00Z');
    expect(evaluateObject(set, privilegedPod('shop'), { clock: before })).toEqual([]);
    expect(evaluateObject(set, privilegedPod('shop', {}, 'other'), { clock: before })).toHaveLength(1);
    expect(evaluateObject(set, privilegedPod('shop'), { clock: after })).toHaveLength(1);
  });

  it('exempt by label', () => {
    const clock = new ManualClock('2026-06-01T00:00:00Z');
    expect(evaluateObject(set, privilegedPod('web', { 'palisade.io/exempt': 'true' }), { clock })).toEqual([]);
    expect(evaluateObject(set, privilegedPod('web', { 'palisade.io/exempt': 'false' }), { clock })).toHaveLength(1);
  });
});

describe('UPDATE against the old object', () => {
  it('reports only new violations for policies that say so, every violation for the others', () => {
    const set = compilePolicySet(BUILTIN_POLICIES.filter((p) => ['no-privilege-escalation', 'image-tag-pinned'].includes(p.id)), { policies: { 'image-tag-pinned': { effect: 'audit' } } });
    const old = privilegedPod('shop');
    const updated = structuredClone(old);
    (updated.metadata!.labels as Record<string, string>).scaled = 'yes';
    (updated.spec as { containers: { image: string }[] }).containers[0]!.image = 'registry.example.com/a:latest';
    const results = evaluateUpdate(set, updated, old);
    expect(results.map((r) => r.policy)).toEqual(['image-tag-pinned']);
    const added = structuredClone(updated);
    (added.spec as { containers: object[] }).containers.push({ name: 'd', image: 'registry.example.com/b:2' });
    expect(evaluateUpdate(set, added, old).filter((r) => r.policy === 'no-privilege-escalation').map((r) => r.container)).toEqual(['d']);
  });
});

describe('manifests', () => {
  it('reads multi-document YAML with List kinds and skips empty documents', () => {
    const text = `---\n# Source: chart/templates/a.yaml\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: a}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n---\n---\n{"apiVersion":"v1","kind":"Pod","metadata":{"name":"c"}}\n`;
    expect(parseManifests(text).map((s) => `${s.object.kind}/${s.object.metadata?.name}`)).toEqual(['Service/a', 'ConfigMap/b', 'Pod/c']);
  });
  it('reports invalid YAML with its line', () => {
    expect(() => parseManifests('a: b\n  c: : d\n', 'x.yaml')).toThrow(/x\.yaml:\d+: invalid YAML/);
  });
});

describe('manifest booleans follow YAML 1.1 like kubectl', () => {
  it('reads privileged: yes / on as true, so it cannot slip past the policies', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  containers:\n  - name: c\n    image: registry.example.com/a:1\n    securityContext:\n      privileged: yes\n  - name: d\n    image: registry.example.com/a:1\n    securityContext: {privileged: On}\n';
    const [pod] = parseManifests(text);
    expect(evaluateObject(privileged, pod!.object).map((r) => r.container)).toEqual(['c', 'd']);
  });
  it('keeps quoted "yes" a string', () => {
    const [cm] = parseManifests('kind: ConfigMap\nmetadata: {name: x}\ndata: {a: "yes", b: no}\n');
    expect(cm!.object.data).toEqual({ a: 'yes', b: false });
  });
});

describe('exceptions cover what a workload creates', () => {
  it('a name exception for a Deployment also exempts its ReplicaSet pods, not other pods', () => {
    const set = compilePolicySet(BUILTIN_POLICIES.filter((p) => p.id === 'no-privileged-containers'), {
      exceptions: [{ policies: ['no-privileged-containers'], namespace: 'shop', name: 'agent', expires: '2099-01-01', reason: 'vendor agent' }],
    });
    const owned = (owner: string): KubeObject => ({ ...privilegedPod('shop', {}, `${owner}-7d9f8-abcde`), metadata: { name: `${owner}-7d9f8-abcde`, namespace: 'shop', ownerReferences: [{ kind: 'ReplicaSet', name: `${owner}-7d9f8`, controller: true }] } as never });
    expect(evaluateObject(set, owned('agent'))).toEqual([]);
    expect(evaluateObject(set, owned('agentx'))).toHaveLength(1);
  });
});

describe('allowed registries', () => {
  const set = compilePolicySet(BUILTIN_POLICIES.filter((p) => p.id === 'allowed-registries'), { policies: { 'allowed-registries': { parameters: { registries: ['registry.example.com', 'docker.io/library/'] } } } });
  const pod = (image: string): KubeObject => ({ kind: 'Pod', metadata: { name: 'p', namespace: 'shop' }, spec: { containers: [{ name: 'c', image }] } });
  it('matches a bare host exactly and a path prefix on the normalised name', () => {
    expect(evaluateObject(set, pod('registry.example.com/a/b:1'))).toEqual([]);
    expect(evaluateObject(set, pod('registry.example.com:443/a/b:1'))).toHaveLength(1);
    expect(evaluateObject(set, pod('registry.example.com.evil.io/a/b:1'))).toHaveLength(1);
    expect(evaluateObject(set, pod('nginx:1.25'))).toEqual([]);
    expect(evaluateObject(set, pod('bitnami/nginx:1.25'))).toHaveLength(1);
  });
});

describe('parameter validation at compile time', () => {
  it('rejects a bad PSA version and a bad users/groups rule before anything is evaluated', () => {
    expect(() => compilePolicySet(BUILTIN_POLICIES, { policies: {
      'pod-security-restricted': { parameters: { version: 'v2.0' } },
      'allowed-users-groups': { parameters: { runAsGroup: { rule: 'MustRunAs' } } },
    } })).toThrow(/pod-security-restricted\.parameters\.version.*allowed-users-groups\.parameters\.runAsGroup\.ranges/);
  });
});
