/**
 * Cluster checks: pure functions over Kubernetes API list responses (`GET /apis/.../clusterrolebindings`
 * and friends, exactly as the API server returns them). The live client and the schedule only fetch
 * the lists; everything decided here is testable from recorded responses.
 */
import type { ResourceRef, Severity } from '../core/index.js';
import type { KubeObject } from './kube/types.js';
import { DEFAULT_EXCLUDED_NAMESPACES } from './model.js';
import { resourceRef, type PolicyRecommendation } from './posture.js';

export interface KubeList {
  apiVersion?: string;
  kind?: string;
  items?: KubeObject[];
}

/** The lists a posture scan fetches from one cluster; absent lists skip their checks. */
export interface ClusterSnapshot {
  cluster: string;
  clusterRoleBindings?: KubeList;
  roleBindings?: KubeList;
  clusterRoles?: KubeList;
  roles?: KubeList;
  deployments?: KubeList;
  nodes?: KubeList;
  validatingWebhookConfigurations?: KubeList;
  namespaces?: KubeList;
  /** When Palisade last received an audit event from this cluster (from the audit capability). */
  lastAuditEventAt?: Date;
}

export interface ClusterCheckOptions {
  /** Oldest supported kubelet minor (Kubernetes supports the newest three). */
  minimumKubeletMinor?: number;
  /** Oldest supported kernel (`major.minor`). */
  minimumKernel?: string;
  now?: Date;
  /** Audit logging counts as connected if an event arrived within this many hours. */
  auditSilenceHours?: number;
}

interface Subject { kind?: string; name?: string; namespace?: string; apiGroup?: string }
interface Binding extends KubeObject { subjects?: Subject[]; roleRef?: { kind?: string; name?: string } }
interface Rule { verbs?: string[]; resources?: string[]; apiGroups?: string[]; nonResourceURLs?: string[] }

interface CheckDefinition {
  policy: string;
  title: string;
  severity: Severity;
  remediation: string;
  control: string;
}

const items = (list: KubeList | undefined): KubeObject[] => (Array.isArray(list?.items) ? list.items : []);

/** Objects the API server creates and reconciles itself (`kubernetes.io/bootstrapping: rbac-defaults`). */
const isRbacDefault = (o: KubeObject): boolean => o.metadata?.labels?.['kubernetes.io/bootstrapping'] === 'rbac-defaults';

function recommendation(def: CheckDefinition): PolicyRecommendation {
  return { ...def, healthy: [], unhealthy: [], notApplicable: [], reasons: {} };
}

function mark(rec: PolicyRecommendation, ref: ResourceRef, reasons: string[]): void {
  if (reasons.length) { rec.unhealthy.push(ref); rec.reasons![ref.id] = reasons; } else rec.healthy.push(ref);
}

/** The bindings that both ClusterRoleBindings and RoleBindings lists hold, with their list kind restored. */
function bindings(snapshot: ClusterSnapshot): Binding[] {
  return [
    ...items(snapshot.clusterRoleBindings).map((o) => ({ kind: 'ClusterRoleBinding', ...o }) as Binding),
    ...items(snapshot.roleBindings).map((o) => ({ kind: 'RoleBinding', ...o }) as Binding),
  ];
}

export function clusterAdminBindings(snapshot: ClusterSnapshot): PolicyRecommendation | undefined {
  if (!snapshot.clusterRoleBindings && !snapshot.roleBindings) return undefined;
  const rec = recommendation({
    policy: 'cluster-admin-bindings',
    title: 'Role binding to cluster-admin should be restricted for service accounts and groups',
    severity: 'high',
    remediation: 'Bind service accounts and groups to a role with only the verbs and resources they use; keep cluster-admin for break-glass users.',
    control: 'Manage access and permissions',
  });
  for (const b of bindings(snapshot)) {
    const ref = resourceRef(b, snapshot.cluster);
    if (isRbacDefault(b)) { rec.notApplicable.push(ref); continue; }
    const reasons = b.roleRef?.kind === 'ClusterRole' && b.roleRef.name === 'cluster-admin'
      ? (b.subjects ?? []).filter((s) => s.kind === 'ServiceAccount' || s.kind === 'Group')
        .map((s) => `${b.kind} ${b.metadata?.name} grants cluster-admin to ${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name}`)
      : [];
    mark(rec, ref, reasons);
  }
  return rec;
}

const ANONYMOUS = new Set(['User:system:anonymous', 'Group:system:unauthenticated']);

