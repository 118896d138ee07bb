/**
 * Every built-in policy. Each folder holds policy.ts plus example_allowed.yaml and example_disallowed.yaml.
 *
 * What a user gets with no configuration (issue 20): Pod Security Standards baseline plus the
 * Kubernetes data plane recommendations Defender for Containers enables by default (privileged
 * containers, privilege escalation, host namespaces, host networking and ports, host paths,
 * capabilities, root users, read-only root filesystem, limits, AppArmor, API credential automount,
 * default namespace, HTTPS-only ingress, trusted registries, allowed ports). Everything else is
 * opt-in (`effect: audit` or `deny` in the configuration): restricted, tag and digest pinning,
 * seccomp, Service types and external IPs, required labels and probes, and the vulnerability gate
 * (image-vulnerabilities: it blocks deployments on scan results, a decision each team makes for itself,
 * and Defender's gated deployment is opt-in too). {@link DEFAULT_POLICY_IDS}
 * lists the default set; policies.test.ts holds the two lists to each other.
 */
import type { AnyPolicy } from '../model.js';
import { allowedCapabilities } from './allowed-capabilities/policy.js';
import { allowedHostPaths } from './allowed-host-paths/policy.js';
import { allowedPorts } from './allowed-ports/policy.js';
import { allowedRegistries } from './allowed-registries/policy.js';
import { allowedUsersGroups } from './allowed-users-groups/policy.js';
import { apparmorProfile } from './apparmor-profile/policy.js';
import { automountServiceAccountToken } from './automount-service-account-token/policy.js';
import { containerLimits } from './container-limits/policy.js';
import { hostNamespaces } from './host-namespaces/policy.js';
import { hostNetworkPorts } from './host-network-ports/policy.js';
import { imageDigestRequired } from './image-digest-required/policy.js';
import { imageTagPinned } from './image-tag-pinned/policy.js';
import { imageVulnerabilities } from './image-vulnerabilities/policy.js';
import { ingressHttpsOnly } from './ingress-https-only/policy.js';
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
  allowedHostPaths, hostNetworkPorts, hostNamespaces, allowedPorts, automountServiceAccountToken,
  containerLimits, allowedRegistries, imageTagPinned, imageDigestRequired, imageVulnerabilities,
  seccompProfile, apparmorProfile, serviceTypes, serviceExternalIps,
  noDefaultNamespace, requiredLabels, requiredProbes, ingressHttpsOnly,
];

/** The policies on with no configuration: Pod Security baseline and Defender's default recommendations. */
export const DEFAULT_POLICY_IDS: readonly string[] = BUILTIN_POLICIES.filter((p) => p.defaults.effect !== 'disabled').map((p) => p.id);
