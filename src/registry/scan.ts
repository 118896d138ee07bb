import { announceAlerts, isPlanEnabled, meterImageScan, recordImageScan, recordInTransaction, refreshSecureScore, replaceImageFindings, saveRecommendations, type DetectedThreat } from '../center/index.js';
import { PalisadeError, type Clock, type Config, type Finding, type ImageInventory } from '../core/index.js';
import { analyzeImage, openImage, storeLayerCache } from '../image/index.js';
import { runOnce, type JobDefinition } from '../jobs/index.js';
import { getRegistry, markImageScanned, type Store } from '../store/index.js';
import { matchInventory } from '../vulndb/index.js';
import { clientOptions, registryAccess } from './connectors/access.js';
import { registryRecommendation } from './recommendation.js';

export const SCAN_QUEUE = 'registry-scan';

export type ScanReason = 'push' | 'import' | 'rescan' | 'poll';

export interface ScanRequest {
  registry: string;
  repository: string;
  /** Absent only for tag-only pushes (Docker Hub); resolved from the registry when scanning. */
  digest?: string;
  tag?: string;
  reason: ScanReason;
  /** The rescan's day (YYYY-MM-DD): one rescan per digest per day. */
  day?: string;
}

export interface ScanContext {
  store: Store;
  config: Pick<Config, 'secretKey'>;
  clock: Clock;
  /** The server's or worker's logger (pino); only `info` is used. */
  logger?: { info(fields: object, message: string): void };
}

/**
 * The key that makes a scan happen once: a digest is scanned once when it first arrives (however
 * many tags, retried deliveries or racing jobs), and once per day by the rescan.
 */
export function scanKey(request: Pick<ScanRequest, 'digest' | 'reason' | 'day'>, digest: string): string {
  return request.reason === 'rescan' ? `scan:${digest}:rescan:${request.day}` : `scan:${digest}`;
}

export interface ScanOutcome {
  digest: string;
  status: 'scanned' | 'already-scanned' | 'plan-off';
  findings?: number;
  newAlerts?: number;
}

/** Pulls, analyzes (layer cache first), matches and records one image. */
export async function scanRegistryImage(context: ScanContext, request: ScanRequest, options: { retried?: boolean } = {}): Promise<ScanOutcome> {
  const { store, clock } = context;
  const scope = `registry:${request.registry}`;
  if (!(await isPlanEnabled(store.db, scope))) return { digest: request.digest ?? '', status: 'plan-off' };
  if (request.digest && (await alreadyDone(store, scanKey(request, request.digest)))) {
    // A retried job whose scan committed may have failed after it: redo the idempotent rest.
    if (options.retried) await refreshRegistryPosture(store, request.registry, clock.now());
    return { digest: request.digest, status: 'already-scanned' };
  }

  const registry = await getRegistry(store.db, request.registry);
  context.logger?.info({ registry: request.registry, repository: request.repository, digest: request.digest, reason: request.reason }, 'scanning image');
  const access = await registryAccess(registry, { secretKey: context.config.secretKey, clock });
  const startedAt = clock.now();
  const source = await openImage({ transport: 'registry', reference: { registry: access.host, repository: request.repository, ...(request.digest ? { digest: request.digest } : { tag: request.tag ?? 'latest' }) } }, clientOptions(access));
  let analysis;
  try {
    analysis = await analyzeImage(source, { cache: storeLayerCache(store.db) });
  } finally {
    await source.close();
  }
  const digest = request.digest ?? analysis.image.digest;
  if (!digest) throw new PalisadeError('registry.scan.digest', `${source.name} has no manifest digest`, { kind: 'internal' });
  const findings = await matchInventory(store, analysis.inventory);
  return recordScan(context, { ...request, digest }, analysis.inventory, findings, startedAt, options);
}

/** After a scan: the registry's recommendation and the secure score. Idempotent, so a retry redoes it. */
async function refreshRegistryPosture(store: Store, registry: string, at: Date): Promise<void> {
  await saveRecommendations(store.db, `registry:${registry}`, [await registryRecommendation(store.db, registry)], at);
  await refreshSecureScore(store.db, at);
}

async function alreadyDone(store: Store, key: string): Promise<boolean> {
  return (await store.db.selectFrom('job_effects').select('key').where('key', '=', key).executeTakeFirst()) !== undefined;
}

