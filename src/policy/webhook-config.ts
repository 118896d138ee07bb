/** The ValidatingWebhookConfiguration that `palisade cluster connect` prints. */
import { PalisadeError, yamlLibrary } from '../core/index.js';
import { DEFAULT_EXCLUDED_NAMESPACES } from './model.js';

export interface WebhookConfigOptions {
  /** PEM of the CA that signed the server certificate (or its base64 already). */
  caBundle: string;
  /** `https://palisade.example.com/admission/validate`, for a server outside the cluster... */
  url?: string;
  /** ...or the in-cluster Service in front of it. */
  service?: { namespace: string; name: string; port?: number; path?: string };
  name?: string;
  /** `Ignore` (default) keeps the cluster writable when Palisade is down; `Fail` enforces always. */
  failurePolicy?: 'Ignore' | 'Fail';
  timeoutSeconds?: number;
  excludedNamespaces?: string[];
}

const RULES = [
  { apiGroups: [''], apiVersions: ['v1'], resources: ['pods', 'pods/ephemeralcontainers', 'replicationcontrollers', 'services', 'serviceaccounts'] },
  { apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'] },
  { apiGroups: ['batch'], apiVersions: ['v1'], resources: ['jobs', 'cronjobs'] },
];

function toBase64Bundle(caBundle: string): string {
  const text = caBundle.trim();
  if (text.includes('-----BEGIN CERTIFICATE-----')) return Buffer.from(`${text}\n`).toString('base64');
  if (/^[A-Za-z0-9+/=\s]+$/.test(text) && Buffer.from(text, 'base64').toString('utf8').includes('-----BEGIN CERTIFICATE-----')) return text.replace(/\s+/g, '');
  throw new PalisadeError('webhook.bad_ca_bundle', 'caBundle is neither a PEM certificate nor base64 of one', { field: 'caBundle', hint: 'pass the CA certificate the server printed at start-up' });
}

/** YAML text ready for `kubectl apply -f -`, with the failure-policy trade-off explained in comments. */
export function validatingWebhookConfiguration(options: WebhookConfigOptions): string {
  if (!options.url === !options.service) {
    throw new PalisadeError('webhook.client_config', 'give exactly one of url or service', { field: 'url', hint: 'url for a server outside the cluster, service for one inside it' });
  }
  if (options.url && !options.url.startsWith('https://')) {
    throw new PalisadeError('webhook.client_config', 'the webhook url must start with https://', { field: 'url', hint: 'the API server only calls webhooks over TLS' });
  }
  const timeoutSeconds = options.timeoutSeconds ?? 3;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 30) {
    throw new PalisadeError('webhook.timeout', 'timeoutSeconds must be an integer from 1 to 30', { field: 'timeoutSeconds' });
  }
  const failurePolicy = options.failurePolicy ?? 'Ignore';
  const name = options.name ?? 'palisade';
  const excluded = options.excludedNamespaces ?? DEFAULT_EXCLUDED_NAMESPACES;
  const clientConfig = options.url
    ? { url: options.url, caBundle: toBase64Bundle(options.caBundle) }
    : { service: { namespace: options.service!.namespace, name: options.service!.name, port: options.service!.port ?? 443, path: options.service!.path ?? '/admission/validate' }, caBundle: toBase64Bundle(options.caBundle) };
  const config = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'palisade' } },
    webhooks: [{
      name: `validate.${name}.palisade.io`,
      admissionReviewVersions: ['v1'],
      clientConfig,
      rules: RULES.map((r) => ({ operations: ['CREATE', 'UPDATE'], ...r, scope: 'Namespaced' })),
      matchPolicy: 'Equivalent',
      failurePolicy,
      sideEffects: 'NoneOnDryRun',
      timeoutSeconds,
      namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded }] },
    }],
  };
  const header = [
    '# Palisade validating admission webhook.',
    `# failurePolicy ${failurePolicy}: ${failurePolicy === 'Ignore'
      ? 'if Palisade is unreachable or slower than timeoutSeconds, the API server admits the request unchecked.'
      : 'if Palisade is unreachable or slower than timeoutSeconds, the API server REJECTS the request.'}`,
    '#   Ignore keeps the cluster operable (deployments, autoscaling, node repair) through a Palisade outage, at the',
    '#   cost of a window in which deny policies are not enforced; the posture scan still reports what slipped in.',
    '#   Fail enforces always, but a Palisade outage then blocks every matching write, including its own recovery:',
    '#   keep the palisade namespace excluded below if you choose it.',
    `# Namespaces excluded from admission: ${excluded.join(', ')} (namespaceSelector on kubernetes.io/metadata.name).`,
    '# dryRun requests are evaluated but not recorded (sideEffects: NoneOnDryRun).',
  ];
  return `${header.join('\n')}\n${yamlLibrary().stringify(config, { lineWidth: 0 })}`;
}

export interface AdmissionCredentialsOptions {
  /** The cluster's `cluster:NAME` token. */
  token: string;
  /** Where the webhook is reached, as in the ValidatingWebhookConfiguration: a URL or a Service. */
  url?: string;
  service?: { namespace: string; name: string; port?: number };
  /** Where the kubeconfig will sit on the control-plane host. */
  kubeconfigPath?: string;
}

/**
 * What lets the API server authenticate itself to the webhook (needed with `admissionAuth:
 * required`): an AdmissionConfiguration for `--admission-control-config-file` pointing at a
 * kubeconfig whose user entry, named after the webhook's host, carries the cluster token. The
 * API server matches the entry by the Service's DNS name (`svc.ns.svc`, plus `:port` unless
 * 443) or by the URL's host and port.
 */
export function admissionCredentials(options: AdmissionCredentialsOptions): { admissionConfiguration: string; kubeconfig: string } {
  if (!options.url === !options.service) {
    throw new PalisadeError('webhook.client_config', 'give exactly one of url or service', { field: 'url' });
  }
  let host: string;
  if (options.url) {
    const url = new URL(options.url);
    host = url.port ? `${url.hostname}:${url.port}` : url.hostname;
  } else {
    const { name, namespace, port = 443 } = options.service!;
    host = `${name}.${namespace}.svc${port === 443 ? '' : `:${port}`}`;
  }
  const kubeconfigPath = options.kubeconfigPath ?? '/etc/kubernetes/palisade-admission.kubeconfig';
  const admissionConfiguration = {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'AdmissionConfiguration',
    plugins: [{
      name: 'ValidatingAdmissionWebhook',
      configuration: { apiVersion: 'apiserver.config.k8s.io/v1', kind: 'WebhookAdmissionConfiguration', kubeConfigFile: kubeconfigPath },
    }],
  };
  const kubeconfig = { apiVersion: 'v1', kind: 'Config', users: [{ name: host, user: { token: options.token } }] };
  return {
    admissionConfiguration: `# kube-apiserver --admission-control-config-file (the kubeconfig below goes to ${kubeconfigPath})\n${yamlLibrary().stringify(admissionConfiguration, { lineWidth: 0 })}`,
    kubeconfig: `# ${kubeconfigPath}: the API server's credentials for the Palisade admission webhook (mode 0600)\n${yamlLibrary().stringify(kubeconfig, { lineWidth: 0 })}`,
  };
}
