import type { PolicyDefinition } from '../../model.js';
import { evaluatePodSecurity, parsePsaVersion } from '../../psa/evaluate.js';

export interface Parameters { version: string }

export const podSecurityRestricted: PolicyDefinition<Parameters> = {
  id: 'pod-security-restricted',
  title: 'Pods should meet the Pod Security Standards restricted level',
  description: 'Current pod hardening best practice: everything in baseline, plus non-root users, no privilege escalation, all capabilities dropped, a seccomp profile, and only ephemeral or claim-backed volume types.',
  severity: 'medium',
  remediation: 'Change the named field of the named container as the message says; see https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted',
  control: 'Manage access and permissions',
  appliesTo: 'pods',
  // Opt-in: not in Defender's default set nor Pod Security baseline (issue 20).
  defaults: { effect: 'disabled', parameters: { version: 'latest' } },
  onUpdate: 'new-violations',
  validate: ({ version }) => {
    try { parsePsaVersion(version); return []; } catch { return [`version: ${JSON.stringify(version)} is not "latest" or a version like "v1.30"`]; }
  },
  evaluate: ({ pod, parameters }) =>
    pod ? evaluatePodSecurity(pod, 'restricted', parameters.version).map((v) => ({
      message: `${v.reason}: ${v.message}`,
      ...(v.container !== undefined ? { container: v.container } : {}),
      ...(v.field !== undefined ? { field: v.field } : {}),
    })) : [],
};
