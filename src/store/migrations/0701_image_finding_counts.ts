import { sql, type Kysely } from 'kysely';

/**
 * Per-image finding counts by severity, kept by the database itself: statement-level triggers on
 * `findings` apply each statement's inserted and deleted rows (transition tables) as deltas in the
 * same transaction, so every writer (scans, re-matching after a database update, imports, tests)
 * keeps them exact, and the overview and image list read 1 row per image instead of aggregating
 * every finding (1,000,000 in the center benchmark). Existing findings are counted once here.
 */
const COUNTS = (rows: string, sign: '' | '-') => `
  select digest,
    ${sign}count(*) filter (where severity = 'critical'),
    ${sign}count(*) filter (where severity = 'high'),
    ${sign}count(*) filter (where severity = 'medium'),
    ${sign}count(*) filter (where severity = 'low'),
    ${sign}count(*) filter (where severity not in ('critical', 'high', 'medium', 'low'))
  from ${rows} group by digest order by digest`;

// Rows are locked in digest order, so concurrent statements over several images cannot deadlock.
const APPLY = (rows: string, sign: '' | '-') => `
    insert into image_finding_counts as c (digest, critical, high, medium, low, unknown) ${COUNTS(rows, sign)}
    on conflict (digest) do update set critical = c.critical + excluded.critical, high = c.high + excluded.high,
      medium = c.medium + excluded.medium, low = c.low + excluded.low, unknown = c.unknown + excluded.unknown;`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('image_finding_counts')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('critical', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('high', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('medium', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('low', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('unknown', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // The overview's "images with the most critical, then high, findings".
  await sql`create index image_finding_counts_worst on image_finding_counts (critical desc, high desc, digest)`.execute(db);

  await sql.raw(`
    create function image_finding_counts_inserted() returns trigger language plpgsql as $$
    begin ${APPLY('new_rows', '')} return null; end $$;
    create function image_finding_counts_deleted() returns trigger language plpgsql as $$
    begin ${APPLY('old_rows', '-')} return null; end $$;
    create function image_finding_counts_updated() returns trigger language plpgsql as $$
    begin ${APPLY('old_rows', '-')} ${APPLY('new_rows', '')} return null; end $$;`).execute(db);
  await sql`create trigger findings_counts_insert after insert on findings referencing new table as new_rows for each statement execute function image_finding_counts_inserted()`.execute(db);
  await sql`create trigger findings_counts_delete after delete on findings referencing old table as old_rows for each statement execute function image_finding_counts_deleted()`.execute(db);
  await sql`create trigger findings_counts_update after update on findings referencing old table as old_rows new table as new_rows for each statement execute function image_finding_counts_updated()`.execute(db);
  // An existing database: count what is already stored.
  await sql.raw(`insert into image_finding_counts (digest, critical, high, medium, low, unknown) ${COUNTS('findings', '')}`).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const trigger of ['findings_counts_insert', 'findings_counts_delete', 'findings_counts_update']) {
    await sql`drop trigger if exists ${sql.raw(trigger)} on findings`.execute(db);
  }
  for (const fn of ['image_finding_counts_inserted', 'image_finding_counts_deleted', 'image_finding_counts_updated']) {
    await sql`drop function if exists ${sql.raw(fn)}()`.execute(db);
  }
  await db.schema.dropTable('image_finding_counts').ifExists().execute();
}
