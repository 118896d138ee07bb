/**
 * Pod Security Standards, every control, versioned the way Kubernetes versions them.
 *
 * Follows the check definitions of kubernetes/pod-security-admission (policy/check_*.go): each
 * check has a level and one or more revisions, each with the first policy version it applies to.
 * Evaluating at version v uses, per check, the newest revision whose minimum version is <= v.
 * A restricted revision may override a baseline check (e.g. restricted capabilities replace the
 * baseline capabilities check from 1.22), as upstream's OverrideCheckIDs does.
 *
 * Unlike upstream, every check reports one violation per offending container or field, so a user
 * sees `container "web" (spec.template.spec.containers[0].securityContext.privileged)` rather than
 * only "privileged".
 */
import { containersOf, type ContainerRef, type PodView } from '../kube/pods.js';
import type { Handler, ProfileRef } from '../kube/types.js';

export type PsaLevel = 'baseline' | 'restricted';

export interface PsaViolation {
  /** Upstream check id, e.g. `allowPrivilegeEscalation`. */
  check: string;
  level: PsaLevel;
  /** Upstream's short forbidden reason, e.g. `host namespaces`. */
  reason: string;
  message: string;
  container?: string;
  field?: string;
}

type Finding = Omit<PsaViolation, 'check' | 'level' | 'reason'>;
type CheckFn = (pod: PodView) => Finding[];

export interface PsaCheckRevision {
  /** Minor version of `1.x`: the first policy version this revision applies to. */
  minimumVersion: number;
  check: CheckFn;
  /** Baseline check ids this restricted revision replaces. */
  overrides?: string[];
}

export interface PsaCheck {
  id: string;
  level: PsaLevel;
  reason: string;
  revisions: PsaCheckRevision[];
}

const q = (s: string): string => JSON.stringify(s);
const isWindowsPod = (pod: PodView): boolean => pod.spec.os?.name === 'windows';
/** KEP-127: pods in their own user namespace (hostUsers: false). */
const inUserNamespace = (pod: PodView): boolean => pod.spec.hostUsers === false;

// --- baseline -------------------------------------------------------------------------------

const windowsHostProcess: CheckFn = (pod) => {
  const out: Finding[] = [];
  if (pod.spec.securityContext?.windowsOptions?.hostProcess === true) {
    out.push({ message: 'pod must not set securityContext.windowsOptions.hostProcess=true', field: `${pod.specPath}.securityContext.windowsOptions.hostProcess` });
  }
  for (const c of containersOf(pod)) {
    if (c.container.securityContext?.windowsOptions?.hostProcess === true) {
      out.push({ message: `container ${q(c.name)} must not set securityContext.windowsOptions.hostProcess=true`, container: c.name, field: `${c.path}.securityContext.windowsOptions.hostProcess` });
    }
  }
  return out;
};

const hostNamespaces: CheckFn = (pod) => {
  const out: Finding[] = [];
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (pod.spec[field] === true) out.push({ message: `pod must not set ${field}=true`, field: `${pod.specPath}.${field}` });
  }
  return out;
};

const NONE: Finding[] = [];

/** One finding per container matching `bad`; allocates only when something is found (hot path). */
function eachContainer(pod: PodView, bad: (c: ContainerRef) => boolean, finding: (c: ContainerRef) => Finding): Finding[] {
  let out: Finding[] | undefined;
  for (const c of containersOf(pod)) if (bad(c)) (out ??= []).push(finding(c));
  return out ?? NONE;
}

const privileged: CheckFn = (pod) => eachContainer(pod,
  (c) => c.container.securityContext?.privileged === true,
  (c) => ({ message: `container ${q(c.name)} must not set securityContext.privileged=true`, container: c.name, field: `${c.path}.securityContext.privileged` }));

const BASELINE_CAPABILITIES = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);

const capabilitiesBaseline: CheckFn = (pod) => {
  const out: Finding[] = [];
  for (const c of containersOf(pod)) {
    const add = c.container.securityContext?.capabilities?.add;
    if (!Array.isArray(add)) continue;
    const bad = add.filter((cap) => !BASELINE_CAPABILITIES.has(String(cap)));
    if (bad.length) {
      out.push({ message: `container ${q(c.name)} must not include ${bad.map(String).map(q).join(', ')} in securityContext.capabilities.add`, container: c.name, field: `${c.path}.securityContext.capabilities.add` });
    }
  }
  return out;
};

