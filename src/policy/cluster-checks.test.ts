import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runClusterChecks, type ClusterSnapshot, type KubeList } from './cluster-checks.js';
import { compilePolicySet } from './engine.js';
import { BUILTIN_POLICIES } from './policies/index.js';
import { assessPosture } from './posture.js';

const list = (name: string): KubeList => JSON.parse(readFileSync(path.join(import.meta.dirname, 'cluster-testdata', `${name}.json`), 'utf8')) as KubeList;
const snapshot: ClusterSnapshot = {
  cluster: 'prod',
  clusterRoleBindings: list('clusterrolebindings'),
  roleBindings: list('rolebindings'),
  clusterRoles: list('clusterroles'),
  deployments: list('deployments'),
  nodes: list('nodes'),
  validatingWebhookConfigurations: list('validatingwebhookconfigurations'),
  namespaces: list('namespaces'),
  lastAuditEventAt: new Date('2026-03-01T10:00:00Z'),
};
const byPolicy = (now = new Date('2026-03-01T12:00:00Z')) => new Map(runClusterChecks(snapshot, { now }).map((r) => [r.policy, r]));
const names = (refs: { name: string }[]) => refs.map((r) => r.name).sort();

describe('cluster checks over recorded API list responses', () => {
  it('finds cluster-admin bound to service accounts and groups, not the rbac defaults', () => {
    const r = byPolicy().get('cluster-admin-bindings')!;
    expect(names(r.unhealthy)).toEqual(['ci-deployer-admin', 'kubeadm:cluster-admins']);
    expect(names(r.notApplicable)).toEqual(['cluster-admin', 'system:public-info-viewer']);
    expect(names(r.healthy)).toEqual(['anon-read', 'kubeadm:bootstrap-signer-clusterinfo', 'monitoring-view', 'shop-admins']);
    expect(r.reasons!['prod/-/clusterrolebinding/ci-deployer-admin']).toEqual(['ClusterRoleBinding ci-deployer-admin grants cluster-admin to ServiceAccount ci/deployer']);
  });

  it('finds anonymous and unauthenticated subjects', () => {
    expect(names(byPolicy().get('anonymous-bindings')!.unhealthy)).toEqual(['anon-read', 'kubeadm:bootstrap-signer-clusterinfo']);
  });

  it('finds wildcard roles, ignoring the built-in cluster-admin role and single-resource wildcards', () => {
    const r = byPolicy().get('wildcard-roles')!;
    expect(names(r.unhealthy)).toEqual(['operator-everything']);
    expect(names(r.healthy)).toEqual(['secrets-reader']);
  });

  it('finds the Kubernetes dashboard', () => {
    expect(names(byPolicy().get('kubernetes-dashboard')!.unhealthy)).toEqual(['kubernetes-dashboard']);
  });

  it('finds nodes on unsupported kubelet and kernel versions', () => {
    const r = byPolicy().get('unsupported-node-versions')!;
    expect(names(r.unhealthy)).toEqual(['worker-old']);
    expect(r.reasons!['prod/-/node/worker-old']).toHaveLength(2);
    expect(names(r.healthy)).toEqual(['cp-1']);
  });

  it('knows whether audit logs and admission control are connected', () => {
    expect(byPolicy(new Date('2026-03-01T12:00:00Z')).get('audit-logging-connected')!.unhealthy).toEqual([]);
    expect(byPolicy(new Date('2026-03-03T12:00:00Z')).get('audit-logging-connected')!.unhealthy).toHaveLength(1);
    expect(byPolicy().get('admission-webhook-connected')!.unhealthy).toHaveLength(1);
  });

  it('finds namespaces that do not enforce a Pod Security Standards level', () => {
    const r = byPolicy().get('namespace-pod-security')!;
    expect(names(r.unhealthy)).toEqual(['default', 'legacy']);
    expect(names(r.healthy)).toEqual(['shop']);
    expect(names(r.notApplicable)).toEqual(['kube-system']);
  });

  it('turns workload policies over the deployments into recommendations', () => {
    // image-tag-pinned is opt-in: switched on here, as a user would.
    const set = compilePolicySet(BUILTIN_POLICIES, { policies: { 'image-tag-pinned': { effect: 'audit' } } });
    const recs = new Map(assessPosture(set, (snapshot.deployments!.items ?? []).map((d) => ({ kind: 'Deployment', apiVersion: 'apps/v1', ...d })), { cluster: 'prod' }).map((r) => [r.policy, r]));
    const tag = recs.get('image-tag-pinned')!;
    expect(names(tag.healthy)).toEqual(['kubernetes-dashboard', 'web']);
    // coredns lives in kube-system, which policies exclude by default.
    expect(names(tag.notApplicable)).toEqual(['coredns']);
    expect(recs.get('read-only-root-filesystem')!.unhealthy.map((r) => r.id)).toContain('prod/shop/deployment/web');
    expect(recs.has('image-digest-required')).toBe(false);
  });
});
