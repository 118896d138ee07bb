/**
 * For the graph tests: an HTTP server answering every list call a posture scan makes, from the
 * lists in test/graph/cluster first, then the recorded ones in src/policy/cluster-testdata, so the
 * real Kubernetes client reads one whole cluster (services, service accounts and bindings too).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const DIRS = [path.join(import.meta.dirname, 'cluster'), path.join(import.meta.dirname, '../../src/policy/cluster-testdata')];

const ROUTES: Record<string, string> = {
  '/api/v1/pods': 'pods', '/api/v1/services': 'services', '/api/v1/serviceaccounts': 'serviceaccounts', '/api/v1/namespaces': 'namespaces', '/api/v1/nodes': 'nodes',
  '/apis/apps/v1/deployments': 'deployments',
  '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings': 'clusterrolebindings', '/apis/rbac.authorization.k8s.io/v1/rolebindings': 'rolebindings',
  '/apis/rbac.authorization.k8s.io/v1/clusterroles': 'clusterroles', '/apis/rbac.authorization.k8s.io/v1/roles': 'roles',
};

function list(name: string | undefined): unknown {
  for (const dir of DIRS) {
    const file = name && path.join(dir, `${name}.json`);
    if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  }
  return { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] };
}

export async function startClusterReplay(): Promise<{ url: string; writeKubeconfig(file: string): string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://replay');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(list(ROUTES[url.pathname])));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    writeKubeconfig(file) {
      writeFileSync(file, `apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster:\n    server: ${url}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: prod\n  context:\n    cluster: prod\n    user: scanner\ncurrent-context: prod\nusers:\n- name: scanner\n  user:\n    token: not-a-secret\n`, { mode: 0o600 });
      return file;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
