/**
 * For tests: an HTTP server that answers the Kubernetes list calls a posture scan makes with the
 * recorded responses in src/policy/cluster-testdata (cluster role bindings two per page, to exercise
 * `continue`), and a kubeconfig pointing at it (plain HTTP, which the client accepts only with
 * insecure-skip-tls-verify). No API server runs on these machines. Test code: it lives here, not
 * beside the posture scan, so the build never ships it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const TESTDATA = path.join(import.meta.dirname, '../../src/policy/cluster-testdata');

const ROUTES: Record<string, string> = {
  '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings': 'clusterrolebindings',
  '/apis/rbac.authorization.k8s.io/v1/rolebindings': 'rolebindings',
  '/apis/rbac.authorization.k8s.io/v1/clusterroles': 'clusterroles',
  '/apis/apps/v1/deployments': 'deployments',
  '/api/v1/nodes': 'nodes',
  '/api/v1/pods': 'pods',
  '/api/v1/namespaces': 'namespaces',
  '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations': 'validatingwebhookconfigurations',
};

export function recordedList(name: string): { items: { metadata: { name: string } }[] } & Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(TESTDATA, `${name}.json`), 'utf8'));
}

export interface ReplayApiServer {
  url: string;
  /** Requests served, by path: what the scan asked for. */
  requests: string[];
  /** Writes a kubeconfig for this server (cluster and context `name`) and returns its path. */
  writeKubeconfig(file: string, name?: string): string;
  close(): Promise<void>;
}

export async function startReplayApiServer(): Promise<ReplayApiServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://replay');
    requests.push(url.pathname);
    const name = ROUTES[url.pathname];
    const list = name ? recordedList(name) : { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] };
    if (name === 'clusterrolebindings') {
      const from = Number(url.searchParams.get('continue') ?? 0);
      const all = list.items;
      list.items = all.slice(from, from + 2);
      list.metadata = { resourceVersion: '48722', ...(from + 2 < all.length ? { continue: String(from + 2) } : {}) };
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(list));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    requests,
    writeKubeconfig(file, name = 'prod') {
      writeFileSync(file, `apiVersion: v1\nkind: Config\nclusters:\n- name: ${name}\n  cluster:\n    server: ${url}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: ${name}\n  context:\n    cluster: ${name}\n    user: scanner\ncurrent-context: ${name}\nusers:\n- name: scanner\n  user:\n    token: not-a-secret\n`, { mode: 0o600 });
      return file;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
