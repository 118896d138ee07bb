import { sql, type Generated, type Kysely, type SqlBool } from 'kysely';
import { atLeast, randomIds, type Finding, type ImageInventory } from '../core/index.js';
import type { Database } from '../store/index.js';
import { assessmentOf, effectiveStatement, hasVexDocuments, isSuppressing, normalizeRepository, statementsAbout, type AttributedStatement, type ImageIdentity, type VexAssessment } from '../vex/index.js';

/** A stored finding: the scanner's finding with the VEX statement that speaks for it, if any (contract of #21). */
export type StoredFinding = Finding & { vex?: VexAssessment };

const findingKey = (f: { vulnerability: string; purl: string }) => `${f.vulnerability}\u0000${f.purl}`;

/**
 * Replaces an image's findings with a scan's (or a re-match's) in the caller's transaction, each
 * with the VEX statement that speaks for it, and returns the critical and high findings the image
 * did not have before that no statement suppresses: those raise alerts.
 */
export async function replaceImageFindings(db: Kysely<Database>, digest: string, findings: Finding[]): Promise<Finding[]> {
  const previous = new Set((await db.selectFrom('findings').select(['vulnerability', 'purl']).where('digest', '=', digest).execute()).map(findingKey));
  await db.deleteFrom('findings').where('digest', '=', digest).execute();
  const assessed = await withVex(db, digest, findings);
  const rows = assessed.map((f) => ({
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
  // A finding a statement suppresses raises no alert (docs/vex.md).
  return assessed
    .filter((f) => !isSuppressing(f.vex?.status) && atLeast(f.severity, 'high') && !previous.has(findingKey({ vulnerability: f.id, purl: f.package.purl })))
    .map(withoutVex);
}

const withoutVex = (finding: StoredFinding): Finding => {
  const { vex: _vex, ...plain } = finding;
  return plain;
};

/** What each digest is known by in the registries that hold it: the identities a VEX product may name. */
async function imageIdentities(db: Kysely<Database>, digests: readonly string[]): Promise<Map<string, ImageIdentity>> {
  const identities = new Map<string, ImageIdentity>(digests.map((d) => [d, { digests: [d], repositories: [], tags: [] }]));
  for (let i = 0; i < digests.length; i += 500) {
    const rows = await db.selectFrom('images').leftJoin('registries', 'registries.name', 'images.registry')
      .select(['images.digest', 'images.repository', 'images.tags', 'registries.url'])
      .where('images.digest', 'in', digests.slice(i, i + 500)).where('images.deleted', '=', false).execute();
    for (const row of rows) {
      const identity = identities.get(row.digest)!;
      identity.repositories.push(normalizeRepository(row.url && URL.canParse(row.url) ? `${new URL(row.url).host}/${row.repository}` : row.repository));
      identity.tags.push(...(row.tags ?? []));
    }
  }
  return identities;
}

const namesOf = (findings: ReadonlyArray<Pick<Finding, 'id' | 'aliases'>>) => [...new Set(findings.flatMap((f) => [f.id, ...f.aliases]))];

/** The finding with the latest statement that speaks for it, or with none. */
function assess(finding: StoredFinding, statements: readonly AttributedStatement[], image: ImageIdentity): StoredFinding {
  const plain = withoutVex(finding);
  const statement = statements.length ? effectiveStatement(statements, plain, image) : undefined;
  return statement ? { ...plain, vex: assessmentOf(statement) } : plain;
}

async function withVex(db: Kysely<Database>, digest: string, findings: Finding[]): Promise<StoredFinding[]> {
  if (!findings.length || !(await hasVexDocuments(db))) return findings;
  const statements = await statementsAbout(db, namesOf(findings));
  if (!statements.length) return findings;
  const image = (await imageIdentities(db, [digest])).get(digest)!;
  return findings.map((f) => assess(f, statements, image));
}

/**
 * Re-applies the stored statements to every stored finding of these vulnerabilities (by id or
 * alias), after a VEX document is added or removed, in the caller's transaction. Only findings
 * whose statement changed are written; the per-image counts follow through the database's
 * triggers (migrations 0701, 0740). Images are read 50 at a time, so memory stays bounded.
 */
export async function reapplyVex(db: Kysely<Database>, vulnerabilities: readonly string[]): Promise<{ images: number; changed: number; registries: string[] }> {
  const names = [...new Set(vulnerabilities)];
  const result = { images: 0, changed: 0, registries: [] as string[] };
  if (!names.length) return result;
  const changedDigests = new Set<string>();
  // Names in chunks: a document of 10,000 statements with aliases must stay under the database's parameter limit.
  const chunks: string[][] = [];
  for (let i = 0; i < names.length; i += 1000) chunks.push(names.slice(i, i + 1000));
  const carries = (chunk: string[]) => {
    const named = sql.join(chunk.map((n) => sql`${n}`));
    return sql<SqlBool>`(findings.vulnerability in (${named}) or findings.aliases ?| array[${named}]::text[])`;
  };
  const found = new Set<string>();
  for (const chunk of chunks) {
    for (const r of await db.selectFrom('findings').select('digest').distinct().where(carries(chunk)).execute()) found.add(r.digest);
  }
  const digests = [...found].sort();
  for (let i = 0; i < digests.length; i += 50) {
    const batch = digests.slice(i, i + 50);
    const identities = await imageIdentities(db, batch);
    const rows = new Map<string, { id: string; digest: string; detail: unknown }>();
    for (const chunk of chunks) {
      for (const r of await db.selectFrom('findings').select(['id', 'digest', 'detail']).where('digest', 'in', batch).where(carries(chunk)).execute()) rows.set(r.id, r);
    }
    // Every name of these findings: a statement may name the vulnerability by another alias.
    const statements = await statementsAbout(db, namesOf([...rows.values()].map((r) => r.detail as Finding)));
    for (const row of rows.values()) {
      const before = row.detail as StoredFinding;
      const after = assess(before, statements, identities.get(row.digest)!);
      if (JSON.stringify(before.vex ?? null) === JSON.stringify(after.vex ?? null)) continue;
      await db.updateTable('findings').set({ detail: JSON.stringify(after) }).where('id', '=', row.id).execute();
      result.changed++;
      changedDigests.add(row.digest);
    }
    result.images += batch.length;
  }
  // The registries whose "images should have vulnerability findings resolved" must be re-evaluated.
  const changed = [...changedDigests];
  const registries = new Set<string>();
  for (let i = 0; i < changed.length; i += 500) {
    const rows = await db.selectFrom('images').select('registry').distinct().where('digest', 'in', changed.slice(i, i + 500)).execute();
    for (const r of rows) registries.add(r.registry);
  }
  result.registries = [...registries].sort();
  return result;
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

/** Whether Palisade holds a successful scan of this digest (an image with no findings included). */
export async function hasSucceededScan(db: Kysely<Database>, digest: string): Promise<boolean> {
  return (await db.selectFrom('image_scans').select('id').where('digest', '=', digest).where('status', '=', 'succeeded').limit(1).executeTakeFirst()) !== undefined;
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
  interface FindingTable {
    /** Derived by the database from `detail.vex` (migration 0740): a VEX not_affected or fixed statement. */
    suppressed: Generated<boolean>;
  }
}
