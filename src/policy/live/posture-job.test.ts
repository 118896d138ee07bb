import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listRecommendations, scoreView, secureScore, setPlan } from '../../center/index.js';
import type { Clock, ClusterSource } from '../../core/index.js';
import { startJobQueue, type JobQueue } from '../../jobs/index.js';
import { listRunningImages, markImageScanned, recordImagePush, type Store } from '../../store/index.js';
import { storeAuditEvents } from '../../audit/index.js';
import { compilePolicySet } from '../engine.js';
import { BUILTIN_POLICIES } from '../policies/index.js';
import { fetchClusterInventory } from './cluster-client.js';
import { assessLiveCluster, cpuCores, POSTURE_ALL_QUEUE, postureJobs, type PostureContext } from './posture-job.js';
import { assessCluster } from './posture-scan.js';
import { startReplayApiServer, type ReplayApiServer } from '../../../test/support/kube-api-replay.js';
import { createTestStore, type TestStore } from '../../../test/support/store.js';

class TestClock implements Clock {
  constructor(public at: Date) {}
  now(): Date { return new Date(this.at); }
}

describe('scheduled posture scan of a live cluster (recorded API responses)', () => {
  let api: ReplayApiServer;
  let apiDir: string;
  let clusters: ClusterSource[];
  let temp: TestStore;
  let store: Store;
  let clock: TestClock;
  let jobs: JobQueue | undefined;
  const policies = () => compilePolicySet(BUILTIN_POLICIES);
  const context = (): PostureContext => ({ store, clock, jobs: () => jobs, clusters, policies });

  beforeAll(async () => {
    api = await startReplayApiServer();
    apiDir = mkdtempSync(path.join(tmpdir(), 'palisade-posture-kube-'));
    clusters = [{ name: 'prod', kubeconfig: api.writeKubeconfig(path.join(apiDir, 'prod.kubeconfig')) }];
    temp = await createTestStore({ name: 'posture' });
    store = temp.store;
  });
  afterAll(async () => {
    await api?.close();
    await temp?.close();
    rmSync(apiDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    // One store for the file (opening one costs seconds); each test starts from an empty posture.
    for (const table of ['recommendations', 'secure_scores', 'nodes', 'clusters', 'usage', 'plans', 'audit_events', 'running_images', 'image_finding_counts', 'images'] as const) {
      await store.db.deleteFrom(table).execute();
    }
    clock = new TestClock(new Date('2026-11-20T10:15:00Z'));
  });
  afterEach(async () => {
    await jobs?.stop(1000);
    jobs = undefined;
  });

  it('stores the cluster\'s recommendations with their controls, and a secure score equal to one computed from them', async () => {
    const outcome = await assessLiveCluster(context(), 'prod');
    expect(outcome).toMatchObject({ cluster: 'prod', status: 'assessed', nodes: 2 });

    const stored = new Map((await listRecommendations(store.db, 'cluster:prod')).map((r) => [r.policy, r]));
    expect(stored.get('cluster-admin-bindings')!.unhealthy.map((r) => r.name).sort()).toEqual(['ci-deployer-admin', 'kubeadm:cluster-admins']);
    expect(stored.get('unsupported-node-versions')!.unhealthy.map((r) => r.name)).toEqual(['worker-old']);
    expect(stored.get('cluster-admin-bindings')!.control).toBe('Manage access and permissions');
    expect([...stored.values()].every((r) => typeof r.control === 'string')).toBe(true);

    // The same inventory assessed directly gives the score the job kept for today.
    const expected = secureScore(assessCluster(policies(), await fetchClusterInventory('prod', clusters[0]!), { now: clock.now() })).clusters.prod!;
    const view = await scoreView(store.db, 'cluster:prod');
    expect(view.current).toMatchObject({ day: '2026-11-20', score: expected.score, maxScore: expected.maxScore, percentage: expected.percentage });
    expect(view.current!.percentage).toBeGreaterThan(0);
    expect(view.current!.percentage).toBeLessThan(100);
    expect((await scoreView(store.db, 'overall')).current).toBeDefined();
    expect(api.requests).toContain('/api/v1/nodes');
  });

  it('names each assessed resource by its identity in the graph the same scan recorded', async () => {
    for (const table of ['graph_edges', 'graph_nodes'] as const) await store.db.deleteFrom(table).execute();
    await assessLiveCluster(context(), 'prod');
    const refs = (await listRecommendations(store.db, 'cluster:prod')).flatMap((r) => [...r.healthy, ...r.unhealthy, ...r.notApplicable]);
    const admins = (await listRecommendations(store.db, 'cluster:prod')).find((r) => r.policy === 'cluster-admin-bindings')!;
    expect(admins.unhealthy.map((r) => r.identity).sort()).toEqual(['clusterrolebinding:prod/ci-deployer-admin', 'clusterrolebinding:prod/kubeadm:cluster-admins']);
    const identities = [...new Set(refs.flatMap((r) => (r.identity ? [r.identity] : [])))];
    expect(identities.some((id) => id.startsWith('workload:prod/shop/deployment/'))).toBe(true);
    expect(identities).toContain('node:prod/worker-old');
    const known = new Set((await store.db.selectFrom('graph_nodes').select('id').where('id', 'in', identities).execute()).map((n) => n.id));
    expect(identities.filter((id) => !known.has(id))).toEqual([]);
    // Only images have no graph identity until a digest is known (not applicable running images by tag).
    expect(refs.filter((r) => !r.identity).map((r) => r.kind).filter((k) => k !== 'image')).toEqual([]);
  });

  it('keeps one score per day and a daily trend', async () => {
    await assessLiveCluster(context(), 'prod');
    await assessLiveCluster(context(), 'prod');
    clock.at = new Date('2026-11-21T10:15:00Z');
    await assessLiveCluster(context(), 'prod');
    expect((await scoreView(store.db, 'cluster:prod')).history.map((h) => h.day)).toEqual(['2026-11-20', '2026-11-21']);
  });

  it('counts audit logging as connected once the cluster has sent an audit event recently', async () => {
    await assessLiveCluster(context(), 'prod');
    const before = (await listRecommendations(store.db, 'cluster:prod')).find((r) => r.policy === 'audit-logging-connected')!;
    expect(before.unhealthy.map((r) => r.id)).toEqual(['prod']);

    await storeAuditEvents(store.db, 'prod', [{
      kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: '2b3e8c2e-1a9f-4f7b-9d0e-7f3c9a1b5d21', stage: 'ResponseComplete',
      requestURI: '/api/v1/namespaces/shop/pods', verb: 'list', user: { username: 'system:serviceaccount:shop:web' },
      objectRef: { resource: 'pods', namespace: 'shop', apiVersion: 'v1' }, responseStatus: { code: 200 },
      requestReceivedTimestamp: '2026-11-20T10:00:00.000000Z', stageTimestamp: '2026-11-20T10:00:00.020000Z',
    } as never]);
    await assessLiveCluster(context(), 'prod');
    const after = (await listRecommendations(store.db, 'cluster:prod')).find((r) => r.policy === 'audit-logging-connected')!;
    expect(after.unhealthy).toEqual([]);
    expect(after.healthy.map((r) => r.id)).toEqual(['prod']);
  });

  it('records the listed nodes and meters each node-hour of cores once, however often it scans', async () => {
    const coreHours = async () => Number((await sql<{ n: string }>`select coalesce(sum(quantity), 0) as n from usage where meter = 'core_hours' and scope = 'cluster:prod'`.execute(store.db)).rows[0]!.n);
    await assessLiveCluster(context(), 'prod');
    await assessLiveCluster(context(), 'prod');
    const nodes = await store.db.selectFrom('nodes').select(['name', 'cores', 'kernel', 'last_heartbeat']).where('cluster', '=', 'prod').orderBy('name').execute();
    expect(nodes).toEqual([
      { name: 'cp-1', cores: 4, kernel: '6.1.0-28-cloud-amd64', last_heartbeat: null },
      { name: 'worker-old', cores: 2, kernel: '4.15.0-213-generic', last_heartbeat: null },
    ]);
    expect(await coreHours()).toBe(6);
    clock.at = new Date('2026-11-20T11:05:00Z');
    await assessLiveCluster(context(), 'prod');
    expect(await coreHours()).toBe(12);
  });

  it('with the Kubernetes plan off: keeps the inventory and the meter, stores no recommendations', async () => {
    await setPlan(store.db, 'cluster:prod', false, clock.now());
    expect(await assessLiveCluster(context(), 'prod')).toEqual({ cluster: 'prod', status: 'skipped', reason: 'the Kubernetes plan is off for this cluster' });
    expect(await listRecommendations(store.db, 'cluster:prod')).toEqual([]);
    expect(await store.db.selectFrom('nodes').select('name').where('cluster', '=', 'prod').execute()).toHaveLength(2);
  });

  it('skips a cluster that is not configured, and names an unreachable one', async () => {
    expect(await assessLiveCluster(context(), 'staging')).toMatchObject({ status: 'skipped', reason: 'not in the clusters setting' });
    const unreachable = { ...context(), clusters: [{ name: 'prod', kubeconfig: path.join(apiDir, 'missing.kubeconfig') }] };
    await expect(assessLiveCluster(unreachable, 'prod')).rejects.toThrow(/cannot load the Kubernetes configuration/);
  });

  it('runs from the queue: the scheduled job fans out one scan per configured cluster', async () => {
    const definitions = postureJobs(context());
    expect(definitions.find((d) => d.queue === POSTURE_ALL_QUEUE)!.cron).toBe('*/30 * * * *');
    jobs = await startJobQueue(store, { definitions });
    await jobs.send(POSTURE_ALL_QUEUE, {});
    await expect.poll(async () => (await listRecommendations(store.db, 'cluster:prod')).length, { timeout: 30_000, interval: 250 }).toBeGreaterThan(5);
  });

  it('records the images each container runs and recommends fixing the vulnerable ones among them', async () => {
    const web = 'sha256:4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d';
    const api = 'sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b';
    for (const [repository, digest] of [['shop/web', web], ['shop/api', api]] as const) {
      await recordImagePush(store.db, { registry: 'acr', repository, digest, imported: false, at: clock.now() });
      await markImageScanned(store.db, digest, clock.now());
    }
    // What the findings triggers keep for an image whose scan found one critical vulnerability.
    await store.db.insertInto('image_finding_counts').values({ digest: api, critical: 1, high: 0, medium: 0, low: 0, unknown: 0 }).execute();

    await assessLiveCluster(context(), 'prod');
    const running = await listRunningImages(store.db, { cluster: 'prod', limit: 50 });
    expect(running.map((r) => [r.namespace, r.pod, r.container, r.digest ?? null])).toEqual([
      ['kube-system', 'coredns-7c65d6cfc9-x2kqp', 'coredns', 'sha256:9caabbf6238b189a65d0d6e6ac138de60d6a1c419e5a341fbbb7c78382559c6e'],
      ['legacy', 'cron-runner', 'runner', null],
      ['shop', 'api-5d8c7b6a4-klmno', 'api', api],
      ['shop', 'web-6b7f9c8d5-abcde', 'migrate', 'sha256:1111222233334444555566667777888899990000aaaabbbbccccddddeeeeffff'],
      ['shop', 'web-6b7f9c8d5-abcde', 'web', web],
      ['shop', 'web-6b7f9c8d5-fghij', 'web', web],
    ]);
    expect(running.find((r) => r.container === 'api')).toMatchObject({ scanned: true, critical: 1 });
    expect(running.find((r) => r.container === 'coredns')).toMatchObject({ scanned: false, critical: 0 });

    const rec = (await listRecommendations(store.db, 'cluster:prod')).find((r) => r.policy === 'running-images-vulnerabilities')!;
    expect(rec.unhealthy.map((r) => r.name)).toEqual(['registry.example.com/shop/api:2.0']);
    // The image by digest: the identity image alerts, findings and attack paths name.
    expect(rec.unhealthy.map((r) => r.identity)).toEqual([`image:${api}`]);
    // One resource per image, however many pods run it.
    expect(rec.healthy.map((r) => r.name)).toEqual(['registry.example.com/shop/web:1.4']);
    expect(rec.notApplicable.map((r) => r.name).sort()).toEqual(['docker.io/library/busybox:1.36', 'registry.example.com/shop/migrate:1.4', 'registry.k8s.io/coredns/coredns:v1.11.3']);
  });

  it('reads Kubernetes CPU quantities', () => {
    expect(cpuCores('4')).toBe(4);
    expect(cpuCores('3500m')).toBe(3.5);
    expect(cpuCores('')).toBeUndefined();
    expect(cpuCores(undefined)).toBeUndefined();
  });
});
