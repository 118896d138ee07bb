/**
 * deploy/: the kustomize base and overlays and the Helm chart render the same resources, every
 * one passes Palisade's own restricted policy set (the node agent with only its documented
 * exception), and the manifests agree with the code (settings, ports, webhook, audit files).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { recommendedAuditPolicy, webhookKubeconfig } from '../../src/audit/index.js';
import { SETTINGS } from '../../src/core/config.js';
import { validatingWebhookConfiguration } from '../../src/policy/index.js';
import { runCli } from '../support/cli.js';
import { deployTools, run } from './tools.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const RESTRICTED = path.join(ROOT, 'deploy/policy/restricted.yaml');
const RESTRICTED_AGENT = path.join(ROOT, 'deploy/policy/restricted-agent.yaml');
const CHART = path.join(ROOT, 'deploy/helm/palisade');
const AGENT_EXCEPTION_POLICIES = ['pod-security-baseline', 'pod-security-restricted', 'allowed-capabilities', 'allowed-users-groups', 'allowed-host-paths', 'host-namespaces'];

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are checked field by field */
type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: any };

interface PolicyResult { resource: { kind: string; namespace?: string; name: string }; policy: string; effect: string; message: string }

function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Manifest | null).filter((m): m is Manifest => m !== null && typeof m === 'object');
}

const key = (m: Pick<Manifest, 'kind' | 'metadata'>) => `${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`;
const find = (ms: Manifest[], kind: string, name: string): Manifest => {
  const m = ms.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`${kind}/${name} not rendered (have: ${ms.map(key).join(', ')})`);
  return m;
};

async function policyCheck(manifests: string, policies: string): Promise<PolicyResult[]> {
  const result = await runCli(['policy', 'check', '-', '--format', 'json', '--policies', policies], { input: manifests });
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { results: PolicyResult[] }).results;
}

const renders: Record<string, string> = {};

beforeAll(() => {
  const { helm, kubectl } = deployTools();
  for (const target of ['base', 'overlays/production', 'overlays/no-agent']) {
    renders[`kustomize ${target}`] = run(kubectl, ['kustomize', path.join(ROOT, 'deploy/kustomize', target)]);
  }
  renders['helm default'] = run(helm, ['template', 'palisade', CHART]);
  renders['helm agent.enabled=false'] = run(helm, ['template', 'palisade', CHART, '--set', 'agent.enabled=false']);
});

