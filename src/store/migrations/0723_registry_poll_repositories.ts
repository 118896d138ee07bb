import type { Kysely } from 'kysely';

/**
 * Repositories a polled registry is read from when it has no usable `/v2/_catalog` (ECR, Artifact
 * Registry, Docker Hub, registries whose catalog needs rights the login lacks): listed by the user
 * when connecting. A registry with none listed is polled through its catalog (or the vendor's API).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('registry_poll_repositories')
    .addColumn('registry', 'text', (c) => c.notNull().references('registries.name').onDelete('cascade'))
    .addColumn('repository', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('registry_poll_repositories_pkey', ['registry', 'repository'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('registry_poll_repositories').ifExists().execute();
}
