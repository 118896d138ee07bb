/** A cluster's whole posture: workload policies over what runs, plus the cluster checks. */
import { runClusterChecks, type ClusterCheckOptions } from '../cluster-checks.js';
import type { PolicySet } from '../engine.js';
import { assessPosture, type PolicyRecommendation } from '../posture.js';
import { fetchClusterInventory, type ClusterConnection, type ClusterInventory } from './cluster-client.js';

export function assessCluster(set: PolicySet, inventory: ClusterInventory, options: ClusterCheckOptions = {}): PolicyRecommendation[] {
  const labels = new Map(inventory.namespaces.map((n) => [String(n.metadata?.name), n.metadata?.labels ?? {}]));
  return [
    ...assessPosture(set, inventory.workloads, { cluster: inventory.snapshot.cluster, namespaceLabels: (ns) => labels.get(ns) }),
    ...runClusterChecks(inventory.snapshot, options),
  ];
}

/** Fetch and assess one live cluster: what a scheduled posture job runs. */
export async function scanCluster(set: PolicySet, cluster: string, connection: ClusterConnection = {}, options: ClusterCheckOptions = {}): Promise<PolicyRecommendation[]> {
  return assessCluster(set, await fetchClusterInventory(cluster, connection), options);
}
