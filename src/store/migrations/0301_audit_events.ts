import { sql, type Kysely } from 'kysely';

/**
 * Audit events received by the webhook (src/audit/events-store.ts), kept for evidence and
 * investigation. The key is the apiserver's own (auditID, stage) per cluster, so a batch the
 * apiserver sends again after a timeout is stored, and detected on, once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('audit_events')
    .addColumn('cluster', 'text', (c) => c.notNull())
    .addColumn('audit_id', 'text', (c) => c.notNull())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('stored_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('verb', 'text', (c) => c.notNull())
    .addColumn('resource', 'text')
    .addColumn('namespace', 'text')
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('event', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('audit_events_pk', ['cluster', 'audit_id', 'stage'])
    .execute();
  await db.schema.createIndex('audit_events_cluster_time').on('audit_events').columns(['cluster', 'received_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_events').ifExists().execute();
}
