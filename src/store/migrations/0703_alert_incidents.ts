import type { Kysely } from 'kysely';

/**
 * Incidents are the alerts of one resource taken together: the alert page's related alerts and
 * the incidents list read alerts by resource, newest first.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('alerts_resource_last_seen').on('alerts').columns(['resource_id', 'last_seen']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('alerts_resource_last_seen').ifExists().execute();
}