const hostPathVolumes: CheckFn = (pod) => {
  const out: Finding[] = [];
  (pod.spec.volumes ?? []).forEach((v, i) => {
    if (v && v.hostPath != null) out.push({ message: `volume ${q(String(v.name ?? i))} must not use hostPath`, field: `${pod.specPath}.volumes[${i}].hostPath` });
  });
  return out;
};

const hostPorts: CheckFn = (pod) => {
  const out: Finding[] = [];
  for (const c of containersOf(pod)) {
    (c.container.ports ?? []).forEach((p, i) => {
      if (p && typeof p.hostPort === 'number' && p.hostPort !== 0) {
        out.push({ message: `container ${q(c.name)} must not set hostPort ${p.hostPort}`, container: c.name, field: `${c.path}.ports[${i}].hostPort` });
      }
    });
  }
  return out;
};

const hostProbesAndHostLifecycle: CheckFn = (pod) => {
  const out: Finding[] = [];
  const handlers = (c: ReturnType<typeof containersOf>[number]): [string, Handler | undefined][] => [
    ['livenessProbe', c.container.livenessProbe],
    ['readinessProbe', c.container.readinessProbe],
    ['startupProbe', c.container.startupProbe],
    ['lifecycle.postStart', c.container.lifecycle?.postStart],
    ['lifecycle.preStop', c.container.lifecycle?.preStop],
  ];
  for (const c of containersOf(pod)) {
    for (const [where, handler] of handlers(c)) {
      if (!handler) continue;
      for (const kind of ['httpGet', 'tcpSocket'] as const) {
        const host = handler[kind]?.host;
        if (typeof host === 'string' && host !== '') {
          out.push({ message: `container ${q(c.name)} must not set ${where}.${kind}.host (${q(host)})`, container: c.name, field: `${c.path}.${where}.${kind}.host` });
        }
      }
    }
  }
  return out;
};

const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';
const allowedAppArmorType = (p: ProfileRef | undefined): boolean => p == null || p.type === 'RuntimeDefault' || p.type === 'Localhost';
const allowedAppArmorAnnotation = (v: string): boolean => v === '' || v === 'runtime/default' || v.startsWith('localhost/');

const appArmorProfile: CheckFn = (pod) => {
  const out: Finding[] = [];
  const podProfile = pod.spec.securityContext?.appArmorProfile;
  if (!allowedAppArmorType(podProfile)) {
    out.push({ message: `pod must not set securityContext.appArmorProfile.type to ${q(String(podProfile?.type))}`, field: `${pod.specPath}.securityContext.appArmorProfile.type` });
  }
  for (const c of containersOf(pod)) {
    const p = c.container.securityContext?.appArmorProfile;
    if (!allowedAppArmorType(p)) {
      out.push({ message: `container ${q(c.name)} must not set securityContext.appArmorProfile.type to ${q(String(p?.type))}`, container: c.name, field: `${c.path}.securityContext.appArmorProfile.type` });
    }
  }
  for (const [key, value] of Object.entries(pod.metadata.annotations ?? {})) {
    if (key.startsWith(APPARMOR_ANNOTATION) && !allowedAppArmorAnnotation(String(value))) {
      const container = key.slice(APPARMOR_ANNOTATION.length);
      out.push({ message: `annotation ${key}=${q(String(value))} sets a forbidden AppArmor profile for container ${q(container)}`, container, field: `${pod.metadataPath}.annotations[${q(key)}]` });
    }
  }
  return out;
};

const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t']);

const seLinuxOptions: CheckFn = (pod) => {
  const out: Finding[] = [];
  const inspect = (opts: unknown, who: string, path: string, container?: string): void => {
    if (!opts || typeof opts !== 'object') return;
    const o = opts as { type?: unknown; user?: unknown; role?: unknown };
    const base = container ? { container } : {};
    if (o.type != null && !SELINUX_TYPES.has(String(o.type))) out.push({ ...base, message: `${who} must not set securityContext.seLinuxOptions.type to ${q(String(o.type))}`, field: `${path}.type` });
    if (typeof o.user === 'string' && o.user !== '') out.push({ ...base, message: `${who} must not set securityContext.seLinuxOptions.user`, field: `${path}.user` });
    if (typeof o.role === 'string' && o.role !== '') out.push({ ...base, message: `${who} must not set securityContext.seLinuxOptions.role`, field: `${path}.role` });
  };
  inspect(pod.spec.securityContext?.seLinuxOptions, 'pod', `${pod.specPath}.securityContext.seLinuxOptions`);
  for (const c of containersOf(pod)) inspect(c.container.securityContext?.seLinuxOptions, `container ${q(c.name)}`, `${c.path}.securityContext.seLinuxOptions`, c.name);
  return out;
};

