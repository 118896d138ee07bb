import { sql, type Kysely } from 'kysely';

/** Image analysis cache: one row per layer diff ID and cataloger set, so shared base layers are read once. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('image_layer_analyses')
    .addColumn('diff_id', 'text', (c) => c.notNull())
    .addColumn('analyzer', 'text', (c) => c.notNull())
    .addColumn('analysis', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('image_layer_analyses_pk', ['diff_id', 'analyzer'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('image_layer_analyses').ifExists().execute();
}
