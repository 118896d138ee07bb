import { sql, type Kysely } from 'kysely';

/** The security center's own tables: the vocabulary of DESIGN.md. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('palisade_meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();

  await db.schema.createTable('tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull().unique())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema.createTable('clusters')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_event_at', 'timestamptz')
    .execute();

  await db.schema.createTable('nodes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('cluster', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('cores', 'integer')
    .addColumn('kernel', 'text')
    .addColumn('os', 'text')
    .addColumn('runtime', 'text')
    .addColumn('agent_version', 'text')
    .addColumn('last_heartbeat', 'timestamptz')
    .addUniqueConstraint('nodes_cluster_name', ['cluster', 'name'])
    .execute();

  await db.schema.createTable('registries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('credentials', 'text')
    .addColumn('poll', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema.createTable('repositories')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addUniqueConstraint('repositories_registry_name', ['registry', 'name'])
    .execute();

  // One row per image in a repository; the same digest in two repositories is two rows, one set of findings.
  await db.schema.createTable('images')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('tags', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('imported', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('deleted', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('last_pushed', 'timestamptz')
    .addColumn('last_pulled', 'timestamptz')
    .addColumn('last_scanned', 'timestamptz')
    .addUniqueConstraint('images_location', ['registry', 'repository', 'digest'])
    .execute();
  await db.schema.createIndex('images_digest').on('images').column('digest').execute();
  await db.schema.createIndex('images_last_pulled').on('images').column('last_pulled').execute();

  await db.schema.createTable('image_scans')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('finished_at', 'timestamptz')
    .addColumn('error', 'text')
    .addColumn('inventory', 'jsonb')
    .execute();
  await db.schema.createIndex('image_scans_digest').on('image_scans').column('digest').execute();

  await db.schema.createTable('findings')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('vulnerability', 'text', (c) => c.notNull())
    .addColumn('aliases', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('package_name', 'text', (c) => c.notNull())
    .addColumn('package_version', 'text', (c) => c.notNull())
    .addColumn('ecosystem', 'text', (c) => c.notNull())
    .addColumn('purl', 'text', (c) => c.notNull())
    .addColumn('layer', 'text')
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('fixed_version', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('detail', 'jsonb', (c) => c.notNull())
    .addUniqueConstraint('findings_identity', ['digest', 'vulnerability', 'purl'])
    .execute();
  await db.schema.createIndex('findings_vulnerability').on('findings').column('vulnerability').execute();

  await db.schema.createTable('alerts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('tactic', 'text', (c) => c.notNull())
    .addColumn('technique', 'text')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('resource_kind', 'text', (c) => c.notNull())
    .addColumn('resource_id', 'text', (c) => c.notNull())
    .addColumn('cluster', 'text')
    .addColumn('namespace', 'text')
    .addColumn('resource', 'jsonb', (c) => c.notNull())
    .addColumn('evidence', 'jsonb', (c) => c.notNull())
    .addColumn('remediation', 'text', (c) => c.notNull())
    .addColumn('first_seen', 'timestamptz', (c) => c.notNull())
    .addColumn('last_seen', 'timestamptz', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('dedupe_key', 'text', (c) => c.notNull().unique())
    .execute();
  await db.schema.createIndex('alerts_last_seen').on('alerts').columns(['last_seen', 'id']).execute();

  await db.schema.createTable('recommendations')
    .addColumn('policy', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('remediation', 'text', (c) => c.notNull())
    .addColumn('healthy', 'jsonb', (c) => c.notNull())
    .addColumn('unhealthy', 'jsonb', (c) => c.notNull())
    .addColumn('not_applicable', 'jsonb', (c) => c.notNull())
    .addColumn('evaluated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('recommendations_pk', ['policy', 'scope'])
    .execute();

  await db.schema.createTable('plans')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('enabled', 'boolean', (c) => c.notNull())
    .addColumn('since', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('plans_pk', ['kind', 'scope'])
    .execute();

  await db.schema.createTable('usage')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('meter', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('quantity', 'double precision', (c) => c.notNull())
    .addColumn('source_key', 'text', (c) => c.notNull().unique())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema.createTable('audit_trail')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema.createTable('job_effects')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('queue', 'text', (c) => c.notNull())
    .addColumn('done_at', 'timestamptz', (c) => c.notNull())
    .addColumn('result', 'jsonb')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['job_effects', 'audit_trail', 'usage', 'plans', 'recommendations', 'alerts', 'findings', 'image_scans', 'images', 'repositories', 'registries', 'nodes', 'clusters', 'tokens', 'palisade_meta']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
