import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplayApiServer, type ReplayApiServer } from '../support/kube-api-replay.js';
import { startProcess, type ServerProcess } from '../support/cli.js';
import { jsonOf } from '../support/http.js';

/**
 * A real `palisade server` configured with a live cluster (a server replaying recorded API
 * responses): switching the cluster's Kubernetes plan on assesses it at once, and the
 * recommendations, secure score and node inventory appear through the API the dashboard uses.
 */
describe('palisade server assesses configured clusters', () => {
  let api: ReplayApiServer;
  let dir: string;
  let server: ServerProcess;
  let headers: Record<string, string>;

  beforeAll(async () => {
    api = await startReplayApiServer();
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-live-cluster-'));
    const kubeconfig = api.writeKubeconfig(path.join(dir, 'prod.kubeconfig'));
    server = await startProcess(['server', '--port', '0'], {
      env: { PALISADE_DATA_DIR: path.join(dir, 'data'), PALISADE_CLUSTERS: `prod=${kubeconfig}` },
    });
    headers = { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' };
  });
  afterAll(async () => {
    await server?.stop();
    await api?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const get = async (route: string) => jsonOf(await fetch(`${server.url}/api/v1/${route}`, { headers }));

  it('switching the plan on assesses the cluster: recommendations, score and nodes through the API', async () => {
    expect(await get('recommendations?scope=cluster:prod')).toEqual({ items: [] });
    const off = await fetch(`${server.url}/api/v1/plans/cluster:prod`, { method: 'PUT', headers, body: JSON.stringify({ enabled: false }) });
    expect(off.status).toBe(200);
    const on = await jsonOf(await fetch(`${server.url}/api/v1/plans/cluster:prod`, { method: 'PUT', headers, body: JSON.stringify({ enabled: true }) }));
    expect(on).toMatchObject({ scope: 'cluster:prod', enabled: true, firstScans: 1 });

    await expect.poll(async () => ((await get('recommendations?scope=cluster:prod')) as { items: unknown[] }).items.length, { timeout: 30_000, interval: 300 }).toBeGreaterThan(5);
    const { items } = await get('recommendations?scope=cluster:prod') as { items: { policy: string; control?: string; unhealthy: { name: string }[] }[] };
    expect(items.find((r) => r.policy === 'kubernetes-dashboard')).toMatchObject({ control: expect.any(String), unhealthy: [{ name: 'kubernetes-dashboard' }] });

    const score = await get('score?scope=cluster:prod') as { current?: { percentage: number }; scopes: string[] };
    expect(score.scopes).toEqual(expect.arrayContaining(['overall', 'cluster:prod']));
    expect(score.current!.percentage).toBeGreaterThan(0);
    expect(score.current!.percentage).toBeLessThan(100);

    const nodes = await get('nodes?cluster=prod') as { items: { name: string; cores: number }[] };
    expect(nodes.items.map((n) => [n.name, n.cores])).toEqual([['cp-1', 4], ['worker-old', 2]]);

    // Images in use, a page at a time.
    const first = await get('running-images?cluster=prod&limit=4') as { items: { pod: string; container: string }[]; next?: string };
    expect(first.items).toHaveLength(4);
    const rest = await get(`running-images?cluster=prod&limit=4&cursor=${first.next}`) as { items: { pod: string; container: string }[]; next?: string };
    expect(rest.next).toBeUndefined();
    expect([...first.items, ...rest.items].map((r) => `${r.pod}/${r.container}`)).toContain('web-6b7f9c8d5-abcde/migrate');
    expect(first.items.length + rest.items.length).toBe(6);
  });

  it('switching the plan on for a cluster that is not configured queues nothing', async () => {
    const on = await jsonOf(await fetch(`${server.url}/api/v1/plans/cluster:staging`, { method: 'PUT', headers, body: JSON.stringify({ enabled: true }) }));
    expect(on).toMatchObject({ enabled: true, firstScans: 0 });
  });
});
