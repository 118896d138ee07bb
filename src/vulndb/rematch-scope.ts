/**
 * Which stored inventories a database change can affect. Publishing a version records what it
 * changed package by package (diff.ts, publish.ts); each image's newest stored inventory is indexed
 * under the keys matching looks it up by (packageQueries); a re-match then takes only the images
 * whose keys overlap the change's, with one indexed query. With no previous version to compare with (a first
 * install, or a version published by an earlier Palisade), the change is `full`: everything.
 *
 * The inventory index is caught up lazily, before each selection, from `image_scans`: whoever
 * stores a scan (registry scans, Harbor, imports, tests) needs to know nothing about it.
 */
import type { Kysely, Transaction } from 'kysely';
import type { ImageInventory } from '../core/index.js';
import type { Database, Store } from '../store/index.js';
import type { ChangedPackage } from './diff.js';
import { packageQueries } from './match.js';
import { loadKysely } from './store.js';

export interface VulnDbChangeTable {
  version: string;
  previous: string | null;
  full: boolean;
  /** Why a full change is full. */
  reason: string | null;
  packages: number;
  published_at: string | number;
  rematched_at: string | number | null;
}

export interface VulnDbChangeKeyTable {
  version: string;
  ecosystem: string;
  key: string;
}

export interface VulnInventoryKeyTable {
  digest: string;
  /** The scan whose inventory the keys come from: the digest's newest. */
  scan_id: string;
  /** `ecosystem TAB key` of every package (inventoryKey). */
  keys: string[];
}

declare module '../store/schema.js' {
  interface Database {
    vuln_db_changes: VulnDbChangeTable;
    vuln_db_change_keys: VulnDbChangeKeyTable;
    vuln_inventory_keys: VulnInventoryKeyTable;
  }
}

/** What one published version changed: its packages, or everything (`full`, with why). */
export interface PublishedChange {
  version: string;
  previous?: string;
  full: boolean;
  /** Why the change is not known package by package (no previous version to compare with). */
  reason?: string;
  packages: ChangedPackage[];
}

const ROWS_PER_STATEMENT = 5000;
const INVENTORIES_PER_BATCH = 200;
const KEEP_SETTLED_MS = 30 * 86_400_000;

/** Records a published version's change in the publishing transaction (a version published twice keeps its first record). */
export async function recordPublishedChange(db: Kysely<Database> | Transaction<Database>, change: PublishedChange, at: number): Promise<void> {
  const { sql } = await loadKysely();
  const inserted = await db.insertInto('vuln_db_changes')
    // A change that touched no package has nothing to re-match: it is settled as recorded.
    .values({
      version: change.version, previous: change.previous ?? null, full: change.full, reason: change.reason ?? null, packages: change.packages.length,
      published_at: at, rematched_at: change.full || change.packages.length ? null : at,
    })
    .onConflict((oc) => oc.column('version').doNothing()).returning('version').execute();
  // Settled changes are kept a while (what changed when), then dropped with their keys.
  await db.deleteFrom('vuln_db_changes').where('rematched_at', 'is not', null).where('published_at', '<', at - KEEP_SETTLED_MS).execute();
  if (!inserted.length || change.full) return;
  for (let i = 0; i < change.packages.length; i += ROWS_PER_STATEMENT) {
    const rows = JSON.stringify(change.packages.slice(i, i + ROWS_PER_STATEMENT));
    await sql`insert into vuln_db_change_keys (version, ecosystem, key)
      select ${change.version}, x.ecosystem, x.key from json_to_recordset(${rows}::json) as x(ecosystem text, key text)
      on conflict do nothing`.execute(db);
  }
}

/** How a package is written in `vuln_inventory_keys.keys`: no ecosystem or package name holds a tab. */
function keyText(ecosystem: string, key: string): string {
  return `${ecosystem}\t${key}`;
}

/** The (ecosystem, key) pairs an inventory is looked up by: what a change must name to affect it. */
export function inventoryKeys(inventory: ImageInventory): ChangedPackage[] {
  const seen = new Set<string>();
  const out: ChangedPackage[] = [];
  for (const q of packageQueries(inventory)) {
    for (const key of q.keys) {
      const k = keyText(q.ecosystem, key);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push({ ecosystem: q.ecosystem, key });
    }
  }
  return out;
}

/**
 * Indexes the newest stored inventory of every digest whose index is missing or older; returns
 * how many were indexed. Batches run in transactions that take a lock of their own, and read the
 * newest scan inside it, so workers catching up at once cannot leave an older inventory's keys.
 */
