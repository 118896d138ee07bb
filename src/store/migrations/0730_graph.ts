import { sql, type Kysely } from 'kysely';

/**
 * The resource identity graph (issue 18, src/graph): one row per resource identity (cluster,
 * namespace, workload, pod, container, image digest, service account, role, binding, service,
 * ingress, node), one row per edge between two identities, and aliases (a container's runtime id,
 * a pod's uid) that name an identity the way one source knows it. Notifications remember the
 * incident they were sent for, so an incident is announced once per channel.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('graph_nodes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('cluster', 'text')
    .addColumn('namespace', 'text')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('attrs', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('seen_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('graph_nodes_cluster_kind').on('graph_nodes').columns(['cluster', 'kind']).execute();
  await db.schema.createTable('graph_edges')
    .addColumn('src', 'text', (c) => c.notNull())
    .addColumn('dst', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('cluster', 'text')
    .addColumn('attrs', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('seen_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('graph_edges_pk', ['src', 'dst', 'kind'])
    .execute();
  await db.schema.createIndex('graph_edges_dst').on('graph_edges').columns(['dst']).execute();
  await db.schema.createIndex('graph_edges_cluster').on('graph_edges').columns(['cluster', 'kind']).execute();
  await db.schema.createTable('graph_aliases')
    .addColumn('alias', 'text', (c) => c.primaryKey())
    .addColumn('node_id', 'text', (c) => c.notNull())
    .addColumn('seen_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createTable('incident_notifications')
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('alert_id', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_notifications_pk', ['channel', 'incident_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('incident_notifications').ifExists().execute();
  await db.schema.dropTable('graph_aliases').ifExists().execute();
  await db.schema.dropTable('graph_edges').ifExists().execute();
  await db.schema.dropTable('graph_nodes').ifExists().execute();
}
