import type { Kysely } from 'kysely';

/** "Which images carry a vulnerable version of package X": the images page's view by package. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('findings_package').on('findings').columns(['package_name', 'digest']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('findings_package').ifExists().execute();
}