export async function indexStoredInventories(db: Kysely<Database>): Promise<number> {
  const { sql } = await loadKysely();
  const stale = await sql<{ digest: string }>`
    select l.digest from (
      select distinct on (digest) digest, id from image_scans where status = 'succeeded' and inventory is not null
      order by digest, finished_at desc, id desc) l
    left join vuln_inventory_keys v on v.digest = l.digest
    where v.scan_id is distinct from l.id order by l.digest`.execute(db);
  const digests = stale.rows.map((r) => r.digest);
  let indexed = 0;
  for (let i = 0; i < digests.length; i += INVENTORIES_PER_BATCH) {
    const batch = digests.slice(i, i + INVENTORIES_PER_BATCH);
    indexed += await db.transaction().execute(async (tx) => {
      await sql`lock table vuln_inventory_keys in share row exclusive mode`.execute(tx);
      const latest = await sql<{ digest: string; id: string; inventory: ImageInventory | string }>`
        select l.digest, l.id, s.inventory from (
          select distinct on (digest) digest, id from image_scans
          where status = 'succeeded' and inventory is not null and digest in (select json_array_elements_text(${JSON.stringify(batch)}::json))
          order by digest, finished_at desc, id desc) l
        join image_scans s on s.id = l.id
        left join vuln_inventory_keys v on v.digest = l.digest
        where v.scan_id is distinct from l.id`.execute(tx);
      if (!latest.rows.length) return 0;
      const rows = latest.rows.map((row) => {
        const inventory = (typeof row.inventory === 'string' ? JSON.parse(row.inventory) : row.inventory) as ImageInventory;
        return { digest: row.digest, scan_id: row.id, keys: inventoryKeys(inventory).map((k) => keyText(k.ecosystem, k.key)) };
      });
      await sql`insert into vuln_inventory_keys (digest, scan_id, keys)
        select x.digest, x.scan_id, array(select json_array_elements_text(x.keys)) from json_to_recordset(${JSON.stringify(rows)}::json) as x(digest text, scan_id text, keys json)
        on conflict (digest) do update set scan_id = excluded.scan_id, keys = excluded.keys`.execute(tx);
      return rows.length;
    });
  }
  return indexed;
}

/** What a re-match covers: some digests (a known change), or every stored inventory (`digests` absent). */
export interface RematchScope {
  /** The versions this re-match settles (their changes are marked re-matched after it). */
  versions: string[];
  /** True when every stored inventory must be re-matched; `reason` says why. */
  full: boolean;
  reason?: string;
  /** Changed packages across those versions (0 when full). */
  changedPackages: number;
  /** Digests holding a changed package; absent when full. */
  digests?: string[];
  /** Stored inventories indexed while selecting (new scans since the last re-match). */
  indexed: number;
}

/**
 * The scope of a re-match for `version`'s change, or, without a version, for every change not yet
 * re-matched (one re-match settles them all). A version with no recorded change (published by an
 * earlier Palisade, or its record lost) is re-matched fully.
 */
export async function rematchScope(store: Pick<Store, 'db'>, request: { version?: string } = {}): Promise<RematchScope> {
  const { sql } = await loadKysely();
  const db = store.db;
  let changes = db.selectFrom('vuln_db_changes').select(['version', 'full', 'reason', 'packages']);
  changes = request.version ? changes.where('version', '=', request.version) : changes.where('rematched_at', 'is', null);
  const rows = await changes.orderBy('published_at').execute();
  const versions = rows.map((r) => r.version);
  if (request.version && !rows.length) {
    return { versions: [request.version], full: true, reason: `no recorded change for advisory database version ${request.version}`, changedPackages: 0, indexed: 0 };
  }
  const full = rows.find((r) => r.full);
  if (full) return { versions, full: true, reason: `advisory database version ${full.version}: ${full.reason ?? 'no previous version to compare with'}`, changedPackages: 0, indexed: 0 };
  const changedPackages = rows.reduce((n, r) => n + r.packages, 0);
  if (changedPackages === 0) return { versions, full: false, changedPackages, digests: [], indexed: 0 };
  const indexed = await indexStoredInventories(db);
  const changed = await db.selectFrom('vuln_db_change_keys').select(['ecosystem', 'key']).where('version', 'in', versions).execute();
  const keys = [...new Set(changed.map((c) => keyText(c.ecosystem, c.key)))];
  // Array overlap over the GIN index: the images holding any changed package, without reading the others.
  const hit = await sql<{ digest: string }>`select digest from vuln_inventory_keys where keys && ${keys}::text[] order by digest`.execute(db);
  return { versions, full: false, changedPackages, digests: hit.rows.map((r) => r.digest), indexed };
}

/** Marks changes re-matched, so a re-match without a version does not take them again. */
export async function markRematched(store: Pick<Store, 'db'>, versions: readonly string[], at: number): Promise<void> {
  if (!versions.length) return;
  await store.db.updateTable('vuln_db_changes').set({ rematched_at: at }).where('version', 'in', [...versions]).where('rematched_at', 'is', null).execute();
}

/** Changes published but not yet re-matched (an import from the command line while no server ran, a re-match that failed). */
export async function pendingChanges(store: Pick<Store, 'db'>): Promise<string[]> {
  const rows = await store.db.selectFrom('vuln_db_changes').select('version').where('rematched_at', 'is', null).orderBy('published_at').execute();
  return rows.map((r) => r.version);
}
