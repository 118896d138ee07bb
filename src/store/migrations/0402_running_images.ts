import { sql, type Kysely } from 'kysely';

/**
 * The images each cluster runs, per container, as its last posture scan listed them: what the
 * inventory's "images in use" and the running-images recommendation read.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('running_images')
    .addColumn('cluster', 'text', (c) => c.notNull())
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('pod', 'text', (c) => c.notNull())
    .addColumn('container', 'text', (c) => c.notNull())
    .addColumn('image', 'text', (c) => c.notNull())
    .addColumn('digest', 'text')
    .addColumn('seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('running_images_pk', ['cluster', 'namespace', 'pod', 'container'])
    .execute();
  await db.schema.createIndex('running_images_digest').on('running_images').column('digest').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('running_images').ifExists().execute();
}
