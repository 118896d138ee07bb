import type { PolicyDefinition } from '../../model.js';
import { perContainer, q } from '../helpers.js';

export interface Parameters {
  /** Annotation-style values: `runtime/default`, `localhost/NAME`, `localhost/*`. */
  allowedProfiles: string[];
  /** Require every container to name a profile explicitly (otherwise unset means the runtime default). */
  requireExplicit: boolean;
}

const ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

/** Field form (1.30+) to the annotation form the parameters use. */
function asAnnotation(p: { type?: string; localhostProfile?: string } | undefined): string | undefined {
  if (!p?.type) return undefined;
  if (p.type === 'RuntimeDefault') return 'runtime/default';
  if (p.type === 'Localhost') return `localhost/${p.localhostProfile ?? ''}`;
  return p.type.toLowerCase();
}

export const apparmorProfile: PolicyDefinition<Parameters> = {
  id: 'apparmor-profile',
  title: 'Overriding or disabling of containers AppArmor profile should be restricted',
  description: 'An unconfined AppArmor profile removes the mandatory access control that blocks writes to /proc, mounts and raw sockets.',
  severity: 'medium',
  remediation: 'Remove the unconfined profile; use securityContext.appArmorProfile.type: RuntimeDefault or an allowed Localhost profile.',
  control: 'Remediate security configurations',
  appliesTo: 'pods',
  defaults: { effect: 'audit', parameters: { allowedProfiles: ['runtime/default', 'localhost/*'], requireExplicit: false } },
  onUpdate: 'new-violations',
  evaluate: (ctx) => {
    const annotations = ctx.pod?.metadata.annotations ?? {};
    const podProfile = asAnnotation(ctx.pod?.spec.securityContext?.appArmorProfile);
    const allowed = (v: string): boolean => ctx.parameters.allowedProfiles.some((a) => (a.endsWith('*') ? v.startsWith(a.slice(0, -1)) : v === a));
    return perContainer(ctx, (c) => {
      const fromField = asAnnotation(c.container.securityContext?.appArmorProfile);
      const fromAnnotation = annotations[`${ANNOTATION}${c.name}`];
      const profile = fromField ?? fromAnnotation ?? podProfile;
      const field = fromField !== undefined ? `${c.path}.securityContext.appArmorProfile` : fromAnnotation !== undefined ? `${ctx.pod?.metadataPath}.annotations["${ANNOTATION}${c.name}"]` : `${c.path}.securityContext.appArmorProfile`;
      if (profile === undefined) return ctx.parameters.requireExplicit ? { message: `container ${q(c.name)} sets no AppArmor profile`, container: c.name, field } : undefined;
      return allowed(profile) ? undefined : { message: `container ${q(c.name)} AppArmor profile ${q(profile)} is not allowed`, container: c.name, field };
    });
  },
};
