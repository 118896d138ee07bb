/**
 * The scheduled posture scan of live clusters: on `postureSchedule`, one job per configured
 * cluster lists it through the Kubernetes API, evaluates the workload policies and cluster checks,
 * replaces the cluster's recommendations and recomputes the secure score (kept daily). The node
 * list also feeds the inventory and the core-hour meter, so clusters without agents are billed too,
 * and the Pods' container statuses give the images in use, matched against registry scans.
 */
import { lastAuditEventAt } from '../../audit/index.js';
import { isPlanEnabled, recordListedNodes, refreshSecureScore, saveRecommendations } from '../../center/index.js';
import type { Clock, ClusterSource } from '../../core/index.js';
import { recordClusterInventory } from '../../graph/index.js';
import type { JobDefinition, JobQueue } from '../../jobs/index.js';
import { runningImagesRecommendation } from '../../registry/index.js';
import { replaceRunningImages, type ListedNode, type RunningImage, type Store } from '../../store/index.js';
import { parseQuantity } from '../kube/quantity.js';
import type { KubeObject } from '../kube/types.js';
import type { PolicySet } from '../engine.js';
import type { PolicyRecommendation } from '../posture.js';
import { fetchClusterInventory, type ClusterConnection, type ClusterInventory } from './cluster-client.js';
import { assessCluster } from './posture-scan.js';

export const POSTURE_QUEUE = 'cluster-posture';
export const POSTURE_ALL_QUEUE = 'cluster-posture-all';

export interface PostureRequest {
  cluster: string;
}

export interface PostureContext {
  store: Store;
  clock: Clock;
  jobs: () => JobQueue | undefined;
  clusters: readonly ClusterSource[];
  /** Read when a scan runs, so a policy file change is picked up without a restart. */
  policies: () => PolicySet;
  /** Replaced in tests that have no API server; defaults to the Kubernetes client. */
  fetchInventory?: (cluster: string, connection: ClusterConnection) => Promise<ClusterInventory>;
}

export type PostureOutcome =
  | { cluster: string; status: 'assessed'; recommendations: number; unhealthy: number; nodes: number }
  | { cluster: string; status: 'skipped'; reason: string };

/** A node's CPU capacity in cores (`4`, `3500m`); undefined unless it is a positive quantity. */
export function cpuCores(quantity: unknown): number | undefined {
  const value = parseQuantity(quantity);
  return value !== undefined && value > 0 ? value : undefined;
}

function listedNode(node: KubeObject): ListedNode {
  const status = node.status as { capacity?: { cpu?: unknown }; nodeInfo?: { kernelVersion?: string; osImage?: string; containerRuntimeVersion?: string } } | undefined;
  const info = status?.nodeInfo ?? {};
  const cores = cpuCores(status?.capacity?.cpu);
  return {
    name: String(node.metadata?.name ?? ''),
    ...(cores ? { cores } : {}),
    ...(info.kernelVersion ? { kernel: info.kernelVersion } : {}),
    ...(info.osImage ? { os: info.osImage } : {}),
    ...(info.containerRuntimeVersion ? { runtime: info.containerRuntimeVersion } : {}),
  };
}

const MANIFEST_DIGEST = /@(sha256:[0-9a-f]{64})$/;

interface ContainerStatus { name?: string; image?: string; imageID?: string }

/**
 * The images a cluster runs, per container, from its Pods: the status's image and the manifest
 * digest in its imageID (`docker.io/library/nginx@sha256:…`, or `docker-pullable://…@sha256:…`
 * from dockershim). A bare `sha256:…` imageID is the image's config id, not a manifest digest.
 */
