import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compilePolicySet } from './engine.js';
import { reviewAdmission } from './admission.js';
import { BUILTIN_POLICIES } from './policies/index.js';
import { admissionCredentials, validatingWebhookConfiguration } from './webhook-config.js';

/** The request shape of the Kubernetes documentation's AdmissionReview example (extensible admission controllers). */
function review(object: unknown, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      requestKind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      requestResource: { group: 'apps', version: 'v1', resource: 'deployments' },
      name: 'my-deployment',
      namespace: 'my-namespace',
      operation: 'CREATE',
      userInfo: { username: 'admin', uid: '014fbff9a07c', groups: ['system:authenticated', 'my-admin-group'], extra: { 'some-key': ['some-value1', 'some-value2'] } },
      object,
      oldObject: null,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      dryRun: false,
      ...extra,
    },
  };
}

const deployment = (container: Record<string, unknown>) => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'my-deployment' },
  spec: { selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'app', image: 'registry.example.com/x:1', ...container }] } } },
});

const set = compilePolicySet(BUILTIN_POLICIES);

describe('reviewAdmission', () => {
  it('denies listing every violated deny policy, and returns audit findings as warnings', () => {
    const { review: out, results, record } = reviewAdmission(review(deployment({ securityContext: { privileged: true } })), set);
    expect(out.apiVersion).toBe('admission.k8s.io/v1');
    expect(out.kind).toBe('AdmissionReview');
    expect(out.response.uid).toBe('705ab4f5-6393-11e8-b7cc-42010a800002');
    expect(out.response.allowed).toBe(false);
    expect(out.response.status?.code).toBe(403);
    expect(out.response.status?.message).toContain('Deployment my-namespace/my-deployment');
    expect(out.response.status?.message).toContain('[no-privileged-containers]');
    expect(out.response.status?.message).toContain('[pod-security-baseline] privileged');
    expect(out.response.warnings?.some((w) => w.startsWith('[read-only-root-filesystem]'))).toBe(true);
    expect(results.every((r) => r.resource.namespace === 'my-namespace')).toBe(true);
    expect(out.response.auditAnnotations?.['denied-by']?.split(',')).toEqual(expect.arrayContaining(['no-privileged-containers', 'pod-security-baseline']));
    expect(out.response.auditAnnotations?.['audit-findings']).toContain('read-only-root-filesystem');
    expect(record).toBe(true);
  });

  it('allows with warnings when only audit policies are violated', () => {
    const { review: out } = reviewAdmission(review(deployment({})), set);
    expect(out.response.allowed).toBe(true);
    expect(out.response.status).toBeUndefined();
    expect(out.response.warnings?.length).toBeGreaterThan(0);
    for (const w of out.response.warnings ?? []) expect(w.length).toBeLessThanOrEqual(256);
  });

  it('evaluates dryRun requests without asking to record them', () => {
    const outcome = reviewAdmission(review(deployment({ securityContext: { privileged: true } }), { dryRun: true }), set);
    expect(outcome.review.response.allowed).toBe(false);
    expect(outcome.record).toBe(false);
  });

  it('on UPDATE reports only new violations for policies that compare with oldObject', () => {
    const old = deployment({ securityContext: { privileged: true } });
    const scaled = { ...old, spec: { ...old.spec, replicas: 5 } };
    const { review: out } = reviewAdmission(review(scaled, { operation: 'UPDATE', oldObject: old }), set);
    // PSA baseline compares (pre-existing violation, unrelated edit); no-privileged-containers always applies.
    expect(out.response.allowed).toBe(false);
    expect(out.response.status?.message).toContain('[no-privileged-containers]');
    expect(out.response.status?.message).not.toContain('[pod-security-baseline]');
  });

  it('skips DELETE and status subresources, and allows objects in excluded namespaces', () => {
    expect(reviewAdmission(review(null, { operation: 'DELETE', oldObject: deployment({ securityContext: { privileged: true } }) }), set).review.response.allowed).toBe(true);
    expect(reviewAdmission(review(deployment({ securityContext: { privileged: true } }), { operation: 'UPDATE', subResource: 'status' }), set).results).toEqual([]);
    expect(reviewAdmission(review(deployment({ securityContext: { privileged: true } }), { namespace: 'kube-system' }), set).review.response.allowed).toBe(true);
  });

  it('rejects what is not an AdmissionReview', () => {
    expect(() => reviewAdmission({ kind: 'Pod' }, set)).toThrow(/kind must be AdmissionReview/);
    expect(() => reviewAdmission({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE' } }, set)).toThrow(/uid/);
  });
});

describe('validatingWebhookConfiguration', () => {
  const pem = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ0FURVNUMA0GCSqGSIb3DQEBCwUAMBExDzANBgNVBAMMBnRlc3RjYQ==\n-----END CERTIFICATE-----';

  it('defaults to failurePolicy Ignore, timeout 3 s, and excludes the exempt namespaces', () => {
    const text = validatingWebhookConfiguration({ caBundle: pem, service: { namespace: 'palisade', name: 'palisade' } });
    expect(text).toMatch(/^# Palisade validating admission webhook/);
    expect(text).toContain('failurePolicy Ignore');
    const doc = parse(text);
    const hook = doc.webhooks[0];
    expect(doc.kind).toBe('ValidatingWebhookConfiguration');
    expect(hook.failurePolicy).toBe('Ignore');
    expect(hook.timeoutSeconds).toBe(3);
    expect(hook.sideEffects).toBe('NoneOnDryRun');
    expect(hook.admissionReviewVersions).toEqual(['v1']);
    expect(hook.namespaceSelector.matchExpressions[0]).toEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'gatekeeper-system', 'palisade'] });
    expect(Buffer.from(hook.clientConfig.caBundle, 'base64').toString()).toContain('BEGIN CERTIFICATE');
    expect(hook.clientConfig.service.path).toBe('/admission/validate');
  });

  it('takes a url, Fail and a custom timeout, and refuses bad input', () => {
    const doc = parse(validatingWebhookConfiguration({ caBundle: pem, url: 'https://palisade.example.com/admission/validate', failurePolicy: 'Fail', timeoutSeconds: 5 }));
    expect(doc.webhooks[0].failurePolicy).toBe('Fail');
    expect(doc.webhooks[0].clientConfig.url).toBe('https://palisade.example.com/admission/validate');
    expect(() => validatingWebhookConfiguration({ caBundle: 'nope', url: 'https://x/' })).toThrow(/caBundle/);
    expect(() => validatingWebhookConfiguration({ caBundle: pem, url: 'http://x/' })).toThrow(/https/);
  });

  it('gives the API server credentials for the webhook, named after the host it calls', () => {
    const service = admissionCredentials({ token: 'pal_x', service: { namespace: 'palisade', name: 'palisade', port: 8443 } });
    const config = parse(service.admissionConfiguration);
    expect(config).toMatchObject({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'AdmissionConfiguration' });
    expect(config.plugins[0]).toMatchObject({ name: 'ValidatingAdmissionWebhook', configuration: { kind: 'WebhookAdmissionConfiguration', kubeConfigFile: '/etc/kubernetes/palisade-admission.kubeconfig' } });
    // Non-443 Service ports are part of the name the API server looks up (Kubernetes 1.16+).
    expect(parse(service.kubeconfig).users).toEqual([{ name: 'palisade.palisade.svc:8443', user: { token: 'pal_x' } }]);
    expect(parse(admissionCredentials({ token: 'pal_x', service: { namespace: 'sec', name: 'hook' } }).kubeconfig).users[0].name).toBe('hook.sec.svc');
    expect(parse(admissionCredentials({ token: 'pal_x', url: 'https://palisade.example.com:9443/admission/validate/prod' }).kubeconfig).users[0].name).toBe('palisade.example.com:9443');
    expect(() => admissionCredentials({ token: 'pal_x' })).toThrow(/exactly one of url or service/);
  });
});