export function anonymousBindings(snapshot: ClusterSnapshot): PolicyRecommendation | undefined {
  if (!snapshot.clusterRoleBindings && !snapshot.roleBindings) return undefined;
  const rec = recommendation({
    policy: 'anonymous-bindings',
    title: 'Anonymous and unauthenticated users should not be granted roles',
    severity: 'high',
    remediation: 'Remove system:anonymous and system:unauthenticated from the binding\'s subjects.',
    control: 'Manage access and permissions',
  });
  for (const b of bindings(snapshot)) {
    const ref = resourceRef(b, snapshot.cluster);
    // The defaults (system:public-info-viewer: /healthz, /version) are by design.
    if (isRbacDefault(b)) { rec.notApplicable.push(ref); continue; }
    const reasons = (b.subjects ?? []).filter((s) => ANONYMOUS.has(`${s.kind}:${s.name}`))
      .map((s) => `${b.kind} ${b.metadata?.name} grants ${b.roleRef?.kind} ${b.roleRef?.name} to ${s.name}`);
    mark(rec, ref, reasons);
  }
  return rec;
}

export function wildcardRoles(snapshot: ClusterSnapshot): PolicyRecommendation | undefined {
  if (!snapshot.clusterRoles && !snapshot.roles) return undefined;
  const rec = recommendation({
    policy: 'wildcard-roles',
    title: 'Roles should not grant wildcard verbs on wildcard resources',
    severity: 'medium',
    remediation: 'List the verbs and resources the role needs instead of "*"; wildcards also grant every resource added later.',
    control: 'Manage access and permissions',
  });
  const roles = [
    ...items(snapshot.clusterRoles).map((o): KubeObject => ({ kind: 'ClusterRole', ...o })),
    ...items(snapshot.roles).map((o): KubeObject => ({ kind: 'Role', ...o })),
  ];
  for (const role of roles) {
    const ref = resourceRef(role, snapshot.cluster);
    if (isRbacDefault(role)) { rec.notApplicable.push(ref); continue; }
    const rules = (Array.isArray(role.rules) ? role.rules : []) as Rule[];
    const reasons = rules
      .filter((r) => (r.verbs ?? []).includes('*') && ((r.resources ?? []).includes('*') || (r.nonResourceURLs ?? []).includes('*')))
      .map((r) => `${role.kind} ${role.metadata?.name} grants verbs * on ${(r.resources ?? r.nonResourceURLs ?? []).join(',')} in API groups ${(r.apiGroups ?? []).map((g) => g || 'core').join(',') || '-'}`);
    mark(rec, ref, reasons);
  }
  return rec;
}

const DASHBOARD_IMAGE = /(^|\/)(kubernetesui\/dashboard|kubernetes-dashboard(-amd64)?)(:|@|$)|kubernetesui\/dashboard-(api|web|auth)/;

export function dashboardDeployed(snapshot: ClusterSnapshot): PolicyRecommendation | undefined {
  if (!snapshot.deployments) return undefined;
  const rec = recommendation({
    policy: 'kubernetes-dashboard',
    title: 'The Kubernetes dashboard should not be deployed',
    severity: 'high',
    remediation: 'Remove the dashboard (it has been the entry point of public cluster takeovers); use kubectl or a read-only UI behind SSO.',
    control: 'Restrict unauthorized network access',
  });
  for (const d of items(snapshot.deployments)) {
    const ref = resourceRef({ kind: 'Deployment', ...d }, snapshot.cluster);
    const containers = ((d.spec?.template as { spec?: { containers?: { image?: string }[] } } | undefined)?.spec?.containers ?? []);
    const images = containers.map((c) => String(c.image ?? '')).filter((i) => DASHBOARD_IMAGE.test(i));
    mark(rec, ref, images.map((i) => `Deployment ${d.metadata?.namespace}/${d.metadata?.name} runs the Kubernetes dashboard (${i})`));
  }
  return rec;
}

function minorOf(version: string): number | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  return m ? Number(m[2]) + Number(m[1]) * 1000 - 1000 : undefined;
}

function compareKernel(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => parseInt(x, 10));
  const pb = b.split(/[.-]/).map((x) => parseInt(x, 10));
  for (let i = 0; i < 2; i++) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d) return d;
  }
  return 0;
}

export function unsupportedNodes(snapshot: ClusterSnapshot, options: ClusterCheckOptions = {}): PolicyRecommendation | undefined {
  if (!snapshot.nodes) return undefined;
  const minimumMinor = options.minimumKubeletMinor ?? 35;
  const minimumKernel = options.minimumKernel ?? '5.4';
  const rec = recommendation({
    policy: 'unsupported-node-versions',
    title: 'Nodes should run a supported kubelet and kernel version',
    severity: 'medium',
    remediation: `Upgrade node pools to kubelet 1.${minimumMinor} or newer and a kernel ${minimumKernel} or newer; unsupported versions receive no security fixes.`,
    control: 'Apply system updates',
  });
  for (const n of items(snapshot.nodes)) {
    const ref = resourceRef({ kind: 'Node', ...n }, snapshot.cluster);
    const info = (n.status as { nodeInfo?: { kubeletVersion?: string; kernelVersion?: string } } | undefined)?.nodeInfo ?? {};
    const reasons: string[] = [];
    const minor = info.kubeletVersion ? minorOf(info.kubeletVersion) : undefined;
    if (minor !== undefined && minor < minimumMinor) reasons.push(`node ${n.metadata?.name} runs kubelet ${info.kubeletVersion}, older than 1.${minimumMinor}`);
    if (info.kernelVersion && compareKernel(info.kernelVersion, minimumKernel) < 0) reasons.push(`node ${n.metadata?.name} runs kernel ${info.kernelVersion}, older than ${minimumKernel}`);
    mark(rec, ref, reasons);
  }
  return rec;
}

