import type { PolicyDefinition, PolicyViolation } from '../../model.js';
import { perContainer, q } from '../helpers.js';

export interface Parameters {
  probes: string[];
  /** Handler types that count as a probe. */
  probeTypes: string[];
}

export const requiredProbes: PolicyDefinition<Parameters> = {
  id: 'required-probes',
  title: 'Containers should define liveness and readiness probes',
  description: 'Without probes a hung or half-started container keeps receiving traffic and is never restarted.',
  severity: 'low',
  remediation: 'Add livenessProbe and readinessProbe (httpGet, tcpSocket, exec or grpc) to every long-running container.',
  control: 'Implement security best practices',
  appliesTo: 'pods',
  // Opt-in: not in Defender's default set nor Pod Security baseline (issue 20).
  defaults: { effect: 'disabled', parameters: { probes: ['livenessProbe', 'readinessProbe'], probeTypes: ['httpGet', 'tcpSocket', 'exec', 'grpc'] } },
  onUpdate: 'always',
  evaluate: (ctx) => {
    // Jobs run to completion: probes make no sense there.
    if (ctx.object.kind === 'Job' || ctx.object.kind === 'CronJob') return [];
    return perContainer(ctx, (c) => {
      if (c.list !== 'containers') return undefined;
      const out: PolicyViolation[] = [];
      for (const probe of ctx.parameters.probes) {
        const p = (c.container as Record<string, unknown>)[probe] as Record<string, unknown> | undefined;
        if (!p || !ctx.parameters.probeTypes.some((t) => p[t] != null)) out.push({ message: `container ${q(c.name)} has no ${probe}`, container: c.name, field: `${c.path}.${probe}` });
      }
      return out;
    });
  },
};
