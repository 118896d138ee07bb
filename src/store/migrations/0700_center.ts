import { sql, type Kysely } from 'kysely';

/**
 * The security center's people and messages (src/center/{users,sessions,notify}): users with a
 * role, sign-in sessions, sign-in failures (lockout), notification channels and their deliveries.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_sign_in_at', 'timestamptz')
    .addColumn('disabled_at', 'timestamptz')
    .execute();

  await db.schema.createTable('sessions')
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('csrf', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_subject').on('sessions').column('subject').execute();

  await db.schema.createTable('sign_in_failures')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('first_at', 'timestamptz', (c) => c.notNull())
    .addColumn('locked_until', 'timestamptz')
    .execute();

  await db.schema.createTable('notification_channels')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('settings', 'jsonb', (c) => c.notNull())
    .addColumn('min_severity', 'text', (c) => c.notNull())
    .addColumn('digest_minutes', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_success_at', 'timestamptz')
    .addColumn('last_error', 'text')
    .addColumn('last_error_at', 'timestamptz')
    .execute();

  await db.schema.createTable('notification_deliveries')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('alert_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull())
    .addColumn('claimed_until', 'timestamptz')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz')
    .addUniqueConstraint('notification_deliveries_once', ['channel', 'alert_id'])
    .execute();
  await db.schema.createIndex('notification_deliveries_due').on('notification_deliveries').columns(['status', 'next_attempt_at']).execute();

  // The alert list filters by status and severity on large tables (bench: 100,000 alerts).
  await db.schema.createIndex('alerts_status_last_seen').on('alerts').columns(['status', 'last_seen', 'id']).execute();
  // The overview's "images with critical or high vulnerabilities": an index-only scan instead of reading wide finding rows.
  await db.schema.createIndex('findings_severity_digest').on('findings').columns(['severity', 'digest']).execute();
  await db.schema.createIndex('alerts_source_last_seen').on('alerts').columns(['source', 'last_seen']).execute();
  await db.schema.createIndex('usage_meter_at').on('usage').columns(['meter', 'at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('usage_meter_at').ifExists().execute();
  await db.schema.dropIndex('alerts_source_last_seen').ifExists().execute();
  await db.schema.dropIndex('findings_severity_digest').ifExists().execute();
  await db.schema.dropIndex('alerts_status_last_seen').ifExists().execute();
  for (const table of ['notification_deliveries', 'notification_channels', 'sign_in_failures', 'sessions', 'users']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
