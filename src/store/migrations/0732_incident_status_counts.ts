import { sql, type Kysely } from 'kysely';

/**
 * Incidents count their alerts by status (activity records aside), refreshed whenever one of them
 * changes (the alerts trigger queues it): the list filters on "two or more alerts of the requested
 * statuses" from the incident row alone, without joining alerts (a join the planner may answer by
 * hashing every active alert).
 */
export async function up(db: Kysely<any>): Promise<void> {
  for (const column of ['active_count', 'resolved_count', 'dismissed_count']) {
    await db.schema.alterTable('incidents').addColumn(column, 'integer', (c) => c.notNull().defaultTo(0)).execute();
  }
  // Incidents assigned before this migration: counted now.
  await sql`
    update incidents i set
      active_count = (select count(*) from incident_alerts m join alerts a on a.id = m.alert_id where m.incident_id = i.id and a.status = 'active'),
      resolved_count = (select count(*) from incident_alerts m join alerts a on a.id = m.alert_id where m.incident_id = i.id and a.status = 'resolved'),
      dismissed_count = (select count(*) from incident_alerts m join alerts a on a.id = m.alert_id where m.incident_id = i.id and a.status = 'dismissed')`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table incidents drop column if exists active_count, drop column if exists resolved_count, drop column if exists dismissed_count`.execute(db);
}
