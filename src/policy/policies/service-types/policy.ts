import type { PolicyDefinition } from '../../model.js';
import { q } from '../helpers.js';

export interface Parameters { allowedTypes: string[] }

export const serviceTypes: PolicyDefinition<Parameters> = {
  id: 'service-types',
  title: 'Services should not be exposed through LoadBalancer or NodePort unless allowed',
  description: 'LoadBalancer and NodePort services expose workloads outside the cluster network, often to the internet.',
  severity: 'medium',
  remediation: 'Use type ClusterIP behind an ingress controller, or an internal load balancer annotation approved for the namespace.',
  control: 'Restrict unauthorized network access',
  appliesTo: ['Service'],
  // Opt-in: not in Defender's default set nor Pod Security baseline (issue 20).
  defaults: { effect: 'disabled', parameters: { allowedTypes: ['ClusterIP', 'ExternalName'] } },
  onUpdate: 'always',
  evaluate: ({ object, parameters }) => {
    const type = String(object.spec?.type ?? 'ClusterIP');
    return parameters.allowedTypes.includes(type) ? [] : [{ message: `service type ${q(type)} is not allowed (allowed: ${parameters.allowedTypes.join(', ')})`, field: 'spec.type' }];
  },
};