const procMountStrict: CheckFn = (pod) => eachContainer(pod,
  (c) => c.container.securityContext?.procMount != null && c.container.securityContext.procMount !== 'Default',
  (c) => ({ message: `container ${q(c.name)} must not set securityContext.procMount to ${q(String(c.container.securityContext?.procMount))}`, container: c.name, field: `${c.path}.securityContext.procMount` }));

/** 1.35+: an unmasked /proc is harmless inside a user namespace, so baseline allows it there. */
const procMountUserNamespaceAware: CheckFn = (pod) => (inUserNamespace(pod) ? [] : procMountStrict(pod));

const SECCOMP_POD_ANNOTATION = 'seccomp.security.alpha.kubernetes.io/pod';
const SECCOMP_CONTAINER_ANNOTATION = 'container.seccomp.security.alpha.kubernetes.io/';

/** Before 1.19 seccomp was set by annotations. */
const seccompBaselineAnnotations: CheckFn = (pod) => {
  const out: Finding[] = [];
  for (const [key, value] of Object.entries(pod.metadata.annotations ?? {})) {
    if (value !== 'unconfined') continue;
    if (key === SECCOMP_POD_ANNOTATION) out.push({ message: `annotation ${key}="unconfined" disables seccomp for the pod`, field: `${pod.metadataPath}.annotations[${q(key)}]` });
    else if (key.startsWith(SECCOMP_CONTAINER_ANNOTATION)) {
      const container = key.slice(SECCOMP_CONTAINER_ANNOTATION.length);
      out.push({ message: `annotation ${key}="unconfined" disables seccomp for container ${q(container)}`, container, field: `${pod.metadataPath}.annotations[${q(key)}]` });
    }
  }
  return out;
};

const seccompBaselineFields: CheckFn = (pod) => {
  const out: Finding[] = [];
  if (pod.spec.securityContext?.seccompProfile?.type === 'Unconfined') {
    out.push({ message: 'pod must not set securityContext.seccompProfile.type to "Unconfined"', field: `${pod.specPath}.securityContext.seccompProfile.type` });
  }
  for (const c of containersOf(pod)) {
    if (c.container.securityContext?.seccompProfile?.type === 'Unconfined') {
      out.push({ message: `container ${q(c.name)} must not set securityContext.seccompProfile.type to "Unconfined"`, container: c.name, field: `${c.path}.securityContext.seccompProfile.type` });
    }
  }
  return out;
};

/** Safe (namespaced, isolated) sysctls, by the policy version that first allowed them. */
const SYSCTLS_BY_VERSION: [number, string[]][] = [
  [0, ['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_unprivileged_port_start']],
  [27, ['net.ipv4.ip_local_reserved_ports']],
  [29, ['net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes']],
  [32, ['net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem']],
  [37, ['net.ipv4.tcp_slow_start_after_idle', 'net.ipv4.tcp_notsent_lowat']],
];

function sysctlsUpTo(minor: number): CheckFn {
  const allowed = new Set(SYSCTLS_BY_VERSION.filter(([v]) => v <= minor).flatMap(([, names]) => names));
  return (pod) => {
    const out: Finding[] = [];
    (pod.spec.securityContext?.sysctls ?? []).forEach((s, i) => {
      const name = String(s?.name ?? '');
      if (!allowed.has(name)) out.push({ message: `pod must not set sysctl ${q(name)}`, field: `${pod.specPath}.securityContext.sysctls[${i}].name` });
    });
    return out;
  };
}

// --- restricted -----------------------------------------------------------------------------

const ALLOWED_VOLUME_SOURCES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

