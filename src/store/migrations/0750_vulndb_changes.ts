import { sql, type Kysely } from 'kysely';

/**
 * Re-matching only what a database change touches (src/vulndb/rematch-scope.ts):
 * - `vuln_db_changes`: one row per published advisory file version, with the version it replaced
 *   and whether the change is known package by package (`full` when there was no previous file to
 *   compare with: then every stored inventory is re-matched), and when its re-match finished.
 * - `vuln_db_change_keys`: the (ecosystem, package key) entries whose advisories differ.
 * - `vuln_inventory_keys`: the packages of each image's newest stored inventory (`scan_id`), under
 *   the keys the advisory file uses (`ecosystem TAB key`), so "which images hold a changed
 *   package" is one indexed array-overlap query.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('vuln_db_changes')
    .addColumn('version', 'text', (c) => c.primaryKey())
    .addColumn('previous', 'text')
    .addColumn('full', 'boolean', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('packages', 'integer', (c) => c.notNull())
    .addColumn('published_at', 'bigint', (c) => c.notNull())
    .addColumn('rematched_at', 'bigint')
    .execute();
  await sql`create index vuln_db_changes_pending on vuln_db_changes (published_at) where rematched_at is null`.execute(db);
  await db.schema.createTable('vuln_db_change_keys')
    .addColumn('version', 'text', (c) => c.notNull().references('vuln_db_changes.version').onDelete('cascade'))
    .addColumn('ecosystem', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('vuln_db_change_keys_pk', ['version', 'ecosystem', 'key'])
    .execute();
  await db.schema.createTable('vuln_inventory_keys')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('scan_id', 'text', (c) => c.notNull())
    .addColumn('keys', sql`text[]`, (c) => c.notNull())
    .execute();
  // One row per image with its keys as an array: a tenth of the write cost of a row per key, and
  // the GIN index still finds the images holding any of a change's keys without reading the rest.
  await sql`create index vuln_inventory_keys_keys on vuln_inventory_keys using gin (keys)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('vuln_inventory_keys').ifExists().execute();
  await db.schema.dropTable('vuln_db_change_keys').ifExists().execute();
  await db.schema.dropTable('vuln_db_changes').ifExists().execute();
}
