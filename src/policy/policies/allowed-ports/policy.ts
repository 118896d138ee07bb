import { containersOf } from '../../kube/pods.js';
import type { PolicyDefinition, PolicyViolation } from '../../model.js';
import { q } from '../helpers.js';

export interface Parameters {
  /** Ports containers may listen on and Services may expose; empty: any. */
  allowedPorts: number[];
}

const POD_KINDS = ['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob'];

export const allowedPorts: PolicyDefinition<Parameters> = {
  id: 'allowed-ports',
  title: 'Containers and services should listen on allowed ports only',
  description: 'Unexpected listening ports widen the attack surface and often betray debug endpoints left on.',
  severity: 'medium',
  remediation: 'Listen and expose only the allowed ports, or add the port to the policy parameters.',
  control: 'Restrict unauthorized network access',
  appliesTo: [...POD_KINDS, 'Service'],
  defaults: { effect: 'audit', parameters: { allowedPorts: [] } },
  onUpdate: 'always',
  sample: { parameters: { allowedPorts: [80, 443, 8080] } },
  evaluate: ({ object, pod, parameters }) => {
    const allowed = parameters.allowedPorts;
    if (allowed.length === 0) return [];
    const out: PolicyViolation[] = [];
    if (pod) {
      for (const c of containersOf(pod)) {
        (c.container.ports ?? []).forEach((p, i) => {
          if (typeof p?.containerPort === 'number' && !allowed.includes(p.containerPort)) {
            out.push({ message: `container ${q(c.name)} listens on port ${p.containerPort}, which is not allowed`, container: c.name, field: `${c.path}.ports[${i}].containerPort` });
          }
        });
      }
    }
    if (object.kind === 'Service') {
      const ports = (object.spec?.ports ?? []) as { port?: number }[];
      ports.forEach((p, i) => {
        if (typeof p?.port === 'number' && !allowed.includes(p.port)) out.push({ message: `service port ${p.port} is not allowed`, field: `spec.ports[${i}].port` });
      });
    }
    return out;
  },
};
