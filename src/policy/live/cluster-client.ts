/**
 * Reads what a posture scan needs from a live cluster through @kubernetes/client-node (kubeconfig
 * or in-cluster service account), page by page. Everything it returns is plain list data: the
 * checks in ../cluster-checks.ts and ../posture.ts decide, so tests can replay recorded lists.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { PalisadeError } from '../../core/index.js';
import type { ClusterSnapshot, KubeList } from '../cluster-checks.js';
import type { KubeObject } from '../kube/types.js';

export interface ClusterConnection {
  /** kubeconfig path; default $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  context?: string;
  /** Use the pod's service account (KUBERNETES_SERVICE_HOST and the mounted token). */
  inCluster?: boolean;
}

export interface ClusterInventory {
  snapshot: ClusterSnapshot;
  /** Pods and workloads, each with kind and apiVersion set, for the workload policies. */
  workloads: KubeObject[];
  namespaces: KubeObject[];
}

const PAGE = 500;

/** Loaded on first use: the client is large, and `policy check` or admission never need it. */
const client = () => import('@kubernetes/client-node');

export async function loadKubeConfig(connection: ClusterConnection = {}): Promise<KubeConfig> {
  const { KubeConfig } = await client();
  const kc = new KubeConfig();
  try {
    if (connection.inCluster) kc.loadFromCluster();
    else if (connection.kubeconfig) kc.loadFromFile(connection.kubeconfig);
    else kc.loadFromDefault();
    if (connection.context) kc.setCurrentContext(connection.context);
  } catch (error) {
    throw new PalisadeError('cluster.kubeconfig', `cannot load the Kubernetes configuration: ${(error as Error).message}`, {
      field: 'kubeconfig', hint: 'pass --kubeconfig, set KUBECONFIG, or run inside the cluster',
    });
  }
  if (!kc.getCurrentCluster()) {
    throw new PalisadeError('cluster.kubeconfig', 'the Kubernetes configuration has no current cluster', { field: 'context', hint: 'choose a context with --context' });
  }
  return kc;
}

type Lister = (page: { limit: number; _continue?: string }) => Promise<{ items: unknown[]; metadata?: { _continue?: string } }>;

/** Every page of one list, items tagged with their kind (list responses leave it out). */
async function listAll(list: Lister, kind: string, apiVersion: string): Promise<KubeList> {
  const items: KubeObject[] = [];
  let token: string | undefined;
  do {
    const page = await list({ limit: PAGE, ...(token ? { _continue: token } : {}) });
    for (const item of page.items) items.push({ ...(item as KubeObject), kind, apiVersion });
    token = page.metadata?._continue || undefined;
  } while (token);
  return { kind: `${kind}List`, apiVersion, items };
}

/** Lists workloads, RBAC, nodes and webhook configurations of one cluster. */
export async function fetchClusterInventory(cluster: string, connection: ClusterConnection = {}): Promise<ClusterInventory> {
  const kc = await loadKubeConfig(connection);
  const { AdmissionregistrationV1Api, AppsV1Api, BatchV1Api, CoreV1Api, RbacAuthorizationV1Api } = await client();
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  try {
    const [
      pods, deployments, statefulSets, daemonSets, replicaSets, jobs, cronJobs, services, serviceAccounts, namespaces, nodes,
      clusterRoleBindings, roleBindings, clusterRoles, roles, webhooks,
    ] = await Promise.all([
      listAll((p) => core.listPodForAllNamespaces(p), 'Pod', 'v1'),
      listAll((p) => apps.listDeploymentForAllNamespaces(p), 'Deployment', 'apps/v1'),
      listAll((p) => apps.listStatefulSetForAllNamespaces(p), 'StatefulSet', 'apps/v1'),
      listAll((p) => apps.listDaemonSetForAllNamespaces(p), 'DaemonSet', 'apps/v1'),
      listAll((p) => apps.listReplicaSetForAllNamespaces(p), 'ReplicaSet', 'apps/v1'),
      listAll((p) => batch.listJobForAllNamespaces(p), 'Job', 'batch/v1'),
      listAll((p) => batch.listCronJobForAllNamespaces(p), 'CronJob', 'batch/v1'),
      listAll((p) => core.listServiceForAllNamespaces(p), 'Service', 'v1'),
      listAll((p) => core.listServiceAccountForAllNamespaces(p), 'ServiceAccount', 'v1'),
      listAll((p) => core.listNamespace(p), 'Namespace', 'v1'),
      listAll((p) => core.listNode(p), 'Node', 'v1'),
      listAll((p) => rbac.listClusterRoleBinding(p), 'ClusterRoleBinding', 'rbac.authorization.k8s.io/v1'),
      listAll((p) => rbac.listRoleBindingForAllNamespaces(p), 'RoleBinding', 'rbac.authorization.k8s.io/v1'),
      listAll((p) => rbac.listClusterRole(p), 'ClusterRole', 'rbac.authorization.k8s.io/v1'),
      listAll((p) => rbac.listRoleForAllNamespaces(p), 'Role', 'rbac.authorization.k8s.io/v1'),
      listAll((p) => admission.listValidatingWebhookConfiguration(p), 'ValidatingWebhookConfiguration', 'admissionregistration.k8s.io/v1'),
    ]);
    const workloads = [pods, deployments, statefulSets, daemonSets, replicaSets, jobs, cronJobs, services, serviceAccounts].flatMap((l) => l.items ?? []);
    return {
      snapshot: { cluster, clusterRoleBindings, roleBindings, clusterRoles, roles, deployments, nodes, validatingWebhookConfigurations: webhooks, namespaces },
      workloads,
      namespaces: namespaces.items ?? [],
    };
  } catch (error) {
    const e = error as { code?: number; message?: string };
    throw new PalisadeError('cluster.unreachable', `listing ${cluster} failed: ${e.message ?? String(error)}`, {
      kind: e.code === 401 || e.code === 403 ? 'forbidden' : 'unavailable',
      hint: 'Palisade needs get/list on workloads, RBAC objects, nodes and validatingwebhookconfigurations',
    });
  }
}
