import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePolicySet } from '../engine.js';
import { BUILTIN_POLICIES } from '../policies/index.js';
import { fetchClusterInventory } from './cluster-client.js';
import { assessCluster } from './posture-scan.js';

const testdata = (name: string) => JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'cluster-testdata', `${name}.json`), 'utf8'));

/** Serves the recorded list responses at their API paths; cluster role bindings come two per page. */
function fakeApiServer(): http.Server {
  const routes: Record<string, string> = {
    '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings': 'clusterrolebindings',
    '/apis/rbac.authorization.k8s.io/v1/rolebindings': 'rolebindings',
    '/apis/rbac.authorization.k8s.io/v1/clusterroles': 'clusterroles',
    '/apis/apps/v1/deployments': 'deployments',
    '/api/v1/nodes': 'nodes',
    '/api/v1/namespaces': 'namespaces',
    '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations': 'validatingwebhookconfigurations',
  };
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const name = routes[url.pathname];
    const list = name ? testdata(name) : { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] };
    if (name === 'clusterrolebindings') {
      const from = Number(url.searchParams.get('continue') ?? 0);
      const items = list.items.slice(from, from + 2);
      list.metadata = { resourceVersion: '48722', ...(from + 2 < list.items.length ? { continue: String(from + 2) } : {}) };
      list.items = items;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(list));
  });
}

describe('fetchClusterInventory against recorded API responses', () => {
  let server: http.Server;
  let dir: string;
  let kubeconfig: string;

  beforeAll(async () => {
    server = fakeApiServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    dir = mkdtempSync(path.join(tmpdir(), 'palisade-kube-'));
    kubeconfig = path.join(dir, 'config');
    writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster:\n    server: http://127.0.0.1:${port}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: prod\n  context:\n    cluster: prod\n    user: scanner\ncurrent-context: prod\nusers:\n- name: scanner\n  user:\n    token: not-a-secret\n`);
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every page and feeds the checks the same data the recorded files hold', async () => {
    const inventory = await fetchClusterInventory('prod', { kubeconfig });
    expect(inventory.snapshot.clusterRoleBindings?.items?.map((b) => b.metadata?.name)).toEqual(testdata('clusterrolebindings').items.map((b: { metadata: { name: string } }) => b.metadata.name));
    expect(inventory.workloads.filter((w) => w.kind === 'Deployment')).toHaveLength(3);

    const recs = new Map(assessCluster(compilePolicySet(BUILTIN_POLICIES), inventory, { now: new Date('2026-03-01T00:00:00Z') }).map((r) => [r.policy, r]));
    expect(recs.get('cluster-admin-bindings')!.unhealthy.map((r) => r.name).sort()).toEqual(['ci-deployer-admin', 'kubeadm:cluster-admins']);
    expect(recs.get('kubernetes-dashboard')!.unhealthy.map((r) => r.name)).toEqual(['kubernetes-dashboard']);
    expect(recs.get('namespace-pod-security')!.unhealthy.map((r) => r.name)).toEqual(['default', 'legacy']);
    expect(recs.get('unsupported-node-versions')!.unhealthy.map((r) => r.name)).toEqual(['worker-old']);
    expect(recs.get('read-only-root-filesystem')!.unhealthy.map((r) => r.id)).toContain('prod/shop/deployment/web');
  });

  it('reports an unreachable cluster as a typed error', async () => {
    const bad = path.join(dir, 'bad');
    writeFileSync(bad, readFileSync(kubeconfig, 'utf8').replace(/127\.0\.0\.1:\d+/, '127.0.0.1:1'));
    await expect(fetchClusterInventory('prod', { kubeconfig: bad })).rejects.toThrow(/listing prod failed/);
  });
});
