import { sql, type Kysely } from 'kysely';

/**
 * Persistent incident membership (issue 18, src/graph/incidents.ts): alerts are assigned to an
 * incident once, when they are recorded, so listing incidents is an indexed read whatever the
 * number of alerts.
 * - incidents: one row per group (a lone alert is a group of one until another joins it), with
 *   the times and member count the list orders and filters on;
 * - incident_alerts: the membership and the reason each alert joined (an image alert can be in
 *   several incidents: every one whose containers run its digest) and what the alert concerns;
 * - incident_keys: the latest incident on each join key (resource, container, pod, owner, image
 *   alone) and when it was last seen there, for the time window;
 * - incident_digests / incident_image_alerts: digests an incident's containers run, and image
 *   alerts by digest, so either side joins the other whichever arrives first;
 * - incident_pending: alerts inserted or updated and not yet (re)assigned, filled by a trigger on
 *   alerts so every writer is covered; the alerts stored before this migration are queued here
 *   and assigned by the first reads or writes (in bounded chunks).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('incidents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('anchor', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('cluster', 'text')
    .addColumn('first_seen', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen', 'timestamptz', (c) => c.notNull())
    .addColumn('member_count', 'integer', (c) => c.notNull())
    .execute();
  // The list: groups of two or more, newest first, keyset on (last_seen, id).
  await sql`create index incidents_listed on incidents (last_seen desc, id desc) where member_count >= 2`.execute(db);
  await sql`create index incidents_cluster_listed on incidents (cluster, last_seen desc, id desc) where member_count >= 2`.execute(db);
  await db.schema.createTable('incident_alerts')
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('alert_id', 'text', (c) => c.notNull())
    .addColumn('joined_because', 'text', (c) => c.notNull())
    .addColumn('identity', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addPrimaryKeyConstraint('incident_alerts_pk', ['incident_id', 'alert_id'])
    .execute();
  await db.schema.createIndex('incident_alerts_alert').on('incident_alerts').columns(['alert_id']).execute();
  await db.schema.createTable('incident_keys')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'timestamptz', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('incident_keys_incident').on('incident_keys').columns(['incident_id']).execute();
  await db.schema.createTable('incident_digests')
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('runner', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_digests_pk', ['digest', 'incident_id'])
    .execute();
  await db.schema.createIndex('incident_digests_incident').on('incident_digests').columns(['incident_id']).execute();
  await db.schema.createTable('incident_image_alerts')
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('alert_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_image_alerts_pk', ['digest', 'alert_id'])
    .execute();
  await db.schema.createTable('incident_pending')
    .addColumn('alert_id', 'text', (c) => c.primaryKey())
    .addColumn('first_seen', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('incident_pending_first_seen').on('incident_pending').columns(['first_seen', 'alert_id']).execute();
  // Statement triggers: one insert per intake statement, however many alerts it wrote.
  // Informational records (activity) never join incidents and are not queued.
  await sql`
    create function incident_pending_queue() returns trigger language plpgsql as $$
    begin
      insert into incident_pending (alert_id, first_seen)
        select id, first_seen from new_rows where severity <> 'informational'
        on conflict (alert_id) do nothing;
      return null;
    end $$`.execute(db);
  await sql`create trigger alerts_incident_insert after insert on alerts referencing new table as new_rows for each statement execute function incident_pending_queue()`.execute(db);
  await sql`create trigger alerts_incident_update after update on alerts referencing new table as new_rows for each statement execute function incident_pending_queue()`.execute(db);
  await sql`insert into incident_pending (alert_id, first_seen) select id, first_seen from alerts where severity <> 'informational' on conflict do nothing`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists alerts_incident_update on alerts`.execute(db);
  await sql`drop trigger if exists alerts_incident_insert on alerts`.execute(db);
  await sql`drop function if exists incident_pending_queue()`.execute(db);
  for (const table of ['incident_pending', 'incident_image_alerts', 'incident_digests', 'incident_keys', 'incident_alerts', 'incidents']) await db.schema.dropTable(table).ifExists().execute();
}
