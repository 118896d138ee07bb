import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordImageScan, replaceImageFindings } from '../../src/center/index.js';
import { systemClock, type ImageInventory } from '../../src/core/index.js';
import { assessLiveCluster, BUILTIN_POLICIES, compilePolicySet } from '../../src/policy/index.js';
import { importOsv, matchInventory } from '../../src/vulndb/index.js';
import { bearer, createTestApp, type TestApp } from '../support/app.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { startClusterReplay } from './kube-replay.js';

/** The digests the recorded pods report in their container statuses (src/policy/cluster-testdata/pods.json). */
const WEB = 'sha256:4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d';
const API = 'sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b';

const npm = (name: string, version: string): ImageInventory['packages'][number] => ({ name, version, ecosystem: 'npm', purl: `pkg:npm/${name}@${version}` });

/**
 * A cluster read by the real Kubernetes client from recorded list responses (test/graph/cluster,
 * src/policy/cluster-testdata), findings matched by the real matcher against real GitHub advisories
 * (fixtures osv/npm): web (LoadBalancer) runs lodash 4.17.11 (critical GHSA-jf85-cpcp-j695, fixed
 * in 4.17.12); api (NodePort) runs serve-static 1.15.0 (only the moderate GHSA-cm22-4g7w-348p).
 * Both run as shop/default, which may read secrets. Exactly one path: through web.
 */
