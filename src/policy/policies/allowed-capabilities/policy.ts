import type { PolicyDefinition, PolicyViolation } from '../../model.js';
import { perContainer, q } from '../helpers.js';

export interface Parameters {
  /** Capabilities a container may add; `*` allows any. */
  allowedCapabilities: string[];
  /** Capabilities every container must drop (`ALL` satisfies any list). */
  requiredDropCapabilities: string[];
}

export const allowedCapabilities: PolicyDefinition<Parameters> = {
  id: 'allowed-capabilities',
  title: 'Least privileged Linux capabilities should be enforced for containers',
  description: 'Each added capability widens what a compromised process can do to the node (NET_RAW spoofing, SYS_ADMIN escapes).',
  severity: 'medium',
  remediation: 'Drop ALL capabilities and add back only those listed as allowed.',
  control: 'Manage access and permissions',
  appliesTo: 'pods',
  defaults: { effect: 'audit', parameters: { allowedCapabilities: [], requiredDropCapabilities: ['ALL'] } },
  onUpdate: 'new-violations',
  sample: { parameters: { allowedCapabilities: ['NET_BIND_SERVICE'], requiredDropCapabilities: ['ALL'] } },
  evaluate: (ctx) => perContainer(ctx, (c) => {
    const out: PolicyViolation[] = [];
    const caps = c.container.securityContext?.capabilities;
    const add = Array.isArray(caps?.add) ? caps.add.map(String) : [];
    const drop = Array.isArray(caps?.drop) ? caps.drop.map(String) : [];
    const allowed = ctx.parameters.allowedCapabilities;
    if (!allowed.includes('*')) {
      const bad = add.filter((cap) => !allowed.includes(cap) && !allowed.includes(cap.replace(/^CAP_/, '')));
      if (bad.length) out.push({ message: `container ${q(c.name)} adds capabilities not allowed: ${bad.join(', ')}`, container: c.name, field: `${c.path}.securityContext.capabilities.add` });
    }
    if (!drop.includes('ALL')) {
      const missing = ctx.parameters.requiredDropCapabilities.filter((cap) => !drop.includes(cap));
      if (missing.length) out.push({ message: `container ${q(c.name)} must drop capabilities: ${missing.join(', ')}`, container: c.name, field: `${c.path}.securityContext.capabilities.drop` });
    }
    return out;
  }),
};
