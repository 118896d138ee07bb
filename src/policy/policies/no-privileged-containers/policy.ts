import type { PolicyDefinition } from '../../model.js';
import { perContainer, q } from '../helpers.js';

export type Parameters = Record<string, never>;

export const noPrivilegedContainers: PolicyDefinition<Parameters> = {
  id: 'no-privileged-containers',
  title: 'Privileged containers should be avoided',
  description: 'A privileged container has every capability and every host device: it is root on the node.',
  severity: 'high',
  remediation: 'Remove securityContext.privileged (or set it to false); add only the capabilities the workload needs.',
  control: 'Manage access and permissions',
  appliesTo: 'pods',
  defaults: { effect: 'deny', parameters: {} },
  onUpdate: 'always',
  evaluate: (ctx) => perContainer(ctx, (c) =>
    c.container.securityContext?.privileged === true
      ? { message: `container ${q(c.name)} must not set securityContext.privileged=true`, container: c.name, field: `${c.path}.securityContext.privileged` }
      : undefined),
};
