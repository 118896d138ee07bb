/** Every built-in policy. Each folder holds policy.ts plus example_allowed.yaml and example_disallowed.yaml. */
import type { AnyPolicy } from '../model.js';
import { allowedCapabilities } from './allowed-capabilities/policy.js';
import { allowedHostPaths } from './allowed-host-paths/policy.js';
import { allowedPorts } from './allowed-ports/policy.js';
import { allowedRegistries } from './allowed-registries/policy.js';
import { allowedUsersGroups } from './allowed-users-groups/policy.js';
import { apparmorProfile } from './apparmor-profile/policy.js';
import { automountServiceAccountToken } from './automount-service-account-token/policy.js';
import { containerLimits } from './container-limits/policy.js';
import { hostNetworkPorts } from './host-network-ports/policy.js';
import { imageDigestRequired } from './image-digest-required/policy.js';
import { imageTagPinned } from './image-tag-pinned/policy.js';
import { noDefaultNamespace } from './no-default-namespace/policy.js';
import { noPrivilegeEscalation } from './no-privilege-escalation/policy.js';
import { noPrivilegedContainers } from './no-privileged-containers/policy.js';
import { podSecurityBaseline } from './pod-security-baseline/policy.js';
import { podSecurityRestricted } from './pod-security-restricted/policy.js';
import { readOnlyRootFilesystem } from './read-only-root-filesystem/policy.js';
import { requiredLabels } from './required-labels/policy.js';
import { requiredProbes } from './required-probes/policy.js';
import { seccompProfile } from './seccomp-profile/policy.js';
import { serviceExternalIps } from './service-external-ips/policy.js';
import { serviceTypes } from './service-types/policy.js';

export const BUILTIN_POLICIES: readonly AnyPolicy[] = [
  podSecurityBaseline, podSecurityRestricted,
  noPrivilegedContainers, noPrivilegeEscalation, allowedCapabilities, readOnlyRootFilesystem, allowedUsersGroups,
  allowedHostPaths, hostNetworkPorts, allowedPorts, automountServiceAccountToken,
  containerLimits, allowedRegistries, imageTagPinned, imageDigestRequired,
  seccompProfile, apparmorProfile, serviceTypes, serviceExternalIps,
  noDefaultNamespace, requiredLabels, requiredProbes,
];
