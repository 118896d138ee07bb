import { parseWrittenReference } from '../../../image/index.js';
import type { PolicyDefinition } from '../../model.js';
import { perContainer, q } from '../helpers.js';

export type Parameters = Record<string, never>;

export const imageDigestRequired: PolicyDefinition<Parameters> = {
  id: 'image-digest-required',
  title: 'Container images should be referenced by digest',
  description: 'Only a digest pins the exact bytes that were scanned; tags can be re-pushed.',
  severity: 'low',
  remediation: 'Reference images as name@sha256:DIGEST (resolve with `crane digest` or `skopeo inspect`).',
  control: 'Remediate security configurations',
  appliesTo: 'pods',
  defaults: { effect: 'disabled', parameters: {} },
  onUpdate: 'always',
  evaluate: (ctx) => perContainer(ctx, (c) => {
    const image = String(c.container.image ?? '');
    return parseWrittenReference(image)?.digest
      ? undefined
      : { message: `container ${q(c.name)} image ${q(image)} is not referenced by digest`, container: c.name, field: `${c.path}.image` };
  }),
};
