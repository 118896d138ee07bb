import type { PolicyDefinition } from '../../model.js';
import { perContainer, q } from '../helpers.js';

export type Parameters = Record<string, never>;

export const readOnlyRootFilesystem: PolicyDefinition<Parameters> = {
  id: 'read-only-root-filesystem',
  title: 'Immutable (read-only) root filesystem should be enforced for containers',
  description: 'A writable root filesystem lets an attacker drop binaries and persist changes inside the container.',
  severity: 'medium',
  remediation: 'Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where the app must write.',
  control: 'Manage access and permissions',
  appliesTo: 'pods',
  defaults: { effect: 'audit', parameters: {} },
  onUpdate: 'always',
  evaluate: (ctx) => perContainer(ctx, (c) =>
    c.list === 'ephemeralContainers' || c.container.securityContext?.readOnlyRootFilesystem === true
      ? undefined
      : { message: `container ${q(c.name)} must set securityContext.readOnlyRootFilesystem=true`, container: c.name, field: `${c.path}.securityContext.readOnlyRootFilesystem` }),
};
