import type { PolicyDefinition } from '../../model.js';
import { perContainer, q } from '../helpers.js';

export interface Parameters { allowedProfiles: string[] }

export const seccompProfile: PolicyDefinition<Parameters> = {
  id: 'seccomp-profile',
  title: 'Containers should run with an allowed seccomp profile',
  description: 'Without a seccomp profile every syscall is reachable, including those behind most container escapes.',
  severity: 'medium',
  remediation: 'Set securityContext.seccompProfile.type: RuntimeDefault on the pod (or a Localhost profile).',
  control: 'Remediate security configurations',
  appliesTo: 'pods',
  // Opt-in: not in Defender's default set nor Pod Security baseline (issue 20).
  defaults: { effect: 'disabled', parameters: { allowedProfiles: ['RuntimeDefault', 'Localhost'] } },
  onUpdate: 'new-violations',
  evaluate: (ctx) => {
    const podType = ctx.pod?.spec.securityContext?.seccompProfile?.type;
    return perContainer(ctx, (c) => {
      const own = c.container.securityContext?.seccompProfile?.type;
      const type = own ?? podType;
      if (type !== undefined && ctx.parameters.allowedProfiles.includes(type)) return undefined;
      return {
        message: type === undefined
          ? `container ${q(c.name)} has no seccomp profile (set pod or container securityContext.seccompProfile)`
          : `container ${q(c.name)} seccomp profile ${q(type)} is not allowed`,
        container: c.name,
        field: own !== undefined || podType === undefined ? `${c.path}.securityContext.seccompProfile.type` : `${ctx.pod?.specPath}.securityContext.seccompProfile.type`,
      };
    });
  },
};
