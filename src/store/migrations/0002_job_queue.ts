import { sql, type Kysely } from 'kysely';
import PgBoss from 'pg-boss';

export const JOB_SCHEMA = 'pgboss';

/**
 * pg-boss's own schema, created here once instead of at every start: on PGlite its
 * creation takes seconds, and starting against an installed schema takes milliseconds.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // The plan wraps itself in BEGIN/COMMIT; the migrator already runs us in a transaction.
  const plan = PgBoss.getConstructionPlans(JOB_SCHEMA).trim().replace(/^BEGIN;/i, '').replace(/COMMIT;$/i, '');
  await sql.raw(plan).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql.raw(`drop schema if exists ${JOB_SCHEMA} cascade`).execute(db);
}