const restrictedVolumes: CheckFn = (pod) => {
  const out: Finding[] = [];
  (pod.spec.volumes ?? []).forEach((v, i) => {
    if (!v || typeof v !== 'object') return;
    for (const [source, value] of Object.entries(v)) {
      if (source === 'name' || value == null || ALLOWED_VOLUME_SOURCES.has(source)) continue;
      out.push({ message: `volume ${q(String(v.name ?? i))} must not use volume type ${q(source)}`, field: `${pod.specPath}.volumes[${i}].${source}` });
    }
  });
  return out;
};

const allowPrivilegeEscalation: CheckFn = (pod) => eachContainer(pod,
  (c) => c.container.securityContext?.allowPrivilegeEscalation !== false,
  (c) => ({ message: `container ${q(c.name)} must set securityContext.allowPrivilegeEscalation=false`, container: c.name, field: `${c.path}.securityContext.allowPrivilegeEscalation` }));

/** 1.25+: Windows pods are exempt from Linux-only restricted controls. */
const exceptWindows = (fn: CheckFn): CheckFn => (pod) => (isWindowsPod(pod) ? [] : fn(pod));

const runAsNonRoot: CheckFn = (pod) => {
  const out: Finding[] = [];
  const podValue = pod.spec.securityContext?.runAsNonRoot;
  if (podValue === false) out.push({ message: 'pod must not set securityContext.runAsNonRoot=false', field: `${pod.specPath}.securityContext.runAsNonRoot` });
  for (const c of containersOf(pod)) {
    const value = c.container.securityContext?.runAsNonRoot;
    if (value === false) out.push({ message: `container ${q(c.name)} must not set securityContext.runAsNonRoot=false`, container: c.name, field: `${c.path}.securityContext.runAsNonRoot` });
    else if (value == null && podValue !== true) out.push({ message: `pod or container ${q(c.name)} must set securityContext.runAsNonRoot=true`, container: c.name, field: `${c.path}.securityContext.runAsNonRoot` });
  }
  return out;
};

const runAsUser: CheckFn = (pod) => {
  const out: Finding[] = [];
  if (pod.spec.securityContext?.runAsUser === 0) out.push({ message: 'pod must not set securityContext.runAsUser=0', field: `${pod.specPath}.securityContext.runAsUser` });
  for (const c of containersOf(pod)) {
    if (c.container.securityContext?.runAsUser === 0) out.push({ message: `container ${q(c.name)} must not set securityContext.runAsUser=0`, container: c.name, field: `${c.path}.securityContext.runAsUser` });
  }
  return out;
};

const validSeccomp = (type: string | undefined): boolean => type === 'RuntimeDefault' || type === 'Localhost';

const seccompRestricted: CheckFn = (pod) => {
  const out: Finding[] = [];
  const podType = pod.spec.securityContext?.seccompProfile?.type;
  const podSet = podType != null;
  if (podSet && !validSeccomp(podType)) {
    out.push({ message: `pod must not set securityContext.seccompProfile.type to ${q(String(podType))}`, field: `${pod.specPath}.securityContext.seccompProfile.type` });
  }
  for (const c of containersOf(pod)) {
    const type = c.container.securityContext?.seccompProfile?.type;
    const field = `${c.path}.securityContext.seccompProfile.type`;
    if (type != null) {
      if (!validSeccomp(type)) out.push({ message: `container ${q(c.name)} must not set securityContext.seccompProfile.type to ${q(String(type))}`, container: c.name, field });
    } else if (!podSet) {
      out.push({ message: `pod or container ${q(c.name)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`, container: c.name, field });
    }
  }
  return out;
};

const capabilitiesRestricted: CheckFn = (pod) => {
  const out: Finding[] = [];
  for (const c of containersOf(pod)) {
    const caps = c.container.securityContext?.capabilities;
    const drop = Array.isArray(caps?.drop) ? caps.drop.map(String) : [];
    if (!drop.includes('ALL')) {
      out.push({ message: `container ${q(c.name)} must set securityContext.capabilities.drop=["ALL"]`, container: c.name, field: `${c.path}.securityContext.capabilities.drop` });
    }
    const add = Array.isArray(caps?.add) ? caps.add.map(String) : [];
    const bad = add.filter((cap) => cap !== 'NET_BIND_SERVICE');
    if (bad.length) {
      out.push({ message: `container ${q(c.name)} must not include ${bad.map(q).join(', ')} in securityContext.capabilities.add (only "NET_BIND_SERVICE" is allowed)`, container: c.name, field: `${c.path}.securityContext.capabilities.add` });
    }
  }
  return out;
};

