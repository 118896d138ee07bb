import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sequentialIds } from '../core/index.js';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { AuditBatch, AuditDetector, AuditRuleEngine, analyzeAuditEvents, loadAuditRules, normalizeEvent, readAuditFile, type AuditEvent } from './index.js';
import { SITE_DEBUG_NAMESPACE_RULE } from '../../test/support/site-rules.js';

const rules = loadAuditRules({ dir: null });

function event(over: Record<string, unknown> = {}): AuditEvent {
  return normalizeEvent({
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: 'a1', stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods', verb: 'create', user: { username: 'alice@example.com', groups: ['system:authenticated'] },
    sourceIPs: ['10.0.0.1'], objectRef: { resource: 'pods', namespace: 'default', name: 'web', apiVersion: 'v1' },
    responseStatus: { code: 201 }, requestReceivedTimestamp: '2025-06-01T12:00:00Z', stageTimestamp: '2025-06-01T12:00:00Z',
    requestObject: { kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [{ name: 'web', image: 'nginx', securityContext: { privileged: true } }] } },
    ...over,
  });
}

describe('audit detector', () => {
  it('folds hits of one rule on one resource into one alert within the window, and opens a new one after it', () => {
    const at = (t: string, auditID: string) => event({ auditID, requestReceivedTimestamp: t, stageTimestamp: t });
    const result = analyzeAuditEvents([
      at('2025-06-01T12:00:00Z', 'a'), at('2025-06-01T12:10:00Z', 'b'), at('2025-06-01T12:30:00Z', 'c'),
      at('2025-06-01T15:00:00Z', 'd'),
    ], { rules, cluster: 'prod', ids: sequentialIds(), maxEvidence: 2 });
    const privileged = result.alerts.filter((a) => a.rule === 'k8s.privileged-container');
    expect(privileged).toHaveLength(2);
    expect(privileged[0]).toMatchObject({ count: 3, resource: { kind: 'pod', id: 'prod/default/pod/web', cluster: 'prod', namespace: 'default' }, severity: 'high', tactic: 'Privilege Escalation', technique: 'T1611' });
    expect(privileged[0]!.firstSeen.toISOString()).toBe('2025-06-01T12:00:00.000Z');
    expect(privileged[0]!.lastSeen.toISOString()).toBe('2025-06-01T12:30:00.000Z');
    expect(privileged[0]!.evidence.map((e) => (e as AuditEvent).auditID)).toEqual(['a', 'b']);
    expect(privileged[1]).toMatchObject({ count: 1 });
    expect(result.events).toBe(4);
  });

  it('attributes controller-made pods to their workload', () => {
    const e = event({ requestObject: { kind: 'Pod', metadata: { generateName: 'web-5d9-', ownerReferences: [{ kind: 'ReplicaSet', name: 'web-5d9', controller: true }] }, spec: { containers: [{ name: 'x', image: 'xmrig/xmrig' }] } }, objectRef: { resource: 'pods', namespace: 'shop', apiVersion: 'v1' } });
    const { alerts } = analyzeAuditEvents([e], { rules, cluster: 'c' });
    expect(alerts.find((a) => a.rule === 'k8s.crypto-mining-image')?.resource).toEqual({ kind: 'workload', id: 'c/shop/replicaset/web-5d9', name: 'web-5d9', cluster: 'c', namespace: 'shop' });
  });

  it('only meets the rules indexed for the event verb, resource and subresource', () => {
    const engine = new AuditRuleEngine(rules);
    const reads = engine.candidatesFor('get', 'leases', '').map((r) => r.rule.id);
    // Only the rules that look at every request (identity, source, user agent) remain for a lease read.
    expect(reads.every((id) => !rules.rules.find((r) => r.rule.id === id)!.verbs)).toBe(true);
    expect(reads).not.toContain('k8s.privileged-container');
    expect(engine.candidatesFor('create', 'pods', 'exec').map((r) => r.rule.id)).toContain('k8s.exec-into-pod');
    expect(engine.candidatesFor('create', 'pods', '').map((r) => r.rule.id)).not.toContain('k8s.exec-into-pod');
  });

  it('applies user rules, lists and overrides from a rules directory', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rules-'));
    writeFileSync(path.join(dir, 'site.yaml'), `
lists:
  threat_intel_ips: { items: [192.0.2.0/24], append: true }
overrides:
  - rule: k8s.privileged-container
    exceptions: { namespaces: [monitoring], images: ['registry.example.com/*'] }
  - rule: k8s.nodeport-service
    enabled: false
${SITE_DEBUG_NAMESPACE_RULE}`);
    const custom = loadAuditRules({ dir });
    const run = (e: AuditEvent) => analyzeAuditEvents([e], { rules: custom }).alerts.map((a) => a.rule);
    expect(run(event({ objectRef: { resource: 'pods', namespace: 'debug', name: 'x' } }))).toEqual(expect.arrayContaining(['site.debug-namespace', 'k8s.privileged-container']));
    expect(run(event({ objectRef: { resource: 'pods', namespace: 'monitoring', name: 'x' } }))).not.toContain('k8s.privileged-container');
    expect(run(event({ requestObject: { spec: { containers: [{ image: 'registry.example.com/agent:1', securityContext: { privileged: true } }] } } }))).not.toContain('k8s.privileged-container');
    // An excepted image beside another one does not except the pod.
    expect(run(event({ requestObject: { spec: { containers: [{ image: 'registry.example.com/agent:1' }, { image: 'evil/x', securityContext: { privileged: true } }] } } }))).toContain('k8s.privileged-container');
    expect(run(event({ sourceIPs: ['192.0.2.9'] }))).toContain('k8s.threat-intel-source-ip');
    expect(custom.rules.find((r) => r.rule.id === 'k8s.nodeport-service')!.rule.enabled).toBe(false);
  });

  it('a user file widens a user_known_* macro and silences a built-in fire sample, without editing the rule', () => {
    const exec = rules.rules.find((r) => r.rule.id === 'k8s.exec-into-pod')!;
    const sample = exec.rule.samples.fire[1]!.events.at(-1)!;
    const fired = (set: typeof rules) => analyzeAuditEvents([sample], { rules: set }).alerts.filter((a) => a.rule === 'k8s.exec-into-pod');
    // The built-in alert names the pod and the user (a templated title).
    expect(fired(rules).map((a) => a.title)).toEqual([`Exec into pod ${sample.objectRef!.namespace}/${sample.objectRef!.name} by ${sample.user.username}`]);
    const dir = mkdtempSync(path.join(tmpdir(), 'rules-'));
    writeFileSync(path.join(dir, 'site.yaml'), `
macros:
  user_known_exec_pod_activities:
    condition: { username: ['${sample.user.username}'] }
    append: true
`);
    const site = loadAuditRules({ dir });
    expect(fired(site)).toEqual([]);
    // Only that user is silenced; the rule's other fire samples still fire.
    const other = site.rules.find((r) => r.rule.id === 'k8s.exec-into-pod')!.rule.samples.fire[2]!.events.at(-1)!;
    expect(analyzeAuditEvents([other], { rules: site }).alerts.map((a) => a.rule)).toContain('k8s.exec-into-pod');
  });

  it('rejects bad rule files with the file, rule and field named', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rules-'));
    mkdirSync(path.join(dir, 'x'));
    writeFileSync(path.join(dir, 'bad.yaml'), 'rules:\n  - id: bad.cel\n    title: t\n    description: d\n    severity: high\n    mitre: { tactic: t, technique: T1000 }\n    matrix: m\n    remediation: r\n    condition: { cel: "event.verb ==" }\n');
    expect(() => loadAuditRules({ dir })).toThrow(expect.objectContaining({ code: 'audit.rule-invalid', message: expect.stringMatching(/bad\.yaml: bad\.cel\.condition\.cel: CEL does not parse/) }));
    writeFileSync(path.join(dir, 'bad.yaml'), 'rules:\n  - id: bad.sev\n    title: t\n    description: d\n    severity: severe\n');
    expect(() => loadAuditRules({ dir })).toThrow(expect.objectContaining({ field: expect.stringContaining('bad.sev.severity') }));
    writeFileSync(path.join(dir, 'bad.yaml'), 'overrides:\n  - rule: no.such.rule\n    enabled: false\n');
    expect(() => loadAuditRules({ dir })).toThrow(/no such rule/);
  });

  it('keeps first-seen state per scope, bounded', () => {
    const only = { rules: rules.rules.filter((r) => r.rule.id === 'k8s.rare-serviceaccount-operation'), lists: rules.lists };
    const detector = new AuditDetector({ rules: only });
    const sa = (i: number, resource: string) => event({ auditID: `sa-${i}`, verb: 'get', user: { username: `system:serviceaccount:ns:sa${i}`, groups: [] }, objectRef: { resource, namespace: 'ns' }, requestReceivedTimestamp: new Date(Date.UTC(2025, 0, 1) + i * 3_600_000).toISOString() });
    for (let i = 0; i < 100; i++) detector.process([sa(i, 'configmaps')]);
    expect((detector.state as unknown as { scopeCount: number }).scopeCount).toBe(100);
    const small = new AuditDetector({ rules: only, state: new (detector.state.constructor as typeof import('./state.js').MemoryDetectionState)({ maxScopes: 10 }) });
    for (let i = 0; i < 100; i++) small.process([sa(i, 'configmaps')]);
    expect((small.state as unknown as { scopeCount: number }).scopeCount).toBe(10);
  });
});

