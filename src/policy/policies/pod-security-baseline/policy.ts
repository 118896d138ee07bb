import type { PolicyDefinition } from '../../model.js';
import { evaluatePodSecurity, parsePsaVersion } from '../../psa/evaluate.js';

export interface Parameters { version: string }

export const podSecurityBaseline: PolicyDefinition<Parameters> = {
  id: 'pod-security-baseline',
  title: 'Pods should meet the Pod Security Standards baseline level',
  description: 'Prevents known privilege escalations: privileged containers, host namespaces, hostPath volumes, host ports, added capabilities, unsafe sysctls, AppArmor/SELinux/seccomp overrides, /proc mount, probe hosts.',
  severity: 'high',
  remediation: 'Change the named field of the named container as the message says; see https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline',
  control: 'Manage access and permissions',
  appliesTo: 'pods',
  defaults: { effect: 'deny', parameters: { version: 'latest' } },
  onUpdate: 'new-violations',
  validate: ({ version }) => {
    try { parsePsaVersion(version); return []; } catch { return [`version: ${JSON.stringify(version)} is not "latest" or a version like "v1.30"`]; }
  },
  evaluate: ({ pod, parameters }) =>
    pod ? evaluatePodSecurity(pod, 'baseline', parameters.version).map((v) => ({
      message: `${v.reason}: ${v.message}`,
      ...(v.container !== undefined ? { container: v.container } : {}),
      ...(v.field !== undefined ? { field: v.field } : {}),
    })) : [],
};
