import { parseQuantity } from '../../kube/quantity.js';
import type { PolicyDefinition } from '../../model.js';
import { perContainer, q } from '../helpers.js';

export interface Parameters {
  /** Resources every container must limit. */
  resources: string[];
  /** Largest CPU limit allowed (quantity, e.g. `2`); empty for none. */
  maxCpu: string;
  /** Largest memory limit allowed (quantity, e.g. `4Gi`); empty for none. */
  maxMemory: string;
}

export const containerLimits: PolicyDefinition<Parameters> = {
  id: 'container-limits',
  title: 'Container CPU and memory limits should be enforced',
  description: 'Containers without limits can exhaust a node (denial of service, noisy neighbours, cryptomining going unnoticed).',
  severity: 'medium',
  remediation: 'Set resources.limits.cpu and resources.limits.memory on every container, within the allowed maximums.',
  control: 'Remediate security configurations',
  appliesTo: 'pods',
  defaults: { effect: 'audit', parameters: { resources: ['cpu', 'memory'], maxCpu: '', maxMemory: '' } },
  onUpdate: 'always',
  sample: { parameters: { maxCpu: '2', maxMemory: '4Gi' } },
  evaluate: (ctx) => perContainer(ctx, (c) => {
    if (c.list === 'ephemeralContainers') return undefined;
    const limits = c.container.resources?.limits ?? {};
    const out = [];
    for (const r of ctx.parameters.resources) {
      if (limits[r] == null) out.push({ message: `container ${q(c.name)} has no ${r} limit`, container: c.name, field: `${c.path}.resources.limits.${r}` });
    }
    const max: [string, string][] = [['cpu', ctx.parameters.maxCpu], ['memory', ctx.parameters.maxMemory]];
    for (const [r, m] of max) {
      const limit = parseQuantity(limits[r]);
      const maximum = m ? parseQuantity(m) : undefined;
      if (limit !== undefined && maximum !== undefined && limit > maximum) {
        out.push({ message: `container ${q(c.name)} ${r} limit ${String(limits[r])} exceeds the maximum ${m}`, container: c.name, field: `${c.path}.resources.limits.${r}` });
      }
    }
    return out;
  }),
};
