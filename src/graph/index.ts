/**
 * The resource identity graph (issue 18): one identity per resource (cluster → namespace →
 * workload → pod → container → image digest; service accounts, roles and bindings; services,
 * ingresses, nodes) and the edges between them, fed by the center's intake (audit, agent and
 * registry alerts as they are recorded), posture scans of live clusters and registry scans; and
 * what is computed from it: which alerts make one incident, and attack paths.
 */
export type { GraphDelta, GraphEdge, GraphEdgeKind, GraphNode, GraphNodeKind } from './schema.js';
export { nodeId, digestOf, identityOfResource } from './ids.js';
export { kubeObjectsDelta, type KubeObjectLike } from './kube.js';
export { threatsDelta, type ObservedThreat } from './observe.js';
export { assignPendingIncidents, incidentId } from './assign.js';
export { flushGraph, settleIncidents, graphWriter, observeThreats, recordClusterGraph, recordClusterInventory, writeDelta, GraphWriter } from './write.js';
export { imageRunningIn, type RunningIn, loadAround, loadCluster, resolveImageDigests, SubGraph, type StoredEdge, type StoredNode } from './read.js';
export { identifyAlerts, type IdentifiedAlert, type ResolvedIdentity } from './identify.js';
export { joinAlerts, DEFAULT_INCIDENT_WINDOW_MS, type AlertIdentity, type JoinAlert, type JoinedGroup } from './join.js';
export { dangerousPermissions, type DangerousPermission } from './rbac.js';
export { computeAttackPaths, graphClusters, listAttackPaths, type AttackPath, type HopKind } from './attack-paths.js';