export function auditLoggingConnected(snapshot: ClusterSnapshot, options: ClusterCheckOptions = {}): PolicyRecommendation | undefined {
  if (!options.now) return undefined;
  const rec = recommendation({
    policy: 'audit-logging-connected',
    title: 'Kubernetes audit logs should be sent to Palisade',
    severity: 'medium',
    remediation: 'Point the API server\'s audit webhook (or the managed cluster\'s diagnostic export) at POST /ingest/audit with the cluster\'s token.',
    control: 'Enable auditing and logging',
  });
  const ref: ResourceRef = { kind: 'cluster', id: snapshot.cluster, name: snapshot.cluster, cluster: snapshot.cluster };
  const silenceMs = (options.auditSilenceHours ?? 24) * 3600_000;
  const last = snapshot.lastAuditEventAt;
  mark(rec, ref, !last ? ['no audit event has ever been received from this cluster']
    : options.now.getTime() - last.getTime() > silenceMs ? [`no audit event since ${last.toISOString()}`] : []);
  return rec;
}

export function admissionWebhookConnected(snapshot: ClusterSnapshot): PolicyRecommendation | undefined {
  if (!snapshot.validatingWebhookConfigurations) return undefined;
  const rec = recommendation({
    policy: 'admission-webhook-connected',
    title: 'Palisade admission control should be installed',
    severity: 'low',
    remediation: 'Apply the output of `palisade cluster connect` to the cluster.',
    control: 'Remediate security configurations',
  });
  const ref: ResourceRef = { kind: 'cluster', id: snapshot.cluster, name: snapshot.cluster, cluster: snapshot.cluster };
  const found = items(snapshot.validatingWebhookConfigurations).some((c) =>
    c.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'palisade'
    || ((c.webhooks as { name?: string }[] | undefined) ?? []).some((w) => String(w.name ?? '').endsWith('.palisade.io')));
  mark(rec, ref, found ? [] : ['no ValidatingWebhookConfiguration points at Palisade']);
  return rec;
}

const PSA_ENFORCE = 'pod-security.kubernetes.io/enforce';

/** Kubernetes' own Pod Security admission enforces per namespace label; without it a namespace admits privileged pods. */
export function namespacePodSecurity(snapshot: ClusterSnapshot, options: ClusterCheckOptions & { excludedNamespaces?: string[] } = {}): PolicyRecommendation | undefined {
  if (!snapshot.namespaces) return undefined;
  const excluded = new Set(options.excludedNamespaces ?? DEFAULT_EXCLUDED_NAMESPACES);
  const rec = recommendation({
    policy: 'namespace-pod-security',
    title: 'Namespaces should enforce a Pod Security Standards level',
    severity: 'medium',
    remediation: `Label the namespace ${PSA_ENFORCE}=baseline (or restricted) so the API server itself rejects privileged pods, even when Palisade's webhook is unreachable.`,
    control: 'Remediate security configurations',
  });
  for (const n of items(snapshot.namespaces)) {
    const ref = resourceRef({ kind: 'Namespace', ...n }, snapshot.cluster);
    const name = String(n.metadata?.name ?? '');
    if (excluded.has(name) || name === 'kube-public' || name === 'kube-node-lease') { rec.notApplicable.push(ref); continue; }
    const level = n.metadata?.labels?.[PSA_ENFORCE];
    mark(rec, ref, level === 'baseline' || level === 'restricted' ? []
      : [level ? `namespace ${name} enforces the ${level} level` : `namespace ${name} has no ${PSA_ENFORCE} label`]);
  }
  return rec;
}

/** Every cluster check whose inputs the snapshot has. */
export function runClusterChecks(snapshot: ClusterSnapshot, options: ClusterCheckOptions = {}): PolicyRecommendation[] {
  return [
    clusterAdminBindings(snapshot), anonymousBindings(snapshot), wildcardRoles(snapshot), dashboardDeployed(snapshot),
    unsupportedNodes(snapshot, options), auditLoggingConnected(snapshot, options), admissionWebhookConnected(snapshot),
    namespacePodSecurity(snapshot, options),
  ].filter((r): r is PolicyRecommendation => r !== undefined);
}