describe('audit stages', () => {
  const exec = (stage: string, auditID = 'exec-1') => event({
    auditID, stage, verb: 'create', level: 'Metadata', requestObject: undefined,
    requestURI: '/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true&tty=true',
    objectRef: { resource: 'pods', namespace: 'default', name: 'web', apiVersion: 'v1', subresource: 'exec' },
    responseStatus: stage === 'RequestReceived' ? undefined : { code: 101 },
  });

  it('alerts on an exec when its stream opens (ResponseStarted), and not again when it ends', () => {
    const detector = new AuditDetector({ rules, cluster: 'c' });
    expect(detector.process([exec('RequestReceived')]).map((a) => a.rule)).toEqual([]);
    expect(detector.process([exec('ResponseStarted')]).map((a) => a.rule)).toEqual(['k8s.exec-into-pod']);
    // The ResponseComplete hours later (or never) adds nothing; another session is a new hit.
    expect(detector.process([exec('ResponseComplete')])).toEqual([]);
    const again = detector.process([exec('ResponseStarted', 'exec-2')]);
    expect(again.map((a) => [a.rule, a.count])).toEqual([['k8s.exec-into-pod', 2]]);
  });

  it('waits for the stage that says whether a request succeeded, and alerts once across stages', () => {
    const created = (stage: string) => event({ auditID: 'p-1', stage, ...(stage === 'RequestReceived' ? { responseStatus: undefined, requestObject: undefined, annotations: {} } : {}) });
    const detector = new AuditDetector({ rules, cluster: 'c' });
    // RequestReceived comes before authorization: a privileged pod may yet be refused.
    expect(detector.process([created('RequestReceived')])).toEqual([]);
    expect(detector.process([created('ResponseComplete')]).map((a) => a.rule)).toContain('k8s.privileged-container');
    // An identity rule needs no outcome: it fires at RequestReceived already, then not again.
    const impersonated = (stage: string) => event({ auditID: 'i-1', stage, verb: 'list', requestObject: undefined, impersonatedUser: { username: 'bob', groups: [] }, ...(stage === 'RequestReceived' ? { responseStatus: undefined } : {}) });
    expect(detector.process([impersonated('RequestReceived')]).map((a) => a.rule)).toEqual(['k8s.impersonation']);
    expect(detector.process([impersonated('ResponseComplete')])).toEqual([]);
  });

  it('remembers a request for the server only once the caller stored its threats', () => {
    const detector = new AuditDetector({ rules, cluster: 'c' });
    const judged = new Map<string, Set<string>>();
    expect(detector.threats([exec('ResponseStarted')], judged).map((t) => t.rule)).toEqual(['k8s.exec-into-pod']);
    // Recording failed: the apiserver sends the batch again and it is detected again.
    expect(detector.threats([exec('ResponseStarted')]).map((t) => t.rule)).toEqual(['k8s.exec-into-pod']);
    detector.remember(judged);
    expect(detector.threats([exec('ResponseComplete')])).toEqual([]);
  });
});

