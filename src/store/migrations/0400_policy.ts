import { sql, type Kysely } from 'kysely';

/**
 * Policy and posture (src/policy, src/center/score.ts): admission decisions that were not dry
 * runs, and the secure score kept once per day per scope (`cluster:NAME` or `overall`).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('admission_decisions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('uid', 'text', (c) => c.notNull())
    .addColumn('cluster', 'text', (c) => c.notNull())
    .addColumn('operation', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('namespace', 'text')
    .addColumn('name', 'text')
    .addColumn('username', 'text')
    .addColumn('allowed', 'boolean', (c) => c.notNull())
    .addColumn('results', 'jsonb', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('admission_decisions_cluster_at').on('admission_decisions').columns(['cluster', 'at']).execute();

  await db.schema.createTable('secure_scores')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('score', 'double precision', (c) => c.notNull())
    .addColumn('max_score', 'double precision', (c) => c.notNull())
    .addColumn('percentage', 'double precision', (c) => c.notNull())
    .addColumn('controls', 'jsonb', (c) => c.notNull())
    .addColumn('computed_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('secure_scores_pk', ['scope', 'day'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('secure_scores').ifExists().execute();
  await db.schema.dropTable('admission_decisions').ifExists().execute();
}
