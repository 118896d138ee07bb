import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStore, type TestStore } from '../../test/support/store.js';
import { identifyAlerts } from './identify.js';
import { identityOfResource } from './ids.js';
import { kubeObjectsDelta } from './kube.js';
import { threatsDelta } from './observe.js';
import { dangerousPermissions } from './rbac.js';
import { insertRegistry, recordImagePush } from '../store/index.js';
import { loadAround, loadCluster, resolveImageDigests } from './read.js';
import { flushGraph, observeThreats, writeDelta } from './write.js';

const at = new Date('2026-03-02T08:00:00Z');
const DIGEST = `sha256:${'a'.repeat(64)}`;

/** A pod create as the API server records it at RequestResponse level (made by a ReplicaSet). */
const podCreate = {
  kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: 'p-1', stage: 'ResponseComplete', verb: 'create',
  user: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
  objectRef: { resource: 'pods', namespace: 'shop', apiVersion: 'v1' },
  responseStatus: { code: 201 },
  requestObject: { kind: 'Pod', metadata: { generateName: 'web-6b7f9c8d5-' } },
  responseObject: {
    kind: 'Pod', apiVersion: 'v1',
    metadata: { name: 'web-6b7f9c8d5-abcde', namespace: 'shop', uid: 'uid-1', labels: { app: 'web', 'pod-template-hash': '6b7f9c8d5' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-6b7f9c8d5', uid: 'rs-1', controller: true }] },
    spec: { serviceAccountName: 'web', nodeName: 'worker-1', containers: [{ name: 'web', image: `registry.example/web@${DIGEST}` }] },
  },
};

describe('the resource graph on a real store', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await createTestStore({ name: 'graph' });
  }, 60_000);
  afterAll(async () => t?.close());

  it('resolves the image a pod names by tag through the connected registry of its host, however the host or a Docker Hub name is spelled', async () => {
    const db = t.store.db;
    const hub = `sha256:${'b'.repeat(64)}`;
    const own = `sha256:${'c'.repeat(64)}`;
    await insertRegistry(db, { name: 'hub', url: 'https://registry-1.docker.io', kind: 'dockerhub', credentials: null, at });
    await insertRegistry(db, { name: 'own', url: 'https://Registry.Example:443', kind: 'distribution', credentials: null, at });
    await recordImagePush(db, { registry: 'hub', repository: 'library/nginx', digest: hub, tag: '1.27', imported: false, at });
    await recordImagePush(db, { registry: 'own', repository: 'shop/web', digest: own, tag: '1.4', imported: false, at });
    const resolved = await resolveImageDigests(db, ['nginx:1.27', 'docker.io/library/nginx:1.27', 'registry.example/shop/web:1.4', `elsewhere.example/shop/web@${own}`,
      'registry.example:5000/shop/web:1.4', 'elsewhere.example/shop/web:1.4', 'nginx:1.28', 'Not A Reference']);
    expect(Object.fromEntries(resolved)).toEqual({
      'nginx:1.27': hub, 'docker.io/library/nginx:1.27': hub, 'registry.example/shop/web:1.4': own, [`elsewhere.example/shop/web@${own}`]: own,
    });
  });

  it('builds owner chain, containers, image, service account, node and service selection from an audit event and a listed service', async () => {
    await writeDelta(t.store.db, [threatsDelta([{ source: 'audit', resource: { kind: 'workload', id: 'prod/shop/deployment/web', name: 'web', cluster: 'prod' }, evidence: [podCreate] }])], at);
    await writeDelta(t.store.db, [kubeObjectsDelta('prod', [
      { kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 443 }] } },
      { kind: 'Service', metadata: { name: 'db', namespace: 'shop' }, spec: { selector: { app: 'db' } } },
    ])], at);
    const g = await loadCluster(t.store.db, 'prod');
    const pod = 'pod:prod/shop/pod/web-6b7f9c8d5-abcde';
    expect(g.topOwner(pod)).toBe('workload:prod/shop/deployment/web');
    expect(g.children(pod, 'runs').map((e) => e.dst)).toEqual(['container:prod/shop/web-6b7f9c8d5-abcde/web']);
    expect(g.children('container:prod/shop/web-6b7f9c8d5-abcde/web', 'image').map((e) => e.dst)).toEqual([`image:${DIGEST}`]);
    expect(g.children(pod, 'runs-as').map((e) => e.dst)).toEqual(['serviceaccount:prod/shop/web']);
    expect(g.parents(pod, 'hosts').map((e) => e.src)).toEqual(['node:prod/worker-1']);
    expect(g.children('service:prod/shop/web', 'selects').map((e) => e.dst)).toEqual([pod]);
    expect(g.children('service:prod/shop/db', 'selects')).toEqual([]);

    // A pod written later is matched against the services already there; relabelled, it leaves.
    const web2 = (app: string) => kubeObjectsDelta('prod', [{ kind: 'Pod', metadata: { name: 'web-2', namespace: 'shop', labels: { app } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } }]);
    await writeDelta(t.store.db, [web2('web')], at);
    expect((await loadCluster(t.store.db, 'prod')).children('service:prod/shop/web', 'selects').map((e) => e.dst).sort()).toEqual(['pod:prod/shop/pod/web-2', pod]);
    await writeDelta(t.store.db, [web2('db')], at);
    const after = await loadCluster(t.store.db, 'prod');
    expect(after.children('service:prod/shop/web', 'selects').map((e) => e.dst)).toEqual([pod]);
    expect(after.children('service:prod/shop/db', 'selects').map((e) => e.dst)).toEqual(['pod:prod/shop/pod/web-2']);
  });

  it('resolves an agent alert that names only a container id through the alias the pod\'s status gave', async () => {
    await writeDelta(t.store.db, [kubeObjectsDelta('prod', [{
      kind: 'Pod', metadata: { name: 'api-1', namespace: 'shop', uid: 'uid-2' },
      spec: { containers: [{ name: 'api', image: 'registry.example/api:1' }] },
      status: { containerStatuses: [{ name: 'api', containerID: 'containerd://c0ffee', imageID: `registry.example/api@${DIGEST}` }] },
    }])], at);
    const ids = await identifyAlerts(t.store.db, [{ id: 'a1', source: 'agent', resource: { kind: 'container', id: 'c0ffee', name: 'c0ffee', cluster: 'prod' }, evidence: [{ node: 'worker-2', container: { id: 'c0ffee', runtime: 'containerd' } }] }]);
    expect(ids.get('a1')).toMatchObject({ pod: { id: 'pod:prod/shop/pod/api-1', name: 'api-1' }, containers: [{ id: 'container:prod/shop/api-1/api' }], images: [DIGEST], node: 'worker-2' });
  });

  it('learns from the intake in the background and forgets a deleted pod with its containers', async () => {
    observeThreats(t.store.db, [{ source: 'agent', resource: { kind: 'container', id: 'beef', name: 'x', cluster: 'prod' }, evidence: [{ node: 'worker-3', container: { id: 'beef', runtime: 'containerd', name: 'job', pod: 'batch-1', namespace: 'ops', podUid: 'uid-3' } }] }]);
    await flushGraph(t.store.db);
    expect((await loadAround(t.store.db, ['pod:prod/ops/pod/batch-1'])).children('pod:prod/ops/pod/batch-1', 'runs').map((e) => e.dst)).toEqual(['container:prod/ops/batch-1/job']);
    observeThreats(t.store.db, [{ source: 'audit', resource: { kind: 'pod', id: 'prod/ops/pod/batch-1', name: 'batch-1', cluster: 'prod' }, evidence: [{ verb: 'delete', objectRef: { resource: 'pods', namespace: 'ops', name: 'batch-1' }, responseStatus: { code: 200 } }] }]);
    await flushGraph(t.store.db);
    const rows = await t.store.db.selectFrom('graph_nodes').select('id').where('id', 'in', ['pod:prod/ops/pod/batch-1', 'container:prod/ops/batch-1/job']).execute();
    expect(rows).toEqual([]);
  });

  it('finds the dangerous permissions of a service account, and none for one bound only to view', async () => {
    await writeDelta(t.store.db, [kubeObjectsDelta('prod', [
      { kind: 'ClusterRole', metadata: { name: 'secrets-reader' }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }] },
      { kind: 'ClusterRole', metadata: { name: 'view' }, rules: [{ apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] }] },
      { kind: 'RoleBinding', metadata: { name: 'web-secrets', namespace: 'shop' }, roleRef: { kind: 'ClusterRole', name: 'secrets-reader' }, subjects: [{ kind: 'ServiceAccount', name: 'web', namespace: 'shop' }] },
      { kind: 'RoleBinding', metadata: { name: 'api-view', namespace: 'shop' }, roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'ServiceAccount', name: 'api' }] },
    ])], at);
    const g = await loadCluster(t.store.db, 'prod');
    expect(dangerousPermissions(g, 'prod', 'shop', 'web')).toEqual([expect.objectContaining({ id: 'secrets', role: 'ClusterRole secrets-reader', onlySubject: true, scope: 'in namespace shop' })]);
    expect(dangerousPermissions(g, 'prod', 'shop', 'api')).toEqual([]);
  });
});