describe('rendering', () => {
  it('helm lint passes (and with every optional part turned off)', () => {
    const { helm } = deployTools();
    expect(run(helm, ['lint', '--strict', CHART])).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(run(helm, ['lint', '--strict', CHART, '--set', 'agent.enabled=false,ingress.enabled=false,networkPolicy.enabled=false,admission.enabled=false'])).toMatch(/0 chart\(s\) failed/);
  });

  it('kustomize and helm render the same resources', () => {
    const names = (label: string) => parseManifests(renders[label]!).map(key).sort();
    expect(names('helm default')).toEqual(names('kustomize base'));
    expect(names('kustomize overlays/production')).toEqual(names('kustomize base'));
    expect(names('helm agent.enabled=false')).toEqual(names('kustomize overlays/no-agent'));
    const kinds = new Set(parseManifests(renders['kustomize base']!).map((m) => m.kind));
    for (const kind of ['Namespace', 'Deployment', 'DaemonSet', 'Service', 'Ingress', 'PodDisruptionBudget', 'ValidatingWebhookConfiguration',
      'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'NetworkPolicy', 'ConfigMap']) expect(kinds, kind).toContain(kind);
  });

  it('helm and kustomize agree on the workloads field by field (labels aside)', () => {
    // File modes in decimal: helm passes `0440` through as text, which YAML 1.1 and 1.2 read differently.
    for (const [label, text] of Object.entries(renders)) expect(text, label).not.toMatch(/[Mm]ode: 0\d+/);
    const kustomize = parseManifests(renders['kustomize base']!);
    const helm = parseManifests(renders['helm default']!);
    const strip = (m: Manifest) => {
      const copy = structuredClone(m);
      delete copy.metadata.labels;
      delete copy.metadata.annotations;
      if (copy.spec?.template?.metadata) delete copy.spec.template.metadata;
      for (const c of copy.spec?.template?.spec?.containers ?? []) delete c.imagePullPolicy;
      return copy;
    };
    for (const m of kustomize) {
      if (m.kind === 'ValidatingWebhookConfiguration' || m.kind === 'Namespace') continue;
      const other = helm.find((h) => key(h) === key(m))!;
      expect(strip(other), key(m)).toEqual(strip(m));
    }
    expect(find(helm, 'ValidatingWebhookConfiguration', 'palisade').webhooks).toEqual(find(kustomize, 'ValidatingWebhookConfiguration', 'palisade').webhooks);
  });
});

describe('Palisade\'s own restricted policy set', () => {
  it('every render passes it, except the node agent', async () => {
    for (const [label, text] of Object.entries(renders)) {
      const results = await policyCheck(text, RESTRICTED);
      const others = results.filter((r) => !(r.resource.kind === 'DaemonSet' && r.resource.name === 'palisade-agent'));
      expect(others, label).toEqual([]);
      const hasAgent = parseManifests(text).some((m) => m.kind === 'DaemonSet');
      // The agent fails exactly the policies its exception names, and for the reasons it gives.
      if (hasAgent) expect([...new Set(results.map((r) => r.policy))].sort(), label).toEqual([...AGENT_EXCEPTION_POLICIES].sort());
      else expect(results, label).toEqual([]);
    }
  });

  it('the node agent passes with only its documented exception', async () => {
    for (const label of ['kustomize base', 'kustomize overlays/production', 'helm default']) {
      expect(await policyCheck(renders[label]!, RESTRICTED_AGENT), label).toEqual([]);
    }
  });

  it('restricted-agent.yaml is restricted.yaml plus one justified, time-boxed exception', () => {
    const restricted = parseYaml(readFileSync(RESTRICTED, 'utf8')) as { policies: unknown; exceptions?: unknown };
    const withAgent = parseYaml(readFileSync(RESTRICTED_AGENT, 'utf8')) as { policies: unknown; exceptions: Record<string, any>[] };
    expect(restricted.exceptions).toBeUndefined();
    expect(withAgent.policies).toEqual(restricted.policies);
    expect(withAgent.exceptions).toHaveLength(1);
    const exception = withAgent.exceptions[0]!;
    expect(exception).toMatchObject({ namespace: 'palisade-agent', name: 'palisade-agent' });
    expect(exception.policies).not.toContain('*');
    expect(exception.policies).toEqual(AGENT_EXCEPTION_POLICIES);
    expect(String(exception.reason)).toMatch(/hostPID/);
    expect(new Date(String(exception.expires)).getTime(), 'the agent exception expired: review the DaemonSet and renew it in deploy/policy, config.yaml and the chart').toBeGreaterThan(Date.now());
  });

  it('the server\'s admission configuration carries the same exception (kustomize and helm)', () => {
    const expected = (parseYaml(readFileSync(RESTRICTED_AGENT, 'utf8')) as { exceptions: unknown[] }).exceptions;
    for (const label of ['kustomize base', 'helm default']) {
      const cm = find(parseManifests(renders[label]!), 'ConfigMap', 'palisade-policies');
      expect((parseYaml(cm.data['policies.yaml'] as string) as { exceptions: unknown[] }).exceptions, label).toEqual(expected);
    }
    const noAgent = find(parseManifests(renders['kustomize overlays/no-agent']!), 'ConfigMap', 'palisade-policies');
    expect((parseYaml(noAgent.data['policies.yaml'] as string) as { exceptions: unknown[] }).exceptions).toEqual([]);
  });
});

describe('required properties', () => {
  const each = (fn: (ms: Manifest[], label: string) => void) => {
    for (const [label, text] of Object.entries(renders)) fn(parseManifests(text), label);
  };

  it('server: replicas >= 2, readiness on /readyz, a PodDisruptionBudget selecting its pods', () => {
    each((ms, label) => {
      const server = find(ms, 'Deployment', 'palisade-server');
      expect(server.spec.replicas, label).toBeGreaterThanOrEqual(2);
      const container = server.spec.template.spec.containers[0];
      expect(container.args, label).toEqual(['server']);
      expect(container.readinessProbe.httpGet, label).toMatchObject({ path: '/readyz', scheme: 'HTTPS' });
      expect(container.livenessProbe.httpGet.path, label).toBe('/healthz');
      const pdb = find(ms, 'PodDisruptionBudget', 'palisade-server');
      const podLabels = server.spec.template.metadata.labels as Record<string, string>;
      for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels as Record<string, string>)) expect(podLabels[k], `${label} PDB ${k}`).toBe(v);
      expect(pdb.spec.minAvailable, label).toBeGreaterThanOrEqual(1);
      expect(pdb.spec.minAvailable, label).toBeLessThan(server.spec.replicas);
      expect(find(ms, 'Deployment', 'palisade-worker').spec.template.spec.containers[0].args, label).toEqual(['worker']);
    });
  });

  it('ports and settings are the ones the code reads', () => {
    const envNames = new Set(SETTINGS.map((s) => s.env));
    each((ms, label) => {
      const config = find(ms, 'ConfigMap', 'palisade-config').data as Record<string, string>;
      for (const name of Object.keys(config)) expect(envNames, `${label}: ${name} is not a setting in src/core/config.ts`).toContain(name);
      const server = find(ms, 'Deployment', 'palisade-server').spec.template.spec.containers[0];
      const ports = Object.fromEntries((server.ports as { name: string; containerPort: number }[]).map((p) => [p.name, p.containerPort]));
      expect(ports.https).toBe(Number(config.PALISADE_PORT));
      expect(ports.admission).toBe(Number(config.PALISADE_ADMISSION_PORT));
      expect(config.PALISADE_SERVER_RUNS_JOBS).toBe('false');
      const service = find(ms, 'Service', 'palisade');
      expect(service.spec.ports.map((p: { port: number }) => p.port).sort()).toEqual([8080, 8443]);
      const webhook = find(ms, 'ValidatingWebhookConfiguration', 'palisade').webhooks[0];
      expect(webhook.clientConfig.service).toMatchObject({ namespace: 'palisade', name: 'palisade', port: 8443 });
      const cluster = config.PALISADE_CLUSTERS!.split('=')[0];
      expect(webhook.clientConfig.service.path, label).toBe(`/admission/validate/${cluster}`);
    });
  });

  it('RBAC for the cluster audit is read-only and never reaches Secrets', () => {
    each((ms, label) => {
      const roles = ms.filter((m) => m.kind === 'ClusterRole' || m.kind === 'Role');
      expect(roles.length, label).toBeGreaterThan(0);
      for (const role of roles) {
        for (const rule of role.rules as { verbs: string[]; resources: string[]; apiGroups: string[] }[]) {
          for (const verb of rule.verbs) expect(['get', 'list', 'watch'], `${label} ${key(role)}`).toContain(verb);
          expect(rule.resources).not.toContain('*');
          expect(rule.resources).not.toContain('secrets');
          expect(rule.apiGroups).not.toContain('*');
        }
      }
      const binding = find(ms, 'ClusterRoleBinding', 'palisade-cluster-audit');
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'palisade-worker', namespace: 'palisade' }]);
      for (const sa of ms.filter((m) => m.kind === 'ServiceAccount')) expect(sa.automountServiceAccountToken, key(sa)).toBe(false);
    });
  });

  it('secrets are referenced, never inlined', () => {
    each((ms, label) => {
      expect(ms.filter((m) => m.kind === 'Secret'), `${label} renders no Secret (they are created apart)`).toEqual([]);
      for (const m of ms.filter((x) => x.spec?.template?.spec)) {
        for (const c of m.spec.template.spec.containers as { env?: { name: string; value?: string; valueFrom?: unknown }[] }[]) {
          for (const e of c.env ?? []) {
            if (/DATABASE_URL|SECRET|TOKEN|PASSWORD|KEY$/.test(e.name)) expect(e.value, `${label} ${key(m)} ${e.name}`).toBeUndefined();
          }
        }
      }
      const server = find(ms, 'Deployment', 'palisade-server').spec.template.spec.containers[0];
      const secretRefs = (server.env as { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[])
        .filter((e) => e.valueFrom?.secretKeyRef).map((e) => e.name).sort();
      expect(secretRefs).toEqual(['PALISADE_DATABASE_URL', 'PALISADE_SECRET_KEY']);
      for (const m of ms) {
        if (m.kind === 'ConfigMap') for (const v of Object.values(m.data as Record<string, string>)) expect(v).not.toMatch(/postgres(ql)?:\/\/[^@\s]+:[^@\s]+@/);
      }
    });
  });

  it('helm creates the Secret only when asked, from values it requires', () => {
    const { helm } = deployTools();
    const dir = mkdtempSync(path.join(tmpdir(), 'palisade-helm-values-'));
    const values = path.join(dir, 'secrets.yaml');
    writeFileSync(values, 'secrets:\n  create: true\n  databaseUrl: postgres://palisade:test@db:5432/palisade\n  secretKey: 0123456789abcdef0123456789abcdef\n');
    const secret = find(parseManifests(run(helm, ['template', 'palisade', CHART, '-f', values])), 'Secret', 'palisade');
    expect(Buffer.from(secret.data['database-url'] as string, 'base64').toString()).toBe('postgres://palisade:test@db:5432/palisade');
    expect(() => run(helm, ['template', 'palisade', CHART, '--set', 'secrets.create=true'])).toThrow(/secrets.databaseUrl is required/);
  });

  it('NetworkPolicy: default deny in palisade, and every pod selected by a policy', () => {
    each((ms, label) => {
      const policies = ms.filter((m) => m.kind === 'NetworkPolicy');
      const deny = find(ms, 'NetworkPolicy', 'default-deny');
      expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
      for (const workload of ms.filter((m) => m.spec?.template?.spec)) {
        const podLabels = workload.spec.template.metadata.labels as Record<string, string>;
        const covering = policies.filter((p) => p.metadata.namespace === workload.metadata.namespace
          && Object.entries((p.spec.podSelector.matchLabels ?? {}) as Record<string, string>).every(([k, v]) => podLabels[k] === v)
          && (p.spec.policyTypes as string[]).includes('Egress'));
        expect(covering.length, `${label} ${key(workload)}`).toBeGreaterThan(0);
      }
    });
  });

  it('read-only root filesystem everywhere, a writable volume at the data directory', () => {
    each((ms, label) => {
      const dataDir = (find(ms, 'ConfigMap', 'palisade-config').data as Record<string, string>).PALISADE_DATA_DIR;
      for (const workload of ms.filter((m) => m.spec?.template?.spec)) {
        const pod = workload.spec.template.spec;
        for (const c of pod.containers as { name: string; securityContext: { readOnlyRootFilesystem: boolean }; volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[] }[]) {
          expect(c.securityContext.readOnlyRootFilesystem, `${label} ${key(workload)} ${c.name}`).toBe(true);
          const writable = c.volumeMounts.filter((v) => !v.readOnly).map((v) => v.mountPath);
          expect(writable, `${label} ${key(workload)}`).toContain('/tmp');
          if (workload.kind === 'Deployment') {
            expect(writable, `${label} ${key(workload)}`).toContain(dataDir);
            const mount = c.volumeMounts.find((v) => v.mountPath === dataDir)!;
            const volume = (pod.volumes as { name: string; emptyDir?: unknown }[]).find((v) => v.name === mount.name);
            expect(volume?.emptyDir, `${label} ${key(workload)} data volume`).toBeDefined();
          }
        }
      }
    });
  });
});

