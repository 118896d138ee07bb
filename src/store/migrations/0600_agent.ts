import { sql, type Kysely } from 'kysely';

/**
 * Node agent: ids of the events and alerts received from agents, so a batch resent from an
 * agent's spool (or sent twice after a lost answer) is stored and counted once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('agent_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('cluster', 'text', (c) => c.notNull())
    .addColumn('node', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('agent_events_cluster_node_at').on('agent_events').columns(['cluster', 'node', 'at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('agent_events').ifExists().execute();
}