/** Records a scan's results once, with the usage it costs and alerts for new critical and high findings. */
async function recordScan(context: ScanContext, request: ScanRequest & { digest: string }, inventory: ImageInventory, findings: Finding[], startedAt: Date, options: { retried?: boolean } = {}): Promise<ScanOutcome> {
  const { store, clock } = context;
  const key = scanKey(request, request.digest);
  const at = clock.now();
  const outcome = await runOnce(store.db, key, SCAN_QUEUE, async (tx) => {
    await recordImageScan(tx, { digest: request.digest, startedAt, finishedAt: at, inventory });
    const gained = await replaceImageFindings(tx, request.digest, findings);
    await markImageScanned(tx, request.digest, at);
    // Metered whether or not anything was found: Defender bills per scanned image.
    await meterImageScan(tx, request.registry, key, at);
    const threats = gained.length ? [newVulnerabilityThreat(request, gained, at)] : [];
    const { created } = await recordInTransaction(tx, threats, at);
    return created;
  });
  if (!outcome.done) {
    if (options.retried) await refreshRegistryPosture(store, request.registry, at);
    return { digest: request.digest, status: 'already-scanned' };
  }
  await announceAlerts(store, outcome.result ?? []);
  await refreshRegistryPosture(store, request.registry, at);
  context.logger?.info({ digest: request.digest, registry: request.registry, findings: findings.length }, 'image scanned');
  return { digest: request.digest, status: 'scanned', findings: findings.length, newAlerts: outcome.result?.length ?? 0 };
}

/**
 * The alert for critical or high findings an image did not have before: found by its scan, or by
 * re-matching its stored inventory against newly published advisories.
 */
export function newVulnerabilityThreat(image: { registry: string; repository: string; digest: string }, gained: Finding[], at: Date, cause: 'scan' | 'new-advisories' = 'scan'): DetectedThreat {
  const critical = gained.some((f) => f.severity === 'critical');
  const ids = [...new Set(gained.map((f) => f.id))];
  const plural = ids.length === 1 ? 'y' : 'ies';
  // Counts per severity ("1 critical, 7 high"), not the worst severity applied to the total.
  const worst = new Map<string, string>();
  for (const f of gained) if (worst.get(f.id) !== 'critical') worst.set(f.id, f.severity);
  const counted = (['critical', 'high'] as const).map((s) => [s, [...worst.values()].filter((v) => v === s).length] as const).filter(([, n]) => n > 0);
  return {
    rule: 'registry-image-new-vulnerabilities',
    title: cause === 'scan'
      ? `Image ${image.repository} gained ${counted.length ? counted.map(([s, n]) => `${n} ${s}`).join(', ') : ids.length}-severity vulnerabilit${plural}`
      : `Image ${image.repository} is affected by ${ids.length} newly published critical/high vulnerabilit${plural}`,
    severity: critical ? 'high' : 'medium',
    tactic: 'Initial Access',
    technique: 'T1190',
    resource: { kind: 'image', id: `${image.registry}/${image.repository}@${image.digest}`, name: `${image.repository}@${image.digest.slice(0, 19)}` },
    evidence: gained.slice(0, 20).map((f) => ({ id: f.id, package: f.package.name, installedVersion: f.installedVersion, fixedVersion: f.fixedVersion, severity: f.severity })),
    remediation: 'Rebuild the image on updated packages; each finding names its fixed version and upgrade command.',
    source: 'registry',
    at,
  };
}

/** Scans of one registry running at once in this process: registries rate-limit pulls. */
export const SCANS_PER_REGISTRY = 2;

/** A counting semaphore per registry name; a finishing scan hands its slot straight to the next waiter. */
function perRegistryLimiter(limit: number) {
  const running = new Map<string, number>();
  const waiting = new Map<string, Array<() => void>>();
  return async <T>(registry: string, work: () => Promise<T>): Promise<T> => {
    const count = running.get(registry) ?? 0;
    if (count >= limit) {
      const queue = waiting.get(registry) ?? [];
      waiting.set(registry, queue);
      await new Promise<void>((resolve) => queue.push(resolve));
    } else {
      running.set(registry, count + 1);
    }
    try {
      return await work();
    } finally {
      const next = waiting.get(registry)?.shift();
      if (next) next();
      else running.set(registry, (running.get(registry) ?? 1) - 1);
    }
  };
}

/** Job definition: retried with backoff; one queued job per digest; at most SCANS_PER_REGISTRY per registry at once. */
export function scanJob(context: ScanContext, limit = SCANS_PER_REGISTRY): JobDefinition<ScanRequest> {
  const limited = perRegistryLimiter(limit);
  return {
    queue: SCAN_QUEUE,
    policy: 'short',
    expireInSeconds: 15 * 60,
    retryLimit: 5,
    retryDelay: 10,
    retryBackoff: true,
    handler: (request, job) => limited(request.registry, () => scanRegistryImage(context, request, { retried: job.retryCount > 0 })),
  };
}
