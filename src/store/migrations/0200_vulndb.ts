import type { Kysely } from 'kysely';

/**
 * The vulnerability database (src/vulndb/store.ts): OSV advisories stored once as compact JSON,
 * an index of (ecosystem, package name) → advisory for lookups while matching, the import runs
 * and the last update per ecosystem. Times are epoch milliseconds (bigint) so PGlite and
 * PostgreSQL agree exactly.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('vuln_advisories')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('modified', 'bigint', (c) => c.notNull())
    .addColumn('withdrawn', 'boolean', (c) => c.notNull().defaultTo(false))
    /** sha256 of `record`: re-imports of an unchanged record are skipped even when `modified` is not maintained (Go). */
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('record', 'text', (c) => c.notNull())
    .addColumn('imported_at', 'bigint', (c) => c.notNull())
    .addColumn('run_id', 'text')
    .execute();
  await db.schema.createTable('vuln_affected')
    /** Ecosystem without release (`Debian`, `npm`); the release is checked against the record while matching. */
    .addColumn('ecosystem', 'text', (c) => c.notNull())
    /** Package name as the ecosystem compares it (see packageKey). */
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('advisory_id', 'text', (c) => c.notNull().references('vuln_advisories.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('vuln_affected_pk', ['ecosystem', 'name', 'advisory_id'])
    .execute();
  await db.schema.createIndex('vuln_affected_advisory').on('vuln_affected').column('advisory_id').execute();
  await db.schema.createTable('vuln_import_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .addColumn('added', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('changed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('unchanged', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('skipped', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('warnings', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .execute();
  await db.schema.createTable('vuln_ecosystem_updates')
    .addColumn('ecosystem', 'text', (c) => c.primaryKey())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('vuln_ecosystem_updates').ifExists().execute();
  await db.schema.dropTable('vuln_import_runs').ifExists().execute();
  await db.schema.dropTable('vuln_affected').ifExists().execute();
  await db.schema.dropTable('vuln_advisories').ifExists().execute();
}