// --- the registry ---------------------------------------------------------------------------

export const PSA_CHECKS: PsaCheck[] = [
  { id: 'windowsHostProcess', level: 'baseline', reason: 'hostProcess', revisions: [{ minimumVersion: 0, check: windowsHostProcess }] },
  { id: 'hostNamespaces', level: 'baseline', reason: 'host namespaces', revisions: [{ minimumVersion: 0, check: hostNamespaces }] },
  { id: 'privileged', level: 'baseline', reason: 'privileged', revisions: [{ minimumVersion: 0, check: privileged }] },
  { id: 'capabilities_baseline', level: 'baseline', reason: 'non-default capabilities', revisions: [{ minimumVersion: 0, check: capabilitiesBaseline }] },
  { id: 'hostPathVolumes', level: 'baseline', reason: 'hostPath volumes', revisions: [{ minimumVersion: 0, check: hostPathVolumes }] },
  { id: 'hostPorts', level: 'baseline', reason: 'hostPort', revisions: [{ minimumVersion: 0, check: hostPorts }] },
  { id: 'hostProbesAndHostLifecycle', level: 'baseline', reason: 'probe or lifecycle host', revisions: [{ minimumVersion: 34, check: hostProbesAndHostLifecycle }] },
  { id: 'appArmorProfile', level: 'baseline', reason: 'forbidden AppArmor profile', revisions: [{ minimumVersion: 0, check: appArmorProfile }] },
  { id: 'seLinuxOptions', level: 'baseline', reason: 'seLinuxOptions', revisions: [{ minimumVersion: 0, check: seLinuxOptions }] },
  {
    id: 'procMount', level: 'baseline', reason: 'procMount',
    revisions: [{ minimumVersion: 0, check: procMountStrict }, { minimumVersion: 35, check: procMountUserNamespaceAware }],
  },
  {
    id: 'seccompProfile_baseline', level: 'baseline', reason: 'seccompProfile',
    revisions: [{ minimumVersion: 0, check: seccompBaselineAnnotations }, { minimumVersion: 19, check: seccompBaselineFields }],
  },
  {
    id: 'sysctls', level: 'baseline', reason: 'forbidden sysctls',
    revisions: SYSCTLS_BY_VERSION.map(([v]) => ({ minimumVersion: v, check: sysctlsUpTo(v) })),
  },
  { id: 'restrictedVolumes', level: 'restricted', reason: 'restricted volume types', revisions: [{ minimumVersion: 0, check: restrictedVolumes }] },
  {
    id: 'allowPrivilegeEscalation', level: 'restricted', reason: 'allowPrivilegeEscalation != false',
    revisions: [{ minimumVersion: 8, check: allowPrivilegeEscalation }, { minimumVersion: 25, check: exceptWindows(allowPrivilegeEscalation) }],
  },
  { id: 'runAsNonRoot', level: 'restricted', reason: 'runAsNonRoot != true', revisions: [{ minimumVersion: 0, check: runAsNonRoot }] },
  { id: 'runAsUser', level: 'restricted', reason: 'runAsUser=0', revisions: [{ minimumVersion: 23, check: runAsUser }] },
  {
    id: 'seccompProfile_restricted', level: 'restricted', reason: 'seccompProfile',
    revisions: [
      { minimumVersion: 19, check: seccompRestricted, overrides: ['seccompProfile_baseline'] },
      { minimumVersion: 25, check: exceptWindows(seccompRestricted), overrides: ['seccompProfile_baseline'] },
    ],
  },
  {
    id: 'capabilities_restricted', level: 'restricted', reason: 'unrestricted capabilities',
    revisions: [
      { minimumVersion: 22, check: capabilitiesRestricted, overrides: ['capabilities_baseline'] },
      { minimumVersion: 25, check: exceptWindows(capabilitiesRestricted), overrides: ['capabilities_baseline'] },
    ],
  },
  { id: 'procMount_restricted', level: 'restricted', reason: 'procMount', revisions: [{ minimumVersion: 35, check: procMountStrict, overrides: ['procMount'] }] },
];
