/**
 * Reads over images and their findings for the API: the center owns `findings` and the per-image
 * counts (migration 0701), so the routes ask here instead of writing SQL over another folder's
 * tables. Each list takes the position after which to continue and returns one row more than
 * `limit` when there is a next page (the caller pages).
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/index.js';

export interface ImageWithCounts {
  id: string;
  digest: string;
  registry: string;
  repository: string;
  tags: string[];
  imported: boolean;
  lastPushed: Date | null;
  lastPulled: Date | null;
  lastScanned: Date | null;
  counts: { critical: number; high: number; medium: number; low: number; unknown: number };
}

/** Registries' images (not deleted) with their findings by severity, by id. */
export async function listImagesWithCounts(db: Kysely<Database>, filter: { registry?: string; repository?: string; afterId?: string; limit: number }): Promise<ImageWithCounts[]> {
  // Severity counts kept per image as findings are written (migration 0701), not aggregated per request.
  let query = db.selectFrom('images')
    .leftJoin('image_finding_counts as counts', 'counts.digest', 'images.digest')
    .select(['images.id', 'images.digest', 'images.registry', 'images.repository', 'images.tags', 'images.imported', 'images.last_pushed', 'images.last_pulled', 'images.last_scanned'])
    .select([
      sql<number>`coalesce(counts.critical, 0)`.as('critical'),
      sql<number>`coalesce(counts.high, 0)`.as('high'),
      sql<number>`coalesce(counts.medium, 0)`.as('medium'),
      sql<number>`coalesce(counts.low, 0)`.as('low'),
      sql<number>`coalesce(counts.unknown, 0)`.as('unknown'),
    ])
    .where('images.deleted', '=', false);
  if (filter.registry) query = query.where('images.registry', '=', filter.registry);
  if (filter.repository) query = query.where('images.repository', '=', filter.repository);
  if (filter.afterId !== undefined) query = query.where('images.id', '>', filter.afterId);
  const rows = await query.orderBy('images.id').limit(filter.limit + 1).execute();
  return rows.map((r) => ({
    id: r.id,
    digest: r.digest,
    registry: r.registry,
    repository: r.repository,
    tags: r.tags,
    imported: r.imported,
    lastPushed: r.last_pushed,
    lastPulled: r.last_pulled,
    lastScanned: r.last_scanned,
    counts: { critical: Number(r.critical), high: Number(r.high), medium: Number(r.medium), low: Number(r.low), unknown: Number(r.unknown) },
  }));
}

export interface ImageWithVulnerability {
  image: string;
  digest: string;
  repository: string;
  package: string;
  installedVersion: string;
  fixedVersion: string | null;
  severity: string;
  /** A VEX statement says the image is not affected (or fixed): listed, but not counted. */
  suppressed: boolean;
}

/** Images carrying a vulnerability (by id or alias), one row per (image, package, version). */
export async function imagesWithVulnerability(db: Kysely<Database>, id: string, page: { after?: [string, string, string]; limit: number }): Promise<ImageWithVulnerability[]> {
  const { after } = page;
  let query = db.selectFrom('findings').innerJoin('images', 'images.digest', 'findings.digest')
    .select(['images.id', 'images.digest', 'images.repository', 'findings.package_name', 'findings.package_version', 'findings.fixed_version', 'findings.severity', 'findings.suppressed'])
    .where((eb) => eb.or([eb('findings.vulnerability', '=', id), sql<boolean>`findings.aliases ? ${id}`]));
  if (after) query = query.where((eb) => eb(eb.refTuple('images.id', 'findings.package_name', 'findings.package_version'), '>', eb.tuple(after[0], after[1] ?? '', after[2] ?? '')));
  const rows = await query.orderBy('images.id').orderBy('findings.package_name').orderBy('findings.package_version').limit(page.limit + 1).execute();
  return rows.map((r) => ({ image: r.id, digest: r.digest, repository: r.repository, package: r.package_name, installedVersion: r.package_version, fixedVersion: r.fixed_version, severity: r.severity, suppressed: r.suppressed }));
}

export interface ImageWithPackage {
  image: string;
  digest: string;
  repository: string;
  installedVersion: string;
  ecosystem: string;
  vulnerabilities: number;
  /** Critical and high findings no VEX statement suppresses. */
  critical: number;
  high: number;
  fixedVersions: string[];
}

/** Images (not deleted) carrying a vulnerable version of a package, one row per (image, installed version). */
export async function imagesWithPackage(db: Kysely<Database>, name: string, page: { ecosystem?: string; after?: [string, string]; limit: number }): Promise<ImageWithPackage[]> {
  const { after } = page;
  let query = db.selectFrom('findings').innerJoin('images', 'images.digest', 'findings.digest')
    .select(['images.id', 'images.digest', 'images.repository', 'findings.package_version', 'findings.ecosystem',
      sql<string>`count(*)`.as('vulnerabilities'),
      sql<string>`count(*) filter (where findings.severity = 'critical' and not findings.suppressed)`.as('critical'),
      sql<string>`count(*) filter (where findings.severity = 'high' and not findings.suppressed)`.as('high'),
      // Every fixed version its findings name: which is the right upgrade depends on the ecosystem's ordering.
      sql<string[] | null>`array_agg(distinct findings.fixed_version) filter (where findings.fixed_version is not null)`.as('fixed_versions')])
    .where('findings.package_name', '=', name)
    .where('images.deleted', '=', false)
    .groupBy(['images.id', 'images.digest', 'images.repository', 'findings.package_version', 'findings.ecosystem']);
  if (page.ecosystem) query = query.where('findings.ecosystem', '=', page.ecosystem);
  if (after) query = query.where((eb) => eb(eb.refTuple('images.id', 'findings.package_version'), '>', eb.tuple(after[0], after[1])));
  const rows = await query.orderBy('images.id').orderBy('findings.package_version').limit(page.limit + 1).execute();
  return rows.map((r) => ({
    image: r.id, digest: r.digest, repository: r.repository, installedVersion: r.package_version, ecosystem: r.ecosystem,
    vulnerabilities: Number(r.vulnerabilities), critical: Number(r.critical), high: Number(r.high), fixedVersions: r.fixed_versions ?? [],
  }));
}