describe('files generated from the code', () => {
  it('the ValidatingWebhookConfiguration is what `palisade cluster connect` prints, CA left to injection', () => {
    const generated = parseYaml(validatingWebhookConfiguration({
      caBundle: '-----BEGIN CERTIFICATE-----\nplaceholder\n-----END CERTIFICATE-----\n',
      service: { namespace: 'palisade', name: 'palisade', port: 8443, path: '/admission/validate/local' },
    })) as Manifest;
    delete generated.webhooks[0].clientConfig.caBundle;
    const checkedIn = parseYaml(readFileSync(path.join(ROOT, 'deploy/kustomize/base/webhook.yaml'), 'utf8')) as Manifest;
    expect(checkedIn.webhooks, 'run `npm run build && node deploy/generate.mjs`').toEqual(generated.webhooks);
    expect(checkedIn.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe('palisade/palisade-tls');
  });

  it('the audit Policy and webhook kubeconfig are what `palisade cluster connect` writes', () => {
    const hint = 'run `npm run build && node deploy/generate.mjs`';
    expect(readFileSync(path.join(ROOT, 'deploy/audit/audit-policy.yaml'), 'utf8'), hint).toBe(recommendedAuditPolicy());
    expect(readFileSync(path.join(ROOT, 'deploy/audit/audit-webhook.kubeconfig'), 'utf8'), hint)
      .toBe(webhookKubeconfig({ cluster: 'local', serverUrl: 'https://palisade.example.com' }));
  });
});