describe.skipIf(!fixturesAvailable())('attack paths from a recorded cluster', () => {
  let t: TestApp;
  let replay: Awaited<ReturnType<typeof startClusterReplay>>;
  let dir: string;
  const get = async (url: string, token = t.adminToken) => t.app.inject({ method: 'GET', url: `/api/v1/${url}`, headers: bearer(token) });

  async function scanned(digest: string, packages: ImageInventory['packages'], at: Date) {
    const findings = await matchInventory(t.store, { packages });
    await replaceImageFindings(t.store.db, digest, findings);
    await recordImageScan(t.store.db, { digest, startedAt: at, finishedAt: at, inventory: { packages } });
    return findings;
  }

  beforeAll(async () => {
    t = await createTestApp();
    replay = await startClusterReplay();
    dir = mkdtempSync(path.join(tmpdir(), 'palisade-graph-kube-'));
    await importOsv(t.store, [fixture('osv', 'npm')]);
    const web = await scanned(WEB, [npm('lodash', '4.17.11')], new Date(Date.now() - 60_000));
    expect(web.map((f) => `${f.id} ${f.severity} ${f.fixedVersion}`)).toContain('GHSA-jf85-cpcp-j695 critical 4.17.12');
    const api = await scanned(API, [npm('serve-static', '1.15.0')], new Date(Date.now() - 60_000));
    expect(api.map((f) => `${f.id} ${f.severity}`)).toEqual(['GHSA-cm22-4g7w-348p medium']);
    const kubeconfig = replay.writeKubeconfig(path.join(dir, 'prod.kubeconfig'));
    const outcome = await assessLiveCluster({
      store: t.store, clock: systemClock, jobs: () => undefined, clusters: [{ name: 'prod', kubeconfig }], policies: () => compilePolicySet(BUILTIN_POLICIES),
    }, 'prod');
    expect(outcome.cluster).toBe('prod');
  }, 120_000);
  afterAll(async () => {
    await replay?.close();
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds exactly one path, internet → web → critical lodash finding → shop/default reading secrets → node, with evidence and the cheapest fix', async () => {
    const res = await get('attack-paths?cluster=prod');
    expect(res.statusCode, res.body).toBe(200);
    const { items } = res.json();
    expect(items).toHaveLength(1);
    const [p] = items;
    expect(p).toMatchObject({ cluster: 'prod', severity: 'high', score: 80 });
    expect(p.hops.map((h: { kind: string; name: string }) => `${h.kind} ${h.name}`)).toEqual([
      'internet internet', 'service shop/web', 'workload shop/web', 'image registry.example.com/shop/web:1.4',
      'serviceaccount shop/default', 'permission ClusterRole secrets-reader (can read secrets)', 'node worker-old',
    ]);
    expect(p.edges.map((e: { label: string }) => e.label)).toEqual([
      'LoadBalancer :443', 'selects app=web', 'runs', 'GHSA-jf85-cpcp-j695 (critical, fix 4.17.12)', 'can read secrets', 'reaches node',
    ]);
    expect(p.edges[0].evidence).toBe('Service shop/web is type LoadBalancer at 203.0.113.10, ports 443 (node port 31443)');
    expect(p.edges[4].evidence).toBe('RoleBinding default-secrets grants ClusterRole secrets-reader in namespace shop');
    // Every edge joins two hops of the path.
    const hopIds = new Set(p.hops.map((h: { id: string }) => h.id));
    expect(p.edges.every((e: { from: string; to: string }) => hopIds.has(e.from) && hopIds.has(e.to))).toBe(true);
    expect(p.fix).toEqual({
      hopId: 'serviceaccount:prod/shop/default',
      text: 'Delete rolebinding default-secrets: it gives only serviceaccount shop/default ClusterRole secrets-reader, which can read secrets',
      command: 'kubectl delete rolebinding default-secrets -n shop',
    });
    const one = await get(`attack-paths/${p.id}`);
    expect(one.json()).toEqual(p);
  });

  it('recomputes when the findings change: the web image rebuilt on the fixed lodash breaks the path', async () => {
    await scanned(WEB, [npm('lodash', '4.17.21')], new Date());
    expect((await get('attack-paths?cluster=prod')).json().items).toEqual([]);
    // Back to the vulnerable build: the path returns.
    await scanned(WEB, [npm('lodash', '4.17.11')], new Date(Date.now() + 1000));
    expect((await get('attack-paths')).json().items).toHaveLength(1);
  });

  it('recomputes when a VEX statement speaks for the finding: the path moves to the next exploitable finding, and back when the statement is withdrawn', async () => {
    const before = (await get('attack-paths?cluster=prod')).json().items;
    expect(before.map((p: { edges: { label: string }[] }) => p.edges[3]!.label)).toEqual(['GHSA-jf85-cpcp-j695 (critical, fix 4.17.12)']);
    const vex = {
      '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://palisade.test/vex/web-lodash', author: 'shop team', timestamp: '2026-11-30T10:00:00Z', version: 1,
      statements: [{ vulnerability: { name: 'GHSA-jf85-cpcp-j695' }, products: [{ '@id': WEB }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }],
    };
    const added = await t.app.inject({ method: 'POST', url: '/api/v1/vex', headers: { ...bearer(t.adminToken), 'content-type': 'application/json' }, payload: vex });
    expect(added.statusCode, added.body).toBe(201);
    // lodash 4.17.11 has high findings too (GHSA-35jh-r3h4-6jhm, command injection): still a foothold, a lesser one.
    const during = (await get('attack-paths?cluster=prod')).json().items;
    expect(during).toHaveLength(1);
    expect(during[0].edges[3].label).toMatch(/^GHSA-(?!jf85)[\w-]+ \(high, fix /);
    expect(during[0].score).toBeLessThan(before[0].score);
    const removed = await t.app.inject({ method: 'DELETE', url: `/api/v1/vex/${added.json().id}`, headers: bearer(t.adminToken) });
    expect(removed.statusCode).toBe(204);
    expect((await get('attack-paths?cluster=prod')).json().items).toEqual(before);
  });

  it('answers bad parameters with 400, an unknown path with 404, and no token with 401', async () => {
    const bad = await get('attack-paths?cluster=Not_A_Cluster');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/cluster/);
    expect((await get('attack-paths/not-an-id')).statusCode).toBe(400);
    const missing = await get('attack-paths/ap_0000000000000000');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().message).toBe('no attack path ap_0000000000000000');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/attack-paths' })).statusCode).toBe(401);
  });
});
