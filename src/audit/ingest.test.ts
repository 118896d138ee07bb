import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../store/index.js';
import { createAuditIngest, loadAuditRules } from './index.js';
import { createTestStore, type TestStore } from '../../test/support/store.js';

/**
 * The webhook path over a real (embedded) PostgreSQL: the stages of one exec session arrive in
 * separate batches, as the apiserver sends them (the ResponseComplete when the session ends).
 */
describe('audit ingest across batches', () => {
  let temp: TestStore;
  let store: Store;
  beforeAll(async () => {
    temp = await createTestStore({ name: 'ingest' });
    store = temp.store;
  }, 300_000);
  afterAll(async () => {
    await temp?.close();
  });

  // Recorded by Falco (falcosecurity/falco 1f28f85bdf1bde15aa2af9ca30bcd64bb5021561, also cited at 2583ea9b,
  // test/trace_files/k8s_audit/exec_pod.json), verbatim; each batch sets its own stage and code. No apiVersion.
  const recorded = {
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' }, auditID: 'ca1ed9f4-7bf4-4c85-81a8-1b11253d1ba6',
    kind: 'Event', level: 'Request', metadata: { creationTimestamp: '2018-10-26T13:38:34Z' },
    objectRef: { apiVersion: 'v1', name: 'nginx-deployment-7998647bdf-phvq7', namespace: 'default', resource: 'pods', subresource: 'exec' },
    requestReceivedTimestamp: '2018-10-26T13:38:34.867116Z', requestURI: '/api/v1/namespaces/default/pods/nginx-deployment-7998647bdf-phvq7/exec?command=bash&container=nginx1&container=nginx1&stdin=true&stdout=true&tty=true',
    responseStatus: { code: 101, metadata: {} }, sourceIPs: ['192.168.99.1'], stage: 'ResponseStarted', stageTimestamp: '2018-10-26T13:38:34.902914Z',
    timestamp: '2018-10-26T13:38:34Z', user: { groups: ['system:masters', 'system:authenticated'], username: 'minikube-user' }, verb: 'create',
  };
  const exec = (stage: string, code: number) => ({ ...recorded, stage, responseStatus: { code, metadata: {} } });

  it('alerts on an exec once: when its stream opens, not when it ends, and again if the first answer failed', async () => {
    const ingest = await createAuditIngest(store.db, loadAuditRules({ dir: null }));
    const list = (...items: unknown[]) => ({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items });
    const rulesOf = (threats: Array<{ rule: string }>) => threats.map((t) => t.rule).filter((r) => r === 'k8s.exec-into-pod');

    const started = await ingest.ingest('prod', list(exec('ResponseStarted', 101)));
    expect(rulesOf(started.threats)).toEqual(['k8s.exec-into-pod']);
    // The center failed to record: the batch is not committed, the apiserver sends it again.
    const again = await ingest.ingest('prod', list(exec('ResponseStarted', 101)));
    expect(rulesOf(again.threats)).toEqual(['k8s.exec-into-pod']);
    await again.commit();
    const ended = await ingest.ingest('prod', list(exec('ResponseComplete', 101)));
    expect(ended.events).toBe(1);
    expect(rulesOf(ended.threats)).toEqual([]);
    await ended.commit();
    // Another cluster's request with the same auditID is its own.
    const other = await ingest.ingest('staging', list(exec('ResponseComplete', 101)));
    expect(rulesOf(other.threats)).toEqual(['k8s.exec-into-pod']);
    await ingest.flushState();
  }, 120_000);
});
