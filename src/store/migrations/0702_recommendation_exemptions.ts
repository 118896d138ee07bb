import { sql, type Kysely } from 'kysely';

/**
 * Exemptions from recommendations (src/center/exemptions.ts): one resource, or a whole scope, left
 * out of a recommendation's unhealthy resources and of the secure score, with a reason, until it expires.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('recommendation_exemptions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('policy', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    // Null: every resource of the recommendation in the scope.
    .addColumn('resource_id', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('recommendation_exemptions_scope').on('recommendation_exemptions').columns(['scope', 'policy']).execute();
  await db.schema.createIndex('recommendation_exemptions_expires').on('recommendation_exemptions').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('recommendation_exemptions').ifExists().execute();
}
