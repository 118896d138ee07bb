import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { register as registerAudit } from './audit.js';
import { register as registerCluster } from './cluster.js';
import { runCommands, type CommandRun } from './testing/run.js';

function run(args: string[]): Promise<CommandRun> {
  return runCommands([registerAudit, registerCluster], args);
}

describe.skipIf(!fixturesAvailable())('palisade audit analyze', () => {
  it('prints one JSON document with alerts, errors and the event count', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'palisade-audit-'));
    const broken = path.join(dir, 'broken.log');
    const lines = readFileSync(fixture('audit', 'elastic-integrations', 'kubernetes', 'test-audit.log'), 'utf8').trim().split('\n');
    writeFileSync(broken, [lines[0], '{"kind":"Event",', lines[1]].join('\n') + '\n');
    const { out, exitCode } = await run(['audit', 'analyze', fixture('audit', 'audit2rbac', 'demo.log'), fixture('audit', 'elastic-integrations', 'gcp', 'test-k8s-nonmatching-resourcename.log'), broken, '--format', 'json', '--cluster', 'demo', '--exit-code', '3']);
    const doc = JSON.parse(out) as { alerts: Array<Record<string, unknown>>; errors: Array<Record<string, unknown>>; events: number };
    expect(doc.events).toBe(757 + 1 + 2);
    expect(doc.errors).toEqual([expect.objectContaining({ file: broken, line: 2, code: 'audit.invalid-json' })]);
    const probe = doc.alerts.find((a) => a.rule === 'k8s.anonymous-request-denied')!;
    expect(Object.keys(probe)).toEqual(expect.arrayContaining(['rule', 'title', 'severity', 'tactic', 'technique', 'resource', 'evidence', 'count', 'firstSeen', 'lastSeen']));
    expect(probe).toMatchObject({ count: 1, resource: { kind: 'cluster', id: 'example-cluster' }, firstSeen: '2021-04-23T14:47:07.535Z' });
    expect(doc.alerts.some((a) => a.rule === 'k8s.impersonation')).toBe(true);
    // audit2rbac's RBAC changes are listed as activity, apart from the alerts.
    expect((doc as unknown as { activity: Array<Record<string, unknown>> }).activity.map((a) => a.rule)).toEqual(expect.arrayContaining(['k8s.activity.role', 'k8s.activity.binding']));
    expect(doc.alerts.every((a) => a.severity !== 'informational')).toBe(true);
    expect(exitCode).toBe(3);
  });

  it('prints a table by default and refuses an unknown format', async () => {
    const { out, err } = await run(['audit', 'analyze', fixture('audit', 'elastic-integrations', 'gcp', 'test-k8s-nonmatching-resourcename.log')]);
    expect(out.split('\n')[0]).toMatch(/^SEVERITY\s+RULE\s+RESOURCE/);
    expect(out).toContain('k8s.anonymous-request-denied');
    expect(err).toMatch(/1 events, 1 alerts, 0 activity records, 0 bad records/);
    await expect(run(['audit', 'analyze', 'x.log', '--format', 'xml'])).rejects.toMatchObject({ code: 'cli.bad_format' });
  });
});

describe('palisade cluster connect', () => {
  it('prints the webhook kubeconfig and an audit Policy without the RequestReceived stage', async () => {
    const { out } = await run(['cluster', 'connect', 'prod-eu', '--server-url', 'https://palisade.example.com/', '--token', 'pal_secret']);
    const [kubeconfig, policy] = parseAllDocuments(out).map((d) => d.toJS());
    expect(kubeconfig.clusters[0].cluster.server).toBe('https://palisade.example.com/ingest/audit');
    expect(kubeconfig.users[0].user.token).toBe('pal_secret');
    expect(policy).toMatchObject({ apiVersion: 'audit.k8s.io/v1', kind: 'Policy', omitStages: ['RequestReceived'] });
    const secrets = policy.rules.find((r: { resources?: Array<{ resources: string[] }> }) => r.resources?.some((g) => g.resources.includes('secrets')));
    expect(secrets.level).toBe('Metadata');
    const full = policy.rules.find((r: { level: string }) => r.level === 'RequestResponse');
    const fullResources = full.resources.flatMap((g: { resources: string[] }) => g.resources);
    expect(fullResources).toEqual(expect.arrayContaining(['pods', 'deployments', 'clusterrolebindings', 'services', 'configmaps', 'mutatingwebhookconfigurations']));
    expect(fullResources).not.toContain('secrets');
    // With a token: the API server's credentials for the admission webhook (for admissionAuth: required).
    const docs = parseAllDocuments(out).map((d) => d.toJS());
    expect(docs.find((d) => d?.kind === 'AdmissionConfiguration')).toBeDefined();
    expect(docs.find((d) => d?.kind === 'Config' && d.users?.[0]?.name === 'palisade.palisade.svc:8443')?.users[0].user.token).toBe('pal_secret');
  });

  it('leaves a token placeholder and refuses a bad cluster name', async () => {
    const { out } = await run(['cluster', 'connect', 'dev', '--server-url', 'https://p.example.com']);
    expect(out).toContain('token: ${PALISADE_CLUSTER_TOKEN}');
    await expect(run(['cluster', 'connect', 'Bad Name'])).rejects.toMatchObject({ code: 'token.scope' });
  });
});
