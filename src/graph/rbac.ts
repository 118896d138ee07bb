/**
 * What a service account's bindings let it do that matters to an attacker holding its token:
 * everything (cluster-admin), creating pods (a privileged pod is a node), exec into pods, reading
 * secrets. Evaluated from the roles' rules as the RBAC authorizer would (verbs, API groups and
 * resources, with `*`), over the bindings whose subjects name the account or a group it is in.
 */
import type { StoredNode, SubGraph } from './read.js';

export interface DangerousPermission {
  id: 'cluster-admin' | 'create-pods' | 'pods-exec' | 'secrets';
  /** "can create pods/exec", for the path's edge label. */
  label: string;
  weight: number;
  binding: StoredNode;
  role: string;
  /** The binding names only this account: deleting it affects nobody else. */
  onlySubject: boolean;
  scope: string;
}

interface Rule { verbs?: string[]; apiGroups?: string[]; resources?: string[] }

function allows(rules: Rule[], verbs: string[], group: string, resource: string): boolean {
  return rules.some((r) => (r.verbs ?? []).some((v) => v === '*' || verbs.includes(v))
    && (r.apiGroups ?? []).some((g) => g === '*' || g === group)
    && (r.resources ?? []).some((x) => x === '*' || x === resource));
}

const CHECKS: { id: DangerousPermission['id']; label: string; weight: number; test: (rules: Rule[], roleName: string) => boolean }[] = [
  { id: 'cluster-admin', label: 'is cluster-admin', weight: 30, test: (rules, name) => name === 'cluster-admin' || allows(rules, ['*'], '*', '*') },
  { id: 'create-pods', label: 'can create pods (privileged pods reach the node)', weight: 25, test: (rules) => allows(rules, ['create'], '', 'pods') },
  { id: 'pods-exec', label: 'can create pods/exec', weight: 25, test: (rules) => allows(rules, ['create', 'get'], '', 'pods/exec') },
  { id: 'secrets', label: 'can read secrets', weight: 20, test: (rules) => allows(rules, ['get', 'list', 'watch'], '', 'secrets') },
];

/** Dangerous permissions of one service account, worst first. */
export function dangerousPermissions(graph: SubGraph, cluster: string, namespace: string, name: string): DangerousPermission[] {
  const found: DangerousPermission[] = [];
  for (const binding of graph.nodes.values()) {
    if (binding.kind !== 'rolebinding' && binding.kind !== 'clusterrolebinding') continue;
    const subjects = (binding.attrs.subjects ?? []) as { kind?: string; name?: string; namespace?: string }[];
    const names = (s: { kind?: string; name?: string; namespace?: string }) =>
      (s.kind === 'ServiceAccount' && s.name === name && (s.namespace ?? binding.namespace) === namespace)
      || (s.kind === 'Group' && (s.name === 'system:serviceaccounts' || s.name === `system:serviceaccounts:${namespace}` || s.name === 'system:authenticated'));
    if (!subjects.some(names)) continue;
    const ref = (binding.attrs.roleRef ?? {}) as { kind?: string; name?: string };
    if (!ref.name) continue;
    const roleId = ref.kind === 'Role' && binding.namespace ? `role:${cluster}/${binding.namespace}/${ref.name}` : `clusterrole:${cluster}/${ref.name}`;
    const rules = (graph.nodes.get(roleId)?.attrs.rules ?? []) as Rule[];
    const scope = binding.kind === 'rolebinding' ? `in namespace ${binding.namespace}` : 'in every namespace';
    for (const check of CHECKS) {
      if (!check.test(rules, ref.name)) continue;
      found.push({ id: check.id, label: check.label, weight: check.weight, binding, role: `${ref.kind ?? 'ClusterRole'} ${ref.name}`, onlySubject: subjects.length === 1 && subjects.some(names) && subjects[0]!.kind === 'ServiceAccount', scope });
      break;
    }
  }
  return found.sort((a, b) => b.weight - a.weight);
}
