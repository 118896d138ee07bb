/** Policy and posture: Pod Security Standards, workload policies, admission, cluster checks. */
export type { PsaLevel, PsaViolation } from './psa/checks.js';
export { evaluatePodSecurity, parsePsaVersion, isPsaLevel, PSA_LATEST_MINOR } from './psa/evaluate.js';
export { podOf, containersOf, POD_TEMPLATE_KINDS, type PodView, type ContainerRef } from './kube/pods.js';
export type { KubeObject, PodSpec, Container } from './kube/types.js';
export { parseManifests, readManifestPath, type SourcedObject } from './kube/manifests.js';
export * from './model.js';
export {
  compilePolicySet, assessObject, evaluateObject, evaluateObjects, evaluateUpdate, resourceIdOf,
  type PolicySet, type CompiledPolicy, type EvaluateOptions, type Assessment, type AssessmentStatus,
} from './engine.js';
export { BUILTIN_POLICIES } from './policies/index.js';
export { matchesSelector } from './selectors.js';
export { checkManifests, loadPolicyConfig, formatTable, formatJson, toSarif, type CheckReport, type CheckOutcome } from './report.js';
export {
  reviewAdmission, parseAdmissionReview, type AdmissionReview, type AdmissionRequest, type AdmissionResponse, type AdmissionOutcome, type AdmissionOperation,
} from './admission.js';
export { validatingWebhookConfiguration, admissionCredentials, type WebhookConfigOptions, type AdmissionCredentialsOptions } from './webhook-config.js';
export { recordAdmission, listAdmissionDecisions, type AdmissionDecision } from './admission-log.js';
export { assessPosture, resourceRef, isOwned, type PolicyRecommendation } from './posture.js';
export {
  runClusterChecks, clusterAdminBindings, anonymousBindings, wildcardRoles, dashboardDeployed, unsupportedNodes,
  auditLoggingConnected, admissionWebhookConnected, namespacePodSecurity, type ClusterSnapshot, type ClusterCheckOptions, type KubeList,
} from './cluster-checks.js';
export { fetchClusterInventory, loadKubeConfig, type ClusterConnection, type ClusterInventory } from './live/cluster-client.js';
export { assessCluster, scanCluster } from './live/posture-scan.js';
export { assessLiveCluster, postureJobs, queuePostureScans, POSTURE_ALL_QUEUE, POSTURE_QUEUE, type PostureContext, type PostureOutcome } from './live/posture-job.js';
