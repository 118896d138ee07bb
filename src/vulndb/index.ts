/**
 * The vulnerability database: OSV import (files, directories, zip archives, osv.dev), version
 * semantics per ecosystem, and matching image inventories to findings.
 */
import type { Finding, ImageInventory } from '../core/index.js';
import type { Store } from '../store/index.js';
import { matchPackages } from './match.js';
import { currentAdvisoryFile } from './publish.js';

export * from './versions/index.js';
export {
  validateOsvRecord,
  parseOsvJson,
  type OsvRecord,
  type OsvAffected,
  type OsvRange,
  type OsvEvent,
  type OsvSeverity,
  type ImportWarning,
  type WarningCode,
} from './osv.js';
export { evaluateAffected, evaluateRange, type RangeVerdict } from './ranges.js';
export { rateRecord, scoreCvss, severityFromScore, severityFromWord, type SeverityRating } from './severity.js';
export { remediationFor, upgradeCommand, type Remediation } from './remediation.js';
export {
  AdvisoryIndex,
  matchPackages,
  matchQuery,
  packageQueries,
  packageKey,
  osEcosystem,
  releaseMatches,
  isOsPackage,
  type AdvisoryLookup,
  type PackageQuery,
} from './match.js';
export { importOsv, type ImportOptions, type ImportProgress, type ImportReport } from './import.js';
export {
  updateFromOsvDev,
  osvArchiveUrl,
  DEFAULT_ECOSYSTEMS,
  OSV_BASE_URL,
  type UpdateOptions,
  type UpdateProgress,
  type UpdateReport,
  type EcosystemUpdate,
} from './update.js';
export { vulndbJobs, runScheduledUpdate, UPDATE_QUEUE, DEFAULT_UPDATE_CRON, type AdvisoryChange, type VulnDbJobContext, type UpdateJobResult } from './jobs.js';
export { AdvisoryFile, AdvisoryFileBuilder } from './file.js';
export { diffAdvisoryFiles, type ChangedPackage } from './diff.js';
export { indexStoredInventories, inventoryKeys, markRematched, pendingChanges, rematchScope, type RematchScope } from './rematch-scope.js';
export { currentAdvisoryFile, openDataDirAdvisoryFile, fileStatus, palisadeCacheDir } from './publish.js';
export { dbStatus, packagesForAdvisories, type DbStatus, type EcosystemStatus } from './store.js';

/**
 * Findings for an inventory against the store's current advisory database file, read in process
 * (fetched once per version, see publish.ts); its records and results stay in memory until the
 * version changes, so re-matching stored inventories after an update costs milliseconds.
 */
export async function matchInventory(store: Pick<Store, 'db'> & Partial<Pick<Store, 'kind' | 'where'>>, inventory: ImageInventory): Promise<Finding[]> {
  return matchPackages(inventory, (await currentAdvisoryFile(store)).lookup);
}
