/** Registry protection: connectors, scan on push / import / pull, daily rescans, re-matching. */
export * from './events.js';
export * from './connectors/index.js';
export { sealCredentials, openCredentials, type RegistryLogin } from './credentials.js';
export { connectRegistry, webhookSnippet, type RegistryConnection } from './connect.js';
export { scanJob, scanRegistryImage, scanKey, SCAN_QUEUE, type ScanRequest, type ScanOutcome, type ScanContext } from './scan.js';
export { ingestRegistryEvents, queueFirstScans, type IngestOutcome } from './triggers.js';
export { queueDailyRescans, queuePendingRematches, rematchStoredInventories, rescanJobs, RESCAN_QUEUE, REMATCH_QUEUE, type RescanSchedule } from './rescan.js';
export { registryRecommendation, REGISTRY_POLICY, runningImagesRecommendation, RUNNING_IMAGES_POLICY } from './recommendation.js';
export { importImage, IMPORT_USER_AGENT, type ImportReport, type ImportOptions } from './import.js';
export { pollRegistry, pollJob, POLL_QUEUE } from './poll.js';
export { resolveRegistryTag } from './resolve-tag.js';
export * from './harbor/index.js';
