import type { PolicyDefinition } from '../../model.js';
import { perContainer, q } from '../helpers.js';

export type Parameters = Record<string, never>;

export const noPrivilegeEscalation: PolicyDefinition<Parameters> = {
  id: 'no-privilege-escalation',
  title: 'Container with privilege escalation should be avoided',
  description: 'Unless allowPrivilegeEscalation is false, setuid binaries can gain more privileges than the process started with.',
  severity: 'medium',
  remediation: 'Set securityContext.allowPrivilegeEscalation: false on every container.',
  control: 'Manage access and permissions',
  appliesTo: 'pods',
  defaults: { effect: 'audit', parameters: {} },
  onUpdate: 'new-violations',
  evaluate: (ctx) => perContainer(ctx, (c) =>
    c.container.securityContext?.allowPrivilegeEscalation === false
      ? undefined
      : { message: `container ${q(c.name)} must set securityContext.allowPrivilegeEscalation=false`, container: c.name, field: `${c.path}.securityContext.allowPrivilegeEscalation` }),
};
