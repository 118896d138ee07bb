import { sql } from 'kysely';
import { announceAlerts, latestInventories, recordInTransaction, refreshSecureScore, replaceImageFindings, saveRecommendations } from '../center/index.js';
import type { Clock } from '../core/index.js';
import { parseReference } from '../image/index.js';
import type { JobDefinition, JobQueue } from '../jobs/index.js';
import { imageId, type Store } from '../store/index.js';
import { currentAdvisoryFile, markRematched, matchInventory, pendingChanges, rematchScope } from '../vulndb/index.js';
import { KINDS_WITH_PULL_EVENTS, type RegistryKind } from './connectors/index.js';
import { registryRecommendation } from './recommendation.js';
import { newVulnerabilityThreat, type ScanRequest } from './scan.js';
import { queueScans } from './scan-queue.js';

export const RESCAN_QUEUE = 'registry-rescan';
export const REMATCH_QUEUE = 'registry-rematch';

/**
 * One re-match job per published advisory database version not yet re-matched (sent twice, a
 * version is queued once). Called after an update or import, and when a server starts, so a
 * database changed while no server ran (`palisade db import` offline) is re-matched then.
 */
export async function queuePendingRematches(store: Pick<Store, 'db'>, jobs: JobQueue | undefined, versions?: readonly string[]): Promise<string[]> {
  const pending = versions ?? (await pendingChanges(store));
  for (const version of pending) await jobs?.send(REMATCH_QUEUE, { version }, { singletonKey: `rematch:${version}` });
  return [...pending];
}
const DEFAULT_RESCAN_WINDOW_DAYS = 30;

/**
 * What the daily rescan covers: Defender for Containers' current schedule. An image qualifies by
 * any one criterion, whatever its registry sends. A window of 0 days turns its criterion off.
 */
export interface RescanSchedule {
  /** Images pulled within this many days (Defender: 30). */
  pulledWithinDays: number;
  /** Images pushed within this many days (Defender: 90). */
  pushedWithinDays: number;
  /** Every image a connected cluster runs, as its last posture scan listed it (Defender: on). */
  running: boolean;
}

export const DEFAULT_RESCAN_SCHEDULE: RescanSchedule = { pulledWithinDays: DEFAULT_RESCAN_WINDOW_DAYS, pushedWithinDays: 90, running: true };

export interface RescanCandidate {
  registry: string;
  repository: string;
  digest: string;
  /** Which criteria it met: `pulled`, `pushed`, `running`. */
  reasons: Array<'pulled' | 'pushed' | 'running'>;
}

/**
 * Registries that send no pull events (ACR, Docker Hub, polled registries) would never have a
 * recent pull, so their images' last pull is taken from what clusters run: an image a cluster was
 * seen running (registry host, repository and digest of the container's image) was pulled by then.
 * Returns how many images got a later last-pull time.
 */
export async function lastPullsFromRunningImages(store: Store): Promise<number> {
  const registries = await store.db.selectFrom('registries').select(['name', 'url', 'kind', 'poll']).execute();
  const silent = new Map<string, string[]>();
  for (const r of registries) {
    if (KINDS_WITH_PULL_EVENTS.has(r.kind as RegistryKind) && !r.poll) continue;
    const host = registryHost(r.url, r.kind);
    silent.set(host, [...(silent.get(host) ?? []), r.name]);
  }
  if (silent.size === 0) return 0;
  const running = await store.db.selectFrom('running_images').select(['image', 'digest', sql<Date | string>`max(seen_at)`.as('seen')])
    .where('digest', 'is not', null).groupBy(['image', 'digest']).execute();
  const latest = new Map<string, Date>();
  for (const row of running) {
    let reference;
    try {
      reference = parseReference(row.image);
    } catch {
      continue; // a runtime's odd image string; nothing to attribute
    }
    for (const name of silent.get(reference.registry) ?? []) {
      const id = imageId(name, reference.repository, row.digest!);
      const seen = new Date(row.seen);
      const previous = latest.get(id);
      if (!previous || previous < seen) latest.set(id, seen);
    }
  }
  if (latest.size === 0) return 0;
  const rows = sql.join([...latest].map(([id, at]) => sql`(${id}, ${at.toISOString()}::timestamptz)`));
  const updated = await sql`update images set last_pulled = v.at from (values ${rows}) as v(id, at)
    where images.id = v.id and (images.last_pulled is null or images.last_pulled < v.at)`.execute(store.db);
  return Number(updated.numAffectedRows ?? 0);
}

/** The registry host a running image names for a connected registry (`docker.io` for Docker Hub, as image references write it). */
function registryHost(url: string, kind: string): string {
  return kind === 'dockerhub' ? 'docker.io' : new URL(url).host;
}

/** The images the schedule covers, each once, with the criteria it met; deleted images never. */
export async function rescanCandidates(store: Store, now: Date, schedule: RescanSchedule): Promise<RescanCandidate[]> {
  const pulledSince = schedule.pulledWithinDays > 0 ? new Date(now.getTime() - schedule.pulledWithinDays * 86_400_000) : null;
  const pushedSince = schedule.pushedWithinDays > 0 ? new Date(now.getTime() - schedule.pushedWithinDays * 86_400_000) : null;
  if (!pulledSince && !pushedSince && !schedule.running) return [];
  const rows = await store.db.selectFrom('images as i')
    .select(['i.registry', 'i.repository', 'i.digest',
      (pulledSince ? sql<boolean>`coalesce(i.last_pulled >= ${pulledSince}, false)` : sql<boolean>`false`).as('pulled'),
      (pushedSince ? sql<boolean>`coalesce(i.last_pushed >= ${pushedSince}, false)` : sql<boolean>`false`).as('pushed'),
      (schedule.running ? sql<boolean>`exists (select 1 from running_images r where r.digest = i.digest)` : sql<boolean>`false`).as('running'),
    ])
    .where('i.deleted', '=', false)
    .orderBy('i.id')
    .execute();
  return rows
    .map((r) => ({ registry: r.registry, repository: r.repository, digest: r.digest, reasons: (['pulled', 'pushed', 'running'] as const).filter((k) => r[k]) }))
    .filter((r) => r.reasons.length > 0);
}

