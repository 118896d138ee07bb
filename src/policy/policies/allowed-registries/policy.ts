import { parseWrittenReference, type ImageReference } from '../../../image/index.js';
import type { PolicyDefinition } from '../../model.js';
import { perContainer, q } from '../helpers.js';

export interface Parameters {
  /** Allowed `registry/repository` prefixes, e.g. `registry.example.com/` or `docker.io/library/`. Empty: any. */
  registries: string[];
}

/**
 * A prefix with a `/` matches the written or the normalised reference (so `docker.io/library/`
 * matches `nginx`); a bare host matches the registry exactly, so `registry.example.com` never
 * admits `registry.example.com.evil.io/...`.
 */
function allowedBy(prefix: string, image: string, ref: ImageReference): boolean {
  if (!prefix.includes('/')) return ref.registry === prefix;
  const name = `${ref.registry}/${ref.repository}`;
  return image.startsWith(prefix) || name.startsWith(prefix) || `${name}/`.startsWith(prefix);
}

export const allowedRegistries: PolicyDefinition<Parameters> = {
  id: 'allowed-registries',
  title: 'Container images should be deployed from trusted registries only',
  description: 'Images from registries you do not control may be unscanned, tampered with or typosquatted.',
  severity: 'high',
  remediation: 'Push the image to one of the allowed registries (and scan it there), then reference it from there.',
  control: 'Remediate security configurations',
  appliesTo: 'pods',
  defaults: { effect: 'audit', parameters: { registries: [] } },
  onUpdate: 'always',
  sample: { parameters: { registries: ['registry.example.com', 'mcr.microsoft.com/dotnet/'] } },
  evaluate: (ctx) => {
    const allowed = ctx.parameters.registries;
    if (allowed.length === 0) return [];
    return perContainer(ctx, (c) => {
      const image = String(c.container.image ?? '');
      // A string that is no reference names no registry: it is never allowed.
      const ref = parseWrittenReference(image);
      if (ref && allowed.some((prefix) => allowedBy(prefix, image, ref))) return undefined;
      return { message: `container ${q(c.name)} image ${q(image)} is not from an allowed registry (${allowed.join(', ')})`, container: c.name, field: `${c.path}.image` };
    });
  },
};
