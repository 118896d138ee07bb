import type { PolicyDefinition, PolicyViolation } from '../../model.js';

export type Parameters = Record<string, never>;

/**
 * Defender's "Containers sharing sensitive host namespaces should be avoided": a pod with the
 * host's PID namespace sees (and can signal or ptrace) every process on the node; with its IPC
 * namespace it reaches the node's shared memory. Pod Security baseline forbids both as well; this
 * recommendation names the one control so it can be tracked (and excepted) on its own.
 */
export const hostNamespaces: PolicyDefinition<Parameters> = {
  id: 'host-namespaces',
  title: 'Containers sharing sensitive host namespaces should be avoided',
  description: 'hostPID exposes every process on the node to the pod; hostIPC exposes the node\'s shared memory and semaphores.',
  severity: 'medium',
  remediation: 'Remove spec.hostPID and spec.hostIPC (or set them to false) from the pod template.',
  control: 'Manage access and permissions',
  appliesTo: 'pods',
  defaults: { effect: 'audit', parameters: {} },
  onUpdate: 'always',
  evaluate: ({ pod }) => {
    if (!pod) return [];
    const out: PolicyViolation[] = [];
    for (const key of ['hostPID', 'hostIPC'] as const) {
      if (pod.spec[key] === true) out.push({ message: `the pod must not set ${key}=true`, field: `${pod.specPath}.${key}` });
    }
    return out;
  },
};
