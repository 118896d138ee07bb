import type { Kysely } from 'kysely';

/**
 * State of the audit capability's stateful detections (src/audit/state-store.ts): per scope
 * (rule + cluster or service account) when it was first seen and how many events it had, and the
 * values it has seen. Times are epoch milliseconds (bigint) so PGlite and PostgreSQL agree exactly.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('audit_state_scopes')
    .addColumn('scope', 'text', (c) => c.primaryKey())
    .addColumn('first_seen', 'bigint', (c) => c.notNull())
    .addColumn('events', 'bigint', (c) => c.notNull())
    .addColumn('saturated', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_state_scopes_updated').on('audit_state_scopes').column('updated_at').execute();
  await db.schema.createTable('audit_state_values')
    .addColumn('scope', 'text', (c) => c.notNull().references('audit_state_scopes.scope').onDelete('cascade'))
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('first_seen', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('audit_state_values_pk', ['scope', 'value'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_state_values').ifExists().execute();
  await db.schema.dropTable('audit_state_scopes').ifExists().execute();
}
