import { sql, type Kysely } from 'kysely';

/**
 * Re-matching only what a database change touches (src/vulndb/rematch-scope.ts):
 * - `vuln_db_changes`: one row per published advisory file version, with the version it replaced
 *   and whether the change is known package by package (`full` when there was no previous file to
 *   compare with: then every stored inventory is re-matched), and when its re-match finished.
 * - `vuln_db_change_keys`: the (ecosystem, package key) entries whose advisories differ.
 * - `vuln_inventory_keys`: the packages of each image's newest stored inventory, under the same
 *   keys the advisory file uses, so "which images hold a changed package" is one indexed join;
 *   `vuln_inventory_scans` says which scan's inventory each digest's keys came from.
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
  await db.schema.createTable('vuln_inventory_scans')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('scan_id', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createTable('vuln_inventory_keys')
    .addColumn('ecosystem', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('vuln_inventory_keys_pk', ['ecosystem', 'key', 'digest'])
    .execute();
  await db.schema.createIndex('vuln_inventory_keys_digest').on('vuln_inventory_keys').column('digest').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('vuln_inventory_keys').ifExists().execute();
  await db.schema.dropTable('vuln_inventory_scans').ifExists().execute();
  await db.schema.dropTable('vuln_db_change_keys').ifExists().execute();
  await db.schema.dropTable('vuln_db_changes').ifExists().execute();
}
