import type { Kysely } from 'kysely';

/**
 * The secure-score control each stored recommendation counts toward, so the score can be
 * recomputed from every scope's stored recommendations (clusters and registries) at once.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('recommendations').addColumn('control', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('recommendations').dropColumn('control').execute();
}
