import { sql, type Kysely } from 'kysely';

/**
 * Scan requests Harbor sent to Palisade's pluggable scanner adapter (`/harbor/api/v1/scan`): Harbor
 * polls the report by id, possibly on another server replica, so the state lives in the store.
 * The short-lived pull authorization Harbor passes is never stored.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('harbor_scan_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('tag', 'text')
    .addColumn('mime_type', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('report', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('harbor_scan_requests_created').on('harbor_scan_requests').column('created_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('harbor_scan_requests').ifExists().execute();
}
