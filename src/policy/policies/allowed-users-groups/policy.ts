import { containersOf } from '../../kube/pods.js';
import type { PolicyDefinition, PolicyViolation } from '../../model.js';
import { inRanges, q, type IdRange } from '../helpers.js';

/** PodSecurityPolicy's rules: MustRunAs requires a value in range, MayRunAs checks it if set. */
export interface IdRule { rule: 'MustRunAsNonRoot' | 'MustRunAs' | 'MayRunAs' | 'RunAsAny'; ranges?: IdRange[] }

const RULES: IdRule['rule'][] = ['MustRunAsNonRoot', 'MustRunAs', 'MayRunAs', 'RunAsAny'];

export interface Parameters {
  runAsUser: IdRule;
  runAsGroup: IdRule;
  supplementalGroups: IdRule;
  fsGroup: IdRule;
}

export const allowedUsersGroups: PolicyDefinition<Parameters> = {
  id: 'allowed-users-groups',
  title: 'Containers should run with allowed user and group IDs only',
  description: 'Root (UID 0) inside a container is root on the node after any escape; shared GIDs grant access to other workloads\' files.',
  severity: 'high',
  remediation: 'Set securityContext.runAsNonRoot: true and runAsUser/runAsGroup/fsGroup/supplementalGroups within the allowed ranges.',
  control: 'Manage access and permissions',
  appliesTo: 'pods',
  defaults: {
    effect: 'audit',
    parameters: { runAsUser: { rule: 'MustRunAsNonRoot' }, runAsGroup: { rule: 'RunAsAny' }, supplementalGroups: { rule: 'RunAsAny' }, fsGroup: { rule: 'RunAsAny' } },
  },
  onUpdate: 'new-violations',
  validate: (parameters) => {
    const problems: string[] = [];
    for (const key of ['runAsUser', 'runAsGroup', 'supplementalGroups', 'fsGroup'] as const) {
      const rule = parameters[key];
      const allowed = key === 'runAsUser' ? RULES : RULES.filter((r) => r !== 'MustRunAsNonRoot');
      if (!rule || !allowed.includes(rule.rule)) problems.push(`${key}.rule: one of ${allowed.join(', ')}`);
      else if ((rule.rule === 'MustRunAs' || rule.rule === 'MayRunAs') && !(rule.ranges ?? []).every((r) => Number.isInteger(r?.min) && Number.isInteger(r?.max) && r.min <= r.max)) {
        problems.push(`${key}.ranges: list of { min, max } integers with min <= max`);
      } else if (rule.rule === 'MustRunAs' && !(rule.ranges ?? []).length) problems.push(`${key}.ranges: MustRunAs needs at least one range`);
    }
    return problems;
  },
  sample: {
    parameters: {
      runAsUser: { rule: 'MustRunAsNonRoot' },
      runAsGroup: { rule: 'MustRunAs', ranges: [{ min: 1000, max: 65535 }] },
      fsGroup: { rule: 'MayRunAs', ranges: [{ min: 1000, max: 65535 }] },
      supplementalGroups: { rule: 'MayRunAs', ranges: [{ min: 1000, max: 65535 }] },
    },
  },
  evaluate: ({ pod, parameters }) => {
    if (!pod) return [];
    const out: PolicyViolation[] = [];
    const psc = pod.spec.securityContext ?? {};
    const checkId = (value: number | undefined, rule: IdRule, what: string, who: string, field: string, container?: string): void => {
      const base = container !== undefined ? { container } : {};
      const ranges = rule.ranges ?? [];
      if (rule.rule === 'MustRunAs' && (value === undefined || !inRanges(value, ranges))) {
        out.push({ ...base, message: `${who} must set ${what} within ${ranges.map((r) => `${r.min}-${r.max}`).join(', ')}${value === undefined ? '' : ` (got ${value})`}`, field });
      } else if (rule.rule === 'MayRunAs' && value !== undefined && !inRanges(value, ranges)) {
        out.push({ ...base, message: `${who} ${what} ${value} is outside ${ranges.map((r) => `${r.min}-${r.max}`).join(', ')}`, field });
      }
    };
    for (const c of containersOf(pod)) {
      const sc = c.container.securityContext ?? {};
      const who = `container ${q(c.name)}`;
      const user = sc.runAsUser ?? psc.runAsUser;
      if (parameters.runAsUser.rule === 'MustRunAsNonRoot') {
        const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
        if (user === 0) out.push({ message: `${who} runs as root (runAsUser=0)`, container: c.name, field: `${c.path}.securityContext.runAsUser` });
        else if (nonRoot !== true && user === undefined) out.push({ message: `${who} must set securityContext.runAsNonRoot=true or a non-zero runAsUser`, container: c.name, field: `${c.path}.securityContext.runAsNonRoot` });
      } else {
        checkId(user, parameters.runAsUser, 'runAsUser', who, `${c.path}.securityContext.runAsUser`, c.name);
      }
      checkId(sc.runAsGroup ?? psc.runAsGroup, parameters.runAsGroup, 'runAsGroup', who, `${c.path}.securityContext.runAsGroup`, c.name);
    }
    checkId(psc.fsGroup, parameters.fsGroup, 'fsGroup', 'pod', `${pod.specPath}.securityContext.fsGroup`);
    const groups = Array.isArray(psc.supplementalGroups) ? psc.supplementalGroups : [];
    if (parameters.supplementalGroups.rule === 'MustRunAs' && groups.length === 0) checkId(undefined, parameters.supplementalGroups, 'supplementalGroups', 'pod', `${pod.specPath}.securityContext.supplementalGroups`);
    groups.forEach((g, i) => checkId(g, { ...parameters.supplementalGroups, rule: parameters.supplementalGroups.rule === 'RunAsAny' ? 'RunAsAny' : 'MayRunAs' }, 'supplementalGroups', 'pod', `${pod.specPath}.securityContext.supplementalGroups[${i}]`));
    return out;
  },
};
