import { containersOf } from '../../kube/pods.js';
import type { PolicyDefinition, PolicyViolation } from '../../model.js';
import { q } from '../helpers.js';

export interface Parameters {
  /** hostPath prefixes that may be mounted; `readOnly` requires every mount of it to be read-only. Empty: no hostPath at all. */
  allowedHostPaths: { pathPrefix: string; readOnly?: boolean }[];
}

/** `/var/log` allows `/var/log` and `/var/log/x`, not `/var/logs` (path-segment prefix, as PSP did). */
function underPrefix(path: string, prefix: string): boolean {
  const p = prefix.replace(/\/+$/, '');
  return p === '' ? path.startsWith('/') : path === p || path.startsWith(`${p}/`);
}

export const allowedHostPaths: PolicyDefinition<Parameters> = {
  id: 'allowed-host-paths',
  title: 'Usage of pod HostPath volume mounts should be restricted to a known list',
  description: 'A hostPath mount exposes the node filesystem: container runtime sockets, kubelet credentials, /etc.',
  severity: 'high',
  remediation: 'Use a volume type other than hostPath, or mount only an allowed path, read-only where required.',
  control: 'Manage access and permissions',
  appliesTo: 'pods',
  defaults: { effect: 'audit', parameters: { allowedHostPaths: [] } },
  onUpdate: 'always',
  sample: { parameters: { allowedHostPaths: [{ pathPrefix: '/var/log', readOnly: true }] } },
  evaluate: ({ pod, parameters }) => {
    if (!pod) return [];
    const out: PolicyViolation[] = [];
    (pod.spec.volumes ?? []).forEach((v, i) => {
      const path = v?.hostPath?.path;
      if (v?.hostPath == null) return;
      const rule = parameters.allowedHostPaths.find((r) => typeof path === 'string' && underPrefix(path, r.pathPrefix));
      if (!rule) {
        out.push({ message: `volume ${q(v.name ?? i)} mounts host path ${q(path)}, which is not allowed`, field: `${pod.specPath}.volumes[${i}].hostPath.path` });
        return;
      }
      if (!rule.readOnly) return;
      for (const c of containersOf(pod)) {
        const mounts = (c.container as { volumeMounts?: { name?: string; readOnly?: boolean }[] }).volumeMounts ?? [];
        mounts.forEach((m, j) => {
          if (m?.name === v.name && m.readOnly !== true) {
            out.push({ message: `container ${q(c.name)} must mount host path ${q(path)} read-only`, container: c.name, field: `${c.path}.volumeMounts[${j}].readOnly` });
          }
        });
      }
    });
    return out;
  },
};
