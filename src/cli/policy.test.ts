import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { register } from './policy.js';
import { runCommands, type CommandRun } from './testing/run.js';
import { sarifSchemaErrors } from '../../test/support/sarif-schema.js';

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
      - name: web
        image: nginx:latest
        securityContext: { privileged: true }
`;
const SERVICE = `apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { type: ClusterIP, ports: [{ port: 80 }] }
`;

function run(args: string[]): Promise<CommandRun> {
  return runCommands([register], args);
}

function workdir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'palisade-policy-'));
  writeFileSync(path.join(dir, 'app.yaml'), `${DEPLOYMENT}---\n${SERVICE}`);
  mkdirSync(path.join(dir, 'more'));
  writeFileSync(path.join(dir, 'more', 'list.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }] }));
  writeFileSync(path.join(dir, 'README.md'), 'not a manifest');
  return dir;
}

describe('palisade policy check', () => {
  afterEach(() => { process.exitCode = undefined; });

  it('prints one JSON result per violation with resource, policy, effect, severity, message, container and field', async () => {
    const dir = workdir();
    const { out } = await run(['policy', 'check', dir, '--format', 'json']);
    const { results } = JSON.parse(out) as { results: Record<string, unknown>[] };
    const privileged = results.find((r) => r.policy === 'no-privileged-containers');
    expect(privileged).toEqual({
      resource: { kind: 'Deployment', namespace: 'shop', name: 'web' }, policy: 'no-privileged-containers', effect: 'deny', severity: 'high',
      message: 'container "web" must not set securityContext.privileged=true', container: 'web', field: 'spec.template.spec.containers[0].securityContext.privileged',
    });
    expect(results.some((r) => r.policy === 'read-only-root-filesystem' && (r.resource as { name: string }).name === 'web')).toBe(true);
    expect(results.some((r) => r.policy === 'no-default-namespace' && (r.resource as { kind: string }).kind === 'Pod')).toBe(true);
    expect(results.some((r) => (r.resource as { kind: string }).kind === 'Service')).toBe(false);
  });

  it('exits with --exit-code only when a deny-effect violation exists', async () => {
    const dir = workdir();
    expect((await run(['policy', 'check', dir, '--exit-code', '3'])).exitCode).toBe(3);
    const config = path.join(dir, 'policies.yml.txt');
    writeFileSync(config, 'policies:\n  no-privileged-containers: { effect: audit }\n  pod-security-baseline: { effect: audit }\n');
    expect((await run(['policy', 'check', dir, '--exit-code', '3', '--policies', config])).exitCode).toBeUndefined();
  });

  it('writes SARIF 2.1 with a rule per policy and located results', async () => {
    const dir = workdir();
    const sarif = JSON.parse((await run(['policy', 'check', path.join(dir, 'app.yaml'), '--format', 'sarif'])).out);
    expect(sarif.version).toBe('2.1.0');
    // What users upload to code-scanning tools must pass the OASIS SARIF 2.1.0 schema, not only our own reading of it.
    expect(sarifSchemaErrors(sarif)).toEqual([]);
    const run0 = sarif.runs[0];
    expect(run0.tool.driver.rules.map((r: { id: string }) => r.id)).toContain('no-privileged-containers');
    const result = run0.results.find((r: { ruleId: string }) => r.ruleId === 'no-privileged-containers');
    expect(result.level).toBe('error');
    expect(result.locations[0].physicalLocation.artifactLocation.uri).toBe(path.join(dir, 'app.yaml'));
    // The line of `securityContext: { privileged: true }` in DEPLOYMENT (line 12).
    expect(result.locations[0].physicalLocation.region.startLine).toBe(12);
    // A missing field points at its nearest existing parent: the container's securityContext for readOnlyRootFilesystem.
    const ro = run0.results.find((r: { ruleId: string }) => r.ruleId === 'read-only-root-filesystem');
    expect(ro.locations[0].physicalLocation.region.startLine).toBe(12);
  });

  const hasKubectl = (() => { try { execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' }); return true; } catch { return false; } })();
  it.skipIf(!hasKubectl)('checks real `kubectl kustomize` output', async () => {
    const dir = workdir();
    writeFileSync(path.join(dir, 'kustomization.yaml'), 'namespace: prod\ncommonLabels: { owner: shop }\nresources: [app.yaml]\n');
    const rendered = path.join(dir, 'rendered.yaml');
    writeFileSync(rendered, execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' }));
    const { results } = JSON.parse((await run(['policy', 'check', rendered, '--format', 'json'])).out) as { results: { resource: { namespace: string }; policy: string }[] };
    expect(results.length).toBeGreaterThan(0);
    expect(results.every((r) => r.resource.namespace === 'prod')).toBe(true);
  });

  it('rejects an unknown format with a typed error', async () => {
    await expect(run(['policy', 'check', workdir(), '--format', 'xml'])).rejects.toThrow(/unknown format/);
  });

  it('prints one table row per violated control, naming every policy that covers it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'palisade-policy-'));
    writeFileSync(path.join(dir, 'app.yaml'), DEPLOYMENT);
    const { out } = await run(['policy', 'check', path.join(dir, 'app.yaml')]);
    // The privileged container fails baseline and the recommendation (restricted is opt-in): one row, every policy, the stronger effect.
    const privileged = out.split('\n').filter((l) => /securityContext\.privileged=true/.test(l));
    expect(privileged).toHaveLength(1);
    expect(privileged[0]).toMatch(/Deployment\/shop\/web\s+deny\s+high\s+pod-security-baseline,no-privileged-containers\s/);
    // JSON keeps one result per policy (documented format).
    const json = JSON.parse((await run(['policy', 'check', path.join(dir, 'app.yaml'), '--format', 'json'])).out) as { results: Array<{ field?: string }> };
    expect(json.results.filter((r) => r.field?.endsWith('securityContext.privileged')).length).toBeGreaterThan(1);
  });

  it('fails naming the file when it holds no Kubernetes object', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'palisade-policy-'));
    writeFileSync(path.join(dir, 'values.yaml'), 'replicaCount: 2\nimage: { repository: nginx }\n');
    await expect(run(['policy', 'check', path.join(dir, 'values.yaml')])).rejects.toMatchObject({
      code: 'policy.no_objects',
      message: `no Kubernetes object in ${path.join(dir, 'values.yaml')}`,
    });
    await expect(run(['policy', 'check', path.join(dir, 'empty-dir-does-not-exist')])).rejects.toThrow();
  });
});

describe('palisade policy list', () => {
  it('lists every built-in policy with its default effect', async () => {
    const { out } = await run(['policy', 'list', '--format', 'json']);
    const items = (JSON.parse(out) as { items: { id: string; effect: string }[] }).items;
    expect(items.find((p) => p.id === 'pod-security-baseline')?.effect).toBe('deny');
    expect(items.find((p) => p.id === 'image-digest-required')?.effect).toBe('disabled');
  });
});
