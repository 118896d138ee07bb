import type { Kysely } from 'kysely';

/** The CycloneDX SBOM of a Harbor scan request, for Harbor's SBOM capability (spec 1.2). */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('harbor_scan_requests').addColumn('sbom', 'jsonb').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('harbor_scan_requests').dropColumn('sbom').execute();
}
