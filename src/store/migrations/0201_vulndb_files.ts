import type { Kysely } from 'kysely';

/**
 * The advisory database file (src/vulndb/file.ts) as a blob, so every worker matches against the
 * same version: one row per version, its bytes in chunks (PostgreSQL caps a value at 1 GB, and
 * chunks keep each query's memory small). Workers fetch a version once and keep it on local disk.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('vuln_db_files')
    .addColumn('version', 'text', (c) => c.primaryKey())
    .addColumn('generation', 'text', (c) => c.notNull())
    .addColumn('built_at', 'bigint', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('chunks', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createTable('vuln_db_file_chunks')
    .addColumn('version', 'text', (c) => c.notNull().references('vuln_db_files.version').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('data', 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('vuln_db_file_chunks_pk', ['version', 'seq'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('vuln_db_file_chunks').ifExists().execute();
  await db.schema.dropTable('vuln_db_files').ifExists().execute();
}
