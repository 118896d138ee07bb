import type { PolicyDefinition } from '../../model.js';

export type Parameters = Record<string, never>;

export const NAMESPACED_KINDS = [
  'Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob',
  'Service', 'ConfigMap', 'Secret', 'ServiceAccount', 'Role', 'RoleBinding', 'Ingress', 'NetworkPolicy', 'PersistentVolumeClaim',
];

export const noDefaultNamespace: PolicyDefinition<Parameters> = {
  id: 'no-default-namespace',
  title: 'Kubernetes clusters should not use the default namespace',
  description: 'The default namespace has no RBAC, quota or network policy boundary of its own; everything there can reach everything else.',
  severity: 'low',
  remediation: 'Create a namespace per application or team and deploy there (metadata.namespace).',
  control: 'Remediate security configurations',
  appliesTo: NAMESPACED_KINDS,
  defaults: { effect: 'audit', parameters: {} },
  onUpdate: 'always',
  // Only an explicit `default` is flagged: a manifest without a namespace lands wherever it is applied.
  evaluate: ({ object }) => (object.metadata?.namespace === 'default' ? [{ message: `${object.kind} is in the default namespace`, field: 'metadata.namespace' }] : []),
};
