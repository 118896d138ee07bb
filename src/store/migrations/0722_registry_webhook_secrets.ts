import type { Kysely } from 'kysely';

/**
 * Webhook signing secrets of registries whose webhooks are signed rather than carrying a header
 * (Nexus' HMAC `X-Nexus-Webhook-Signature`), sealed under PALISADE_SECRET_KEY like registry
 * credentials: the secret itself is needed to check a signature, so it cannot be stored hashed.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('registry_webhook_secrets')
    .addColumn('registry', 'text', (c) => c.primaryKey().references('registries.name').onDelete('cascade'))
    .addColumn('secret', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('registry_webhook_secrets').ifExists().execute();
}
