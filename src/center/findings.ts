import type { Kysely } from 'kysely';
import { atLeast, randomIds, type Finding, type ImageInventory } from '../core/index.js';
import type { Database } from '../store/index.js';

const findingKey = (f: { vulnerability: string; purl: string }) => `${f.vulnerability}\u0000${f.purl}`;

/**
 * Replaces an image's findings with a scan's (or a re-match's) in the caller's transaction, and
 * returns the critical and high findings the image did not have before: those raise alerts.
 */
export async function replaceImageFindings(db: Kysely<Database>, digest: string, findings: Finding[]): Promise<Finding[]> {
  const previous = new Set((await db.selectFrom('findings').select(['vulnerability', 'purl']).where('digest', '=', digest).execute()).map(findingKey));
  await db.deleteFrom('findings').where('digest', '=', digest).execute();
  const rows = findings.map((f) => ({
    digest,
    vulnerability: f.id,
    aliases: JSON.stringify(f.aliases),
    package_name: f.package.name,
    package_version: f.installedVersion,
    ecosystem: f.package.ecosystem,
    purl: f.package.purl,
    layer: f.package.layer ?? null,
    severity: f.severity,
    fixed_version: f.fixedVersion ?? null,
    status: f.status,
    detail: JSON.stringify(f),
  }));
  // The same vulnerability can reach one purl twice (two advisories merged upstream): keep one.
  const unique = [...new Map(rows.map((r) => [findingKey(r), r])).values()];
  for (let i = 0; i < unique.length; i += 500) {
    await db.insertInto('findings').values(unique.slice(i, i + 500)).execute();
  }
  return findings.filter((f) => atLeast(f.severity, 'high') && !previous.has(findingKey({ vulnerability: f.id, purl: f.package.purl })));
}

/** Records a scan with its inventory, so a database update can re-match without pulling the image. */
export async function recordImageScan(db: Kysely<Database>, scan: { digest: string; startedAt: Date; finishedAt: Date; inventory?: ImageInventory; error?: string }): Promise<string> {
  const id = randomIds.next('scn_');
  await db.insertInto('image_scans').values({
    id,
    digest: scan.digest,
    status: scan.error ? 'failed' : 'succeeded',
    started_at: scan.startedAt,
    finished_at: scan.finishedAt,
    error: scan.error ?? null,
    inventory: scan.inventory ? JSON.stringify(scan.inventory) : null,
  }).execute();
  return id;
}

/** The newest stored inventory of each digest that has one. */
export async function latestInventories(db: Kysely<Database>, digests?: string[]): Promise<Array<{ digest: string; inventory: ImageInventory }>> {
  let query = db.selectFrom('image_scans').select(['digest', 'inventory', 'finished_at'])
    .where('status', '=', 'succeeded').where('inventory', 'is not', null)
    .distinctOn('digest').orderBy('digest').orderBy('finished_at', 'desc');
  if (digests) {
    if (!digests.length) return [];
    query = query.where('digest', 'in', digests);
  }
  const rows = await query.execute();
  return rows.map((r) => ({ digest: r.digest, inventory: r.inventory as unknown as ImageInventory }));
}

export async function findingsOfImage(db: Kysely<Database>, digest: string, limit: number, after?: [string, string]): Promise<Array<{ key: [string, string]; finding: Finding }>> {
  let query = db.selectFrom('findings').select(['vulnerability', 'purl', 'detail']).where('digest', '=', digest);
  if (after) query = query.where((eb) => eb.or([eb('vulnerability', '>', after[0]), eb.and([eb('vulnerability', '=', after[0]), eb('purl', '>', after[1])])]));
  const rows = await query.orderBy('vulnerability').orderBy('purl').limit(limit).execute();
  return rows.map((r) => ({ key: [r.vulnerability, r.purl], finding: r.detail as unknown as Finding }));
}

/** Findings per image by severity, kept exact by triggers on `findings` (migration 0701). */
export interface ImageFindingCountsTable {
  digest: string;
  critical: number;
  high: number;
  medium: number;
  low: number;
  unknown: number;
}

declare module '../store/schema.js' {
  interface Database {
    image_finding_counts: ImageFindingCountsTable;
  }
}