/**
 * The daily rescan: new vulnerabilities appear daily, so every image the schedule covers is scanned
 * again. Layers come from the analysis cache, so this costs little.
 */
export async function queueDailyRescans(context: { store: Store; jobs: JobQueue; clock: Clock }, schedule: Partial<RescanSchedule> = {}): Promise<number> {
  const chosen: RescanSchedule = { ...DEFAULT_RESCAN_SCHEDULE, ...schedule };
  const now = context.clock.now();
  const day = now.toISOString().slice(0, 10);
  if (chosen.pulledWithinDays > 0) await lastPullsFromRunningImages(context.store);
  const images = await rescanCandidates(context.store, now, chosen);
  // One rescan per digest per day (the key), queued fairly among registries.
  return queueScans(context, images.map(({ registry, repository, digest }): ScanRequest => ({ registry, repository, digest, reason: 'rescan', day })));
}

/** What a re-match did: how many stored inventories it re-matched, and why those. */
export interface RematchOutcome {
  images: number;
  newAlerts: number;
  /** The advisory database versions whose change it settled. */
  versions: string[];
  /** Every stored inventory was re-matched (`reason` says why), not only those holding a changed package. */
  full: boolean;
  reason?: string;
  changedPackages: number;
}

/**
 * After the vulnerability database gains or changes advisories: re-match the stored inventories
 * holding a package whose advisories changed (every one when the change is not known package by
 * package), without pulling anything; update their findings, their registries' recommendations and
 * the secure score, and alert on newly found critical/high findings. `version` names the published
 * database version whose change to cover; without it, every change not yet re-matched.
 * Idempotent: a second run finds nothing new to alert on.
 */
export async function rematchStoredInventories(context: { store: Store; clock: Clock; logger?: { info(fields: object, message: string): void } }, request: { version?: string } = {}): Promise<RematchOutcome> {
  const { store, clock } = context;
  // Match against the newest published version, not the one this process last checked.
  await currentAdvisoryFile(store, 0);
  const scope = await rematchScope(store, request);
  if (scope.full) context.logger?.info({ versions: scope.versions, reason: scope.reason }, 're-matching every stored inventory: the database change is not known package by package');
  const inventories = scope.full || scope.digests?.length ? await latestInventories(store.db, scope.digests) : [];
  let newAlerts = 0;
  const registries = new Set<string>();
  for (const { digest, inventory } of inventories) {
    const findings = await matchInventory(store, inventory);
    const created = await store.db.transaction().execute(async (tx) => {
      // Two workers re-matching one image (jobs of two database versions) take turns, so the second
      // reads the first's findings and alerts on nothing they already hold.
      await sql`select pg_advisory_xact_lock(hashtext(${`rematch:${digest}`}))`.execute(tx);
      const gained = await replaceImageFindings(tx, digest, findings);
      const locations = await tx.selectFrom('images').select(['registry', 'repository', 'digest']).where('digest', '=', digest).execute();
      for (const l of locations) registries.add(l.registry);
      if (!gained.length) return [];
      const at = clock.now();
      const result = await recordInTransaction(tx, locations.map((image) => newVulnerabilityThreat(image, gained, at, 'new-advisories')), at);
      return result.created;
    });
    await announceAlerts(store, created);
    newAlerts += created.length;
  }
  const at = clock.now();
  for (const registry of registries) await saveRecommendations(store.db, `registry:${registry}`, [await registryRecommendation(store.db, registry)], at);
  if (inventories.length) await refreshSecureScore(store.db, at);
  await markRematched(store, scope.versions, at.getTime());
  context.logger?.info({ versions: scope.versions, images: inventories.length, changedPackages: scope.changedPackages, newAlerts }, 'stored inventories re-matched');
  return { images: inventories.length, newAlerts, versions: scope.versions, full: scope.full, ...(scope.reason ? { reason: scope.reason } : {}), changedPackages: scope.changedPackages };
}

/** `schedule` sets any criterion; the rest keep DEFAULT_RESCAN_SCHEDULE. */
export function rescanJobs(context: { store: Store; clock: Clock; jobs: () => JobQueue | undefined; schedule?: Partial<RescanSchedule>; logger?: { info(fields: object, message: string): void } }, cron: string | undefined = '0 3 * * *'): JobDefinition<object>[] {
  const schedule = context.schedule ?? {};
  return [
    {
      queue: RESCAN_QUEUE,
      ...(cron ? { cron } : {}),
      retryLimit: 3,
      handler: async () => {
        const jobs = context.jobs();
        return jobs ? { queued: await queueDailyRescans({ ...context, jobs }, schedule) } : { queued: 0 };
      },
    },
    {
      queue: REMATCH_QUEUE,
      policy: 'short',
      retryLimit: 3,
      // One job per published database version (singleton key `rematch:VERSION`); a job without one settles every pending change.
      handler: (data: { version?: string }) => rematchStoredInventories(context, typeof data?.version === 'string' ? { version: data.version } : {}),
    },
  ];
}
