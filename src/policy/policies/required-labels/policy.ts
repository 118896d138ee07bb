import type { PolicyDefinition, PolicyViolation } from '../../model.js';
import { q } from '../helpers.js';
import { NAMESPACED_KINDS } from '../no-default-namespace/policy.js';

export interface Parameters {
  /** Labels every resource must carry; `allowedRegex` (anchored) constrains the value. */
  labels: { key: string; allowedRegex?: string }[];
}

const regexCache = new Map<string, RegExp>();
const anchored = (source: string): RegExp => {
  let r = regexCache.get(source);
  if (!r) { r = new RegExp(`^(?:${source})$`); regexCache.set(source, r); }
  return r;
};

export const requiredLabels: PolicyDefinition<Parameters> = {
  id: 'required-labels',
  title: 'Resources should carry the required labels',
  description: 'Ownership and classification labels are what incident response, cost and policy scoping rely on.',
  severity: 'low',
  remediation: 'Add the listed labels to metadata.labels with values matching the allowed pattern.',
  control: 'Implement security best practices',
  appliesTo: [...NAMESPACED_KINDS.filter((k) => !['ConfigMap', 'Secret', 'Role', 'RoleBinding'].includes(k)), 'Namespace'],
  // Opt-in: not in Defender's default set nor Pod Security baseline (issue 20).
  defaults: { effect: 'disabled', parameters: { labels: [] } },
  onUpdate: 'always',
  sample: { parameters: { labels: [{ key: 'owner', allowedRegex: '[a-z0-9-]+' }, { key: 'app.kubernetes.io/name' }] } },
  evaluate: ({ object, parameters }) => {
    const labels = object.metadata?.labels ?? {};
    const out: PolicyViolation[] = [];
    for (const { key, allowedRegex } of parameters.labels) {
      const value = labels[key];
      if (value === undefined) out.push({ message: `missing required label ${q(key)}`, field: `metadata.labels[${q(key)}]` });
      else if (allowedRegex && !anchored(allowedRegex).test(String(value))) out.push({ message: `label ${q(key)} value ${q(value)} does not match ${allowedRegex}`, field: `metadata.labels[${q(key)}]` });
    }
    return out;
  },
};
