import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePolicySet } from '../engine.js';
import { BUILTIN_POLICIES } from '../policies/index.js';
import { fetchClusterInventory } from './cluster-client.js';
import { assessCluster } from './posture-scan.js';
import { recordedList, startReplayApiServer, type ReplayApiServer } from '../../../test/support/kube-api-replay.js';

const testdata = recordedList;

describe('fetchClusterInventory against recorded API responses', () => {
  let server: ReplayApiServer;
  let dir: string;
  let kubeconfig: string;

  beforeAll(async () => {
    server = await startReplayApiServer();
    dir = mkdtempSync(path.join(tmpdir(), 'palisade-kube-'));
    kubeconfig = server.writeKubeconfig(path.join(dir, 'config'));
  });
  afterAll(async () => {
    await server?.close();
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