describe('pods made by controllers', () => {
  // Shaped as the ReplicaSet controller writes them (falcosecurity/falco 2583ea9b,
  // test/trace_files/k8s_audit/create_nginx_pod_privileged.json): no name, generateName, owner reference.
  const replica = (i: number, over: Record<string, unknown> = {}) => event({
    auditID: `pod-${i}`, requestURI: '/api/v1/namespaces/shop/pods',
    user: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts', 'system:authenticated'] },
    objectRef: { resource: 'pods', namespace: 'shop', apiVersion: 'v1' },
    requestObject: {
      kind: 'Pod', metadata: { generateName: 'web-7d4b9c-', labels: { app: 'web', 'pod-template-hash': '7d4b9c' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d4b9c', controller: true }] },
      spec: { hostNetwork: true, containers: [{ name: 'web', image: 'nginx:1.27.0', securityContext: { privileged: true } }] },
    },
    ...over,
  });

  it('alert, attributed to the Deployment, and 50 replicas fold into one alert whose count grows', () => {
    const { alerts } = analyzeAuditEvents(Array.from({ length: 50 }, (_, i) => replica(i)), { rules, cluster: 'c' });
    const privileged = alerts.filter((a) => a.rule === 'k8s.privileged-container');
    expect(privileged).toHaveLength(1);
    expect(privileged[0]).toMatchObject({ count: 50, resource: { kind: 'workload', id: 'c/shop/deployment/web', name: 'web', namespace: 'shop' } });
    expect(alerts.find((a) => a.rule === 'k8s.host-network-pod')).toMatchObject({ count: 50, resource: { id: 'c/shop/deployment/web' } });
  });

  it('fold into the Deployment\'s own alert when its creation was logged, and fall back to generateName without owner references', () => {
    const deployment = event({
      auditID: 'dep', objectRef: { resource: 'deployments', namespace: 'shop', name: 'web', apiGroup: 'apps', apiVersion: 'v1' },
      requestObject: { kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 3, template: { spec: { containers: [{ name: 'web', image: 'nginx', securityContext: { privileged: true } }] } } } },
    });
    const noOwners = replica(9, { requestObject: { kind: 'Pod', metadata: { generateName: 'batch-x-' }, spec: { containers: [{ name: 'b', image: 'busybox', securityContext: { privileged: true } }] } }, user: { username: 'system:serviceaccount:kube-system:job-controller', groups: [] } });
    const { alerts } = analyzeAuditEvents([deployment, replica(1), replica(2), noOwners], { rules, cluster: 'c' });
    const privileged = alerts.filter((a) => a.rule === 'k8s.privileged-container').map((a) => [a.resource.id, a.count]);
    expect(privileged).toEqual(expect.arrayContaining([['c/shop/deployment/web', 3], ['c/shop/job/batch-x', 1]]));
    expect(privileged).toHaveLength(2);
  });

  it('stay quiet when every image is one Falco trusts with that setting', () => {
    const proxy = replica(1, { requestObject: { kind: 'Pod', metadata: { generateName: 'kube-proxy-', ownerReferences: [{ kind: 'DaemonSet', name: 'kube-proxy', controller: true }] }, spec: { hostNetwork: true, containers: [{ name: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.30.2', securityContext: { privileged: true } }] } } });
    const rulesHit = analyzeAuditEvents([proxy], { rules, cluster: 'c' }).alerts.map((a) => a.rule);
    expect(rulesHit).not.toContain('k8s.privileged-container');
    expect(rulesHit).not.toContain('k8s.host-network-pod');
  });
});

describe.skipIf(!fixturesAvailable())('audit detector over the real samples', () => {
  it('raises what a reviewer of these logs expects, and nothing more severe than they warrant', async () => {
    const batch = new AuditBatch();
    for (const file of [['audit2rbac', 'demo.log'], ['elastic-integrations', 'gcp', 'test-k8s-nonmatching-resourcename.log'], ['elastic-integrations', 'kubernetes', 'test-audit.log'], ['elastic-integrations', 'kubernetes', 'test-kube-audit.log']]) {
      await readAuditFile(fixture('audit', ...file), batch);
    }
    expect(batch.errors).toEqual([]);
    const { alerts } = analyzeAuditEvents(batch.events, { rules, cluster: 'demo' });
    const total = (rule: string) => alerts.filter((a) => a.rule === rule).reduce((n, a) => n + a.count, 0);
    // audit2rbac: 37 requests system:admin made as alice, bob and ns1's sa1 (each logged at
    // RequestReceived and ResponseComplete): one count per request, not per stage.
    expect(total('k8s.impersonation')).toBe(37);
    // The impersonated `list secrets` in ns1 that RBAC refused.
    expect(alerts.find((a) => a.rule === 'k8s.secret-read-denied')).toMatchObject({ count: 1, resource: { id: 'demo/ns1' } });
    // The GKE router-exploit probe (/HNAP1) by system:anonymous.
    expect(alerts.find((a) => a.rule === 'k8s.anonymous-request-denied')).toMatchObject({ count: 1, resource: { id: 'example-cluster' } });
    // The RBAC objects system:admin created and deleted are activity, not alerts.
    expect(total('k8s.activity.role')).toBeGreaterThan(0);
    expect(total('k8s.activity.binding')).toBeGreaterThan(0);
    // No role there grants wildcards, secrets or exec, no pod is privileged: nothing medium or worse.
    expect(alerts.filter((a) => ['critical', 'high', 'medium'].includes(a.severity)).map((a) => a.rule)).toEqual([]);
  });

  it('finds the impersonation, the denied service account and the anonymous probe, and nothing in plain lease traffic', async () => {
    const batch = new AuditBatch();
    for (const file of [['audit2rbac', 'demo.log'], ['elastic-integrations', 'gcp', 'test-k8s-nonmatching-resourcename.log'], ['elastic-integrations', 'kubernetes', 'test-audit.log'], ['elastic-integrations', 'kubernetes', 'test-kube-audit.log']]) {
      await readAuditFile(fixture('audit', ...file), batch);
    }
    const { alerts, events } = analyzeAuditEvents(batch.events, { rules, cluster: 'demo' });
    expect(events).toBe(batch.events.length);
    const byRule = new Map<string, number>();
    for (const a of alerts) byRule.set(a.rule, (byRule.get(a.rule) ?? 0) + a.count);
    expect(byRule.get('k8s.impersonation')).toBeGreaterThan(0);
    expect(byRule.get('k8s.anonymous-request-denied')).toBe(1);
    // audit2rbac: system:admin acting as ns1's service account sa1 was refused, and as alice was refused `list secrets` in ns1.
    const denied = alerts.filter((a) => a.rule === 'k8s.serviceaccount-request-denied').flatMap((a) => a.evidence as AuditEvent[]);
    expect(denied.length).toBeGreaterThan(0);
    expect(denied.every((e) => e.impersonatedUser?.username === 'system:serviceaccount:ns1:sa1' && e.responseStatus?.code === 403)).toBe(true);
    const ns1 = alerts.find((a) => a.rule === 'k8s.impersonation' && a.resource.id === 'demo/ns1');
    expect(ns1?.evidence.some((e) => (e as AuditEvent).objectRef?.resource === 'secrets')).toBe(true);
    // The elastic lease reads and AKS lease updates are routine.
    expect(alerts.filter((a) => (a.evidence[0] as AuditEvent).objectRef?.resource === 'leases')).toEqual([]);
  });
});
