import { yamlLibrary } from '../core/index.js';


/**
 * What `palisade cluster connect NAME` prints: the kubeconfig the apiserver's webhook backend
 * uses to send audit batches (`--audit-webhook-config-file`), and the audit Policy we recommend
 * (`--audit-policy-file`): request and response bodies where rules need them (pods, workloads,
 * RBAC, services, configmaps, webhook configurations), metadata only for secrets and tokens (their
 * bodies are the secrets), nothing for the noisy read-only health traffic, and no RequestReceived
 * stage (it would double every event).
 */
export interface WebhookKubeconfigOptions {
  cluster: string;
  /** Base URL of the Palisade server, e.g. https://palisade.example.com. */
  serverUrl: string;
  /** The cluster's bearer token (from `palisade token create --scope cluster:NAME`), or a placeholder. */
  token?: string;
  /** PEM CA bundle, base64, when the server's certificate is not publicly trusted. */
  caData?: string;
  insecureSkipTLSVerify?: boolean;
}

export function webhookKubeconfig(options: WebhookKubeconfigOptions): string {
  const server = `${options.serverUrl.replace(/\/+$/, '')}/ingest/audit`;
  const clusterEntry: Record<string, unknown> = { server };
  if (options.caData) clusterEntry['certificate-authority-data'] = options.caData;
  if (options.insecureSkipTLSVerify) clusterEntry['insecure-skip-tls-verify'] = true;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'palisade', cluster: clusterEntry }],
    users: [{ name: `palisade-${options.cluster}`, user: { token: options.token ?? '${PALISADE_CLUSTER_TOKEN}' } }],
    contexts: [{ name: 'palisade', context: { cluster: 'palisade', user: `palisade-${options.cluster}` } }],
    'current-context': 'palisade',
  };
  return `# kube-apiserver --audit-webhook-config-file for cluster ${options.cluster}\n` +
    '# also set --audit-webhook-batch-max-size=400 (the default) and --audit-webhook-mode=batch\n' + yamlLibrary().stringify(config);
}

const WORKLOADS = [
  { group: '', resources: ['pods', 'pods/exec', 'pods/attach', 'pods/portforward', 'pods/ephemeralcontainers', 'services', 'configmaps', 'serviceaccounts', 'namespaces', 'replicationcontrollers'] },
  { group: 'apps', resources: ['deployments', 'daemonsets', 'statefulsets', 'replicasets'] },
  { group: 'batch', resources: ['jobs', 'cronjobs'] },
  { group: 'rbac.authorization.k8s.io', resources: ['roles', 'clusterroles', 'rolebindings', 'clusterrolebindings'] },
  { group: 'admissionregistration.k8s.io', resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations', 'validatingadmissionpolicies', 'validatingadmissionpolicybindings'] },
  { group: 'networking.k8s.io', resources: ['ingresses', 'networkpolicies'] },
  { group: 'certificates.k8s.io', resources: ['certificatesigningrequests', 'certificatesigningrequests/approval'] },
];

export function recommendedAuditPolicy(): string {
  const policy = {
    apiVersion: 'audit.k8s.io/v1',
    kind: 'Policy',
    omitStages: ['RequestReceived'],
    rules: [
      // Health checks and high-volume system reads carry no threat signal.
      { level: 'None', nonResourceURLs: ['/healthz*', '/readyz*', '/livez*', '/version', '/openapi*'] },
      { level: 'None', users: ['system:kube-proxy'], verbs: ['watch'], resources: [{ group: '', resources: ['endpoints', 'services', 'services/status'] }] },
      { level: 'None', verbs: ['get', 'list', 'watch'], resources: [{ group: 'coordination.k8s.io', resources: ['leases'] }] },
      { level: 'None', resources: [{ group: '', resources: ['events'] }], verbs: ['create', 'patch', 'update', 'get', 'list', 'watch'] },
      // Secrets and tokens: who and when, never the bodies.
      { level: 'Metadata', resources: [{ group: '', resources: ['secrets', 'serviceaccounts/token'] }, { group: 'authentication.k8s.io', resources: ['tokenreviews'] }] },
      // Reads of everything else: metadata is enough (list secrets, rare operations, anonymous access).
      { level: 'Metadata', verbs: ['get', 'list', 'watch'] },
      // Writes to what the rules inspect: full bodies.
      { level: 'RequestResponse', resources: WORKLOADS },
      { level: 'Metadata' },
    ],
  };
  return yamlLibrary().stringify(policy);
}
