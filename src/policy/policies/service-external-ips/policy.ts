import type { PolicyDefinition, PolicyViolation } from '../../model.js';
import { q } from '../helpers.js';

export interface Parameters { allowedIPs: string[] }

export const serviceExternalIps: PolicyDefinition<Parameters> = {
  id: 'service-external-ips',
  title: 'Services should not use external IPs that are not allowed',
  description: 'spec.externalIPs lets any namespace owner intercept traffic to an arbitrary IP (CVE-2020-8554).',
  severity: 'high',
  remediation: 'Remove spec.externalIPs, or use an address on the allowed list.',
  control: 'Restrict unauthorized network access',
  appliesTo: ['Service'],
  // Opt-in: not in Defender's default set nor Pod Security baseline (issue 20).
  defaults: { effect: 'disabled', parameters: { allowedIPs: [] } },
  onUpdate: 'always',
  sample: { parameters: { allowedIPs: ['203.0.113.10'] } },
  evaluate: ({ object, parameters }) => {
    const ips = Array.isArray(object.spec?.externalIPs) ? (object.spec.externalIPs as unknown[]) : [];
    const out: PolicyViolation[] = [];
    ips.forEach((ip, i) => {
      if (!parameters.allowedIPs.includes(String(ip))) out.push({ message: `service external IP ${q(ip)} is not allowed`, field: `spec.externalIPs[${i}]` });
    });
    return out;
  },
};