describe('the graph identity of a resource an alert or recommendation names', () => {
  it('maps posture, audit and registry ids to the ids the graph keeps, and nothing for what it does not keep', () => {
    expect(identityOfResource({ kind: 'workload', id: 'prod/shop/deployment/web' })).toBe('workload:prod/shop/deployment/web');
    expect(identityOfResource({ kind: 'pod', id: 'prod/shop/pod/web-1' })).toBe('pod:prod/shop/pod/web-1');
    expect(identityOfResource({ kind: 'workload', id: 'prod/shop/service/web' })).toBe('service:prod/shop/web');
    expect(identityOfResource({ kind: 'workload', id: 'prod/shop/serviceaccount/web' })).toBe('serviceaccount:prod/shop/web');
    expect(identityOfResource({ kind: 'workload', id: 'prod/-/clusterrolebinding/kubeadm:cluster-admins' })).toBe('clusterrolebinding:prod/kubeadm:cluster-admins');
    expect(identityOfResource({ kind: 'node', id: 'prod/-/node/worker-1' })).toBe('node:prod/worker-1');
    expect(identityOfResource({ kind: 'namespace', id: 'prod/-/namespace/shop' })).toBe('namespace:prod/shop');
    expect(identityOfResource({ kind: 'namespace', id: 'prod/shop' })).toBe('namespace:prod/shop');
    expect(identityOfResource({ kind: 'cluster', id: 'prod' })).toBe('cluster:prod');
    expect(identityOfResource({ kind: 'image', id: `acr/shop/web@${DIGEST}` })).toBe(`image:${DIGEST}`);
    expect(identityOfResource({ kind: 'image', id: `prod/${DIGEST}` })).toBe(`image:${DIGEST}`);
    // A running image known only by its tag, a repository, a container by runtime id, a scan of no cluster.
    expect(identityOfResource({ kind: 'image', id: 'prod/docker.io/library/busybox:1.36' })).toBeUndefined();
    expect(identityOfResource({ kind: 'repository', id: 'acr/shop/web' })).toBeUndefined();
    expect(identityOfResource({ kind: 'container', id: '3f2a9c' })).toBeUndefined();
    expect(identityOfResource({ kind: 'workload', id: '-/shop/deployment/web' })).toBeUndefined();
  });
});
