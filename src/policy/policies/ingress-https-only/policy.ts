import type { PolicyDefinition, PolicyViolation } from '../../model.js';
import { q } from '../helpers.js';

export type Parameters = Record<string, never>;

interface IngressRule { host?: unknown }
interface IngressTls { hosts?: unknown }

/** `*.example.com` covers exactly one label below example.com, as TLS certificates do. */
function hostMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const suffix = pattern.slice(1);
  return host.endsWith(suffix) && !host.slice(0, host.length - suffix.length).includes('.');
}

/**
 * Defender's "Kubernetes clusters should be accessible only over HTTPS", as Azure Policy's
 * K8sAzureIngressHttpsOnly checks it: an Ingress must carry a `tls` section, and every host its
 * rules serve must be covered by it, or that host is served over plain HTTP.
 */
export const ingressHttpsOnly: PolicyDefinition<Parameters> = {
  id: 'ingress-https-only',
  title: 'Kubernetes clusters should be accessible only over HTTPS',
  description: 'An Ingress without TLS for a host serves it over plain HTTP: credentials and session cookies cross the network in clear text.',
  severity: 'high',
  remediation: 'Add spec.tls to the Ingress, listing every host of spec.rules with the Secret holding its certificate (cert-manager can issue one).',
  // Defender files it under "Encrypt data in transit", a control the secure score does not model yet.
  control: 'Restrict unauthorized network access',
  appliesTo: ['Ingress'],
  defaults: { effect: 'audit', parameters: {} },
  onUpdate: 'always',
  evaluate: ({ object }) => {
    const spec = (object.spec ?? {}) as { tls?: unknown; rules?: unknown };
    const tls = Array.isArray(spec.tls) ? (spec.tls as IngressTls[]) : [];
    if (tls.length === 0) return [{ message: 'the Ingress has no spec.tls: it is served over plain HTTP', field: 'spec.tls' }];
    // A tls entry without hosts takes the controller's default (wildcard) certificate, which the
    // Ingress API reference says covers every host (gatekeeper-library's allowed example is `tls: [{}]`).
    if (tls.some((t) => !Array.isArray(t?.hosts) || t.hosts.length === 0)) return [];
    const covered = tls.flatMap((t) => (t.hosts as unknown[]).map(String));
    const rules = Array.isArray(spec.rules) ? (spec.rules as IngressRule[]) : [];
    const out: PolicyViolation[] = [];
    rules.forEach((rule, i) => {
      // A rule without a host answers every name: only the default certificate (handled above) covers it.
      const host = typeof rule?.host === 'string' ? rule.host : undefined;
      if (host === undefined || !covered.some((c) => hostMatches(c, host))) {
        out.push({ message: `host ${q(host ?? '*')} is not listed in spec.tls: it is served over plain HTTP`, field: `spec.rules[${i}].host` });
      }
    });
    return out;
  },
};
