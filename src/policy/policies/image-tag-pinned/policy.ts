import { parseWrittenReference } from '../../../image/index.js';
import type { PolicyDefinition } from '../../model.js';
import { perContainer, q } from '../helpers.js';

export interface Parameters { disallowedTags: string[] }

export const imageTagPinned: PolicyDefinition<Parameters> = {
  id: 'image-tag-pinned',
  title: 'Container images should not use the latest tag',
  description: 'A moving tag (or none, which means latest) makes what runs unknowable and rollbacks impossible.',
  severity: 'medium',
  remediation: 'Reference a version tag or a digest (image:1.2.3 or image@sha256:...).',
  control: 'Remediate security configurations',
  appliesTo: 'pods',
  // Opt-in: not in Defender's default set nor Pod Security baseline (issue 20).
  defaults: { effect: 'disabled', parameters: { disallowedTags: ['latest'] } },
  onUpdate: 'always',
  evaluate: (ctx) => perContainer(ctx, (c) => {
    const image = String(c.container.image ?? '');
    const ref = parseWrittenReference(image);
    if (!ref) return { message: `container ${q(c.name)} image ${q(image)} is not a valid image reference`, container: c.name, field: `${c.path}.image` };
    if (ref.digest) return undefined;
    if (ref.tag === undefined) return { message: `container ${q(c.name)} image ${q(image)} has no tag (defaults to latest)`, container: c.name, field: `${c.path}.image` };
    if (ctx.parameters.disallowedTags.includes(ref.tag)) return { message: `container ${q(c.name)} image ${q(image)} uses the ${q(ref.tag)} tag`, container: c.name, field: `${c.path}.image` };
    return undefined;
  }),
};
