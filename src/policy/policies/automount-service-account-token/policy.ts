import type { PolicyDefinition } from '../../model.js';

export type Parameters = Record<string, never>;

const POD_KINDS = ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob'];

export const automountServiceAccountToken: PolicyDefinition<Parameters> = {
  id: 'automount-service-account-token',
  title: 'Kubernetes clusters should disable automounting API credentials',
  description: 'A mounted service account token lets anyone who compromises the container call the Kubernetes API as that account.',
  severity: 'high',
  remediation: 'Set automountServiceAccountToken: false on the pod spec (and on the ServiceAccount); mount a projected token only where the API is needed.',
  control: 'Manage access and permissions',
  appliesTo: [...POD_KINDS, 'ServiceAccount'],
  defaults: { effect: 'audit', parameters: {} },
  onUpdate: 'always',
  evaluate: ({ object, pod }) => {
    if (object.kind === 'ServiceAccount') {
      return object.automountServiceAccountToken === false ? [] : [{ message: 'service account must set automountServiceAccountToken=false', field: 'automountServiceAccountToken' }];
    }
    if (!pod || pod.spec.automountServiceAccountToken === false) return [];
    return [{ message: 'pod must set automountServiceAccountToken=false', field: `${pod.specPath}.automountServiceAccountToken` }];
  },
};