export function runningImages(pods: readonly KubeObject[]): RunningImage[] {
  const out: RunningImage[] = [];
  for (const pod of pods) {
    if (pod.kind !== 'Pod') continue;
    const namespace = String(pod.metadata?.namespace ?? '');
    const name = String(pod.metadata?.name ?? '');
    const spec = pod.spec as { containers?: { name?: string; image?: string }[]; initContainers?: { name?: string; image?: string }[] } | undefined;
    const status = pod.status as { containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] } | undefined;
    const statuses = new Map([...(status?.containerStatuses ?? []), ...(status?.initContainerStatuses ?? [])].map((s) => [s.name, s]));
    for (const container of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
      const seen = statuses.get(container.name);
      const image = container.image ?? seen?.image;
      if (!container.name || !image) continue;
      const digest = MANIFEST_DIGEST.exec(seen?.imageID ?? '')?.[1];
      out.push({ namespace, pod: name, container: container.name, image, ...(digest ? { digest } : {}) });
    }
  }
  return out;
}

/** Assesses one configured cluster now. A cluster whose Kubernetes plan is off keeps its inventory and meter but gets no recommendations. */
export async function assessLiveCluster(context: PostureContext, cluster: string): Promise<PostureOutcome> {
  const source = context.clusters.find((c) => c.name === cluster);
  if (!source) return { cluster, status: 'skipped', reason: 'not in the clusters setting' };
  const { name: _name, ...connection } = source;
  const inventory = await (context.fetchInventory ?? fetchClusterInventory)(cluster, connection);
  const at = context.clock.now();
  const nodes = (inventory.snapshot.nodes?.items ?? []).map(listedNode).filter((n) => n.name);
  await recordListedNodes(context.store.db, cluster, nodes, at);
  await replaceRunningImages(context.store.db, cluster, runningImages(inventory.workloads), at);
  // The resource graph (issue 18): workloads, pods, services, RBAC and nodes as listed now.
  await recordClusterInventory(context.store.db, cluster, inventory, at);
  if (!(await isPlanEnabled(context.store.db, `cluster:${cluster}`))) {
    return { cluster, status: 'skipped', reason: 'the Kubernetes plan is off for this cluster' };
  }
  const lastAudit = await lastAuditEventAt(context.store.db, cluster);
  const recommendations: PolicyRecommendation[] = assessCluster(context.policies(), {
    ...inventory,
    snapshot: { ...inventory.snapshot, ...(lastAudit ? { lastAuditEventAt: lastAudit } : {}) },
  }, { now: at });
  // `reasons` explain unhealthy resources to the CLI; the stored recommendation keeps the resources.
  const stored = [...recommendations.map(({ reasons: _reasons, ...r }) => r), await runningImagesRecommendation(context.store.db, cluster)];
  await saveRecommendations(context.store.db, `cluster:${cluster}`, stored, at);
  await refreshSecureScore(context.store.db, at);
  return {
    cluster, status: 'assessed', recommendations: stored.length,
    unhealthy: stored.reduce((n, r) => n + r.unhealthy.length, 0), nodes: nodes.length,
  };
}

/** Queues one posture scan per configured cluster; a cluster already queued is not queued twice. */
export async function queuePostureScans(context: Pick<PostureContext, 'clusters'>, jobs: JobQueue): Promise<number> {
  for (const { name } of context.clusters) await jobs.send(POSTURE_QUEUE, { cluster: name } satisfies PostureRequest, { singletonKey: name });
  return context.clusters.length;
}

export function postureJobs(context: PostureContext, cron: string | undefined = '*/30 * * * *'): JobDefinition<object>[] {
  return [
    {
      queue: POSTURE_ALL_QUEUE,
      ...(cron ? { cron } : {}),
      retryLimit: 2,
      handler: async () => {
        const jobs = context.jobs();
        return { queued: jobs ? await queuePostureScans(context, jobs) : 0 };
      },
    },
    {
      queue: POSTURE_QUEUE,
      policy: 'short',
      // An API server being restarted or a token being rotated: try again shortly, then wait for the next schedule.
      retryLimit: 3,
      retryDelay: 30,
      retryBackoff: true,
      handler: (data: object) => {
        const { cluster } = data as Partial<PostureRequest>;
        if (typeof cluster !== 'string') throw new Error('posture job without a cluster name');
        return assessLiveCluster(context, cluster);
      },
    } satisfies JobDefinition<object>,
  ];
}
