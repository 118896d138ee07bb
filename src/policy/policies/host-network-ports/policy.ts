import { containersOf } from '../../kube/pods.js';
import type { PolicyDefinition, PolicyViolation } from '../../model.js';
import { q } from '../helpers.js';

export interface Parameters {
  allowHostNetwork: boolean;
  /** Host ports in [minPort, maxPort] are allowed; the default 0..0 allows none. */
  minPort: number;
  maxPort: number;
}

export const hostNetworkPorts: PolicyDefinition<Parameters> = {
  id: 'host-network-ports',
  title: 'Usage of host networking and ports should be restricted',
  description: 'Host networking bypasses network policies and exposes node-local services; host ports expose the pod on every node address.',
  severity: 'medium',
  remediation: 'Remove hostNetwork and hostPort; expose the workload through a Service.',
  control: 'Restrict unauthorized network access',
  appliesTo: 'pods',
  defaults: { effect: 'audit', parameters: { allowHostNetwork: false, minPort: 0, maxPort: 0 } },
  onUpdate: 'always',
  sample: { parameters: { minPort: 9100, maxPort: 9100 } },
  evaluate: ({ pod, parameters }) => {
    if (!pod) return [];
    const out: PolicyViolation[] = [];
    if (pod.spec.hostNetwork === true && !parameters.allowHostNetwork) out.push({ message: 'pod must not use hostNetwork', field: `${pod.specPath}.hostNetwork` });
    for (const c of containersOf(pod)) {
      (c.container.ports ?? []).forEach((p, i) => {
        const hp = p?.hostPort;
        if (typeof hp === 'number' && hp !== 0 && (hp < parameters.minPort || hp > parameters.maxPort)) {
          out.push({ message: `container ${q(c.name)} host port ${hp} is outside the allowed range ${parameters.minPort}-${parameters.maxPort}`, container: c.name, field: `${c.path}.ports[${i}].hostPort` });
        }
      });
    }
    return out;
  },
};
