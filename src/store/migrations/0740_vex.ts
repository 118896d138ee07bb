import { sql, type Kysely } from 'kysely';

/**
 * Uploaded OpenVEX documents (src/vex), and findings a VEX statement suppresses. The statement a
 * finding carries is kept in its `detail.vex` (the findings API serves it as is); `suppressed` is
 * derived from it by the database, so counts, the recommendations and their readers filter on one
 * column and no writer can forget it. The per-image counts of migration 0701 now leave suppressed
 * findings out: their triggers see the generated column in the transition tables, so setting or
 * clearing a finding's statement (an UPDATE) moves it out of or back into the counts in the same
 * transaction.
 */
const COUNTS = (rows: string, sign: '' | '-') => `
  select digest,
    ${sign}count(*) filter (where severity = 'critical'),
    ${sign}count(*) filter (where severity = 'high'),
    ${sign}count(*) filter (where severity = 'medium'),
    ${sign}count(*) filter (where severity = 'low'),
    ${sign}count(*) filter (where severity not in ('critical', 'high', 'medium', 'low'))
  from ${rows} where not suppressed group by digest order by digest`;

const APPLY = (rows: string, sign: '' | '-') => `
    insert into image_finding_counts as c (digest, critical, high, medium, low, unknown) ${COUNTS(rows, sign)}
    on conflict (digest) do update set critical = c.critical + excluded.critical, high = c.high + excluded.high,
      medium = c.medium + excluded.medium, low = c.low + excluded.low, unknown = c.unknown + excluded.unknown;`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('vex_documents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('iri', 'text')
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('role', 'text')
    .addColumn('timestamp', 'timestamptz')
    .addColumn('version', 'integer')
    .addColumn('statement_count', 'integer', (c) => c.notNull())
    .addColumn('document', 'jsonb', (c) => c.notNull())
    .addColumn('uploaded_by', 'text', (c) => c.notNull())
    .addColumn('uploaded_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createTable('vex_statements')
    .addColumn('document_id', 'text', (c) => c.notNull().references('vex_documents.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('statement', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('vex_statements_pk', ['document_id', 'position'])
    .execute();
  await db.schema.createTable('vex_statement_vulnerabilities')
    .addColumn('document_id', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('vulnerability', 'text', (c) => c.notNull())
    .addForeignKeyConstraint('vex_statement_vulnerabilities_statement', ['document_id', 'position'], 'vex_statements', ['document_id', 'position'], (c) => c.onDelete('cascade'))
    .execute();
  await db.schema.createIndex('vex_statement_vulnerabilities_name').on('vex_statement_vulnerabilities').columns(['vulnerability']).execute();
  await db.schema.createIndex('vex_statement_vulnerabilities_statement').on('vex_statement_vulnerabilities').columns(['document_id', 'position']).execute();

  await sql`alter table findings add column suppressed boolean not null
    generated always as (coalesce((detail->'vex'->>'status') in ('not_affected', 'fixed'), false)) stored`.execute(db);
  await sql.raw(`
    create or replace function image_finding_counts_inserted() returns trigger language plpgsql as $$
    begin ${APPLY('new_rows', '')} return null; end $$;
    create or replace function image_finding_counts_deleted() returns trigger language plpgsql as $$
    begin ${APPLY('old_rows', '-')} return null; end $$;
    create or replace function image_finding_counts_updated() returns trigger language plpgsql as $$
    begin ${APPLY('old_rows', '-')} ${APPLY('new_rows', '')} return null; end $$;`).execute(db);
  // Recount what is stored (nothing is suppressed yet, but keep the counts exact by construction).
  await sql`delete from image_finding_counts`.execute(db);
  await sql.raw(`insert into image_finding_counts (digest, critical, high, medium, low, unknown) ${COUNTS('findings', '')}`).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  const all = (rows: string, sign: '' | '-') => APPLY(rows, sign).replace(' where not suppressed', '');
  await sql.raw(`
    create or replace function image_finding_counts_inserted() returns trigger language plpgsql as $$
    begin ${all('new_rows', '')} return null; end $$;
    create or replace function image_finding_counts_deleted() returns trigger language plpgsql as $$
    begin ${all('old_rows', '-')} return null; end $$;
    create or replace function image_finding_counts_updated() returns trigger language plpgsql as $$
    begin ${all('old_rows', '-')} ${all('new_rows', '')} return null; end $$;`).execute(db);
  await sql`alter table findings drop column if exists suppressed`.execute(db);
  await sql`delete from image_finding_counts`.execute(db);
  await sql.raw(`insert into image_finding_counts (digest, critical, high, medium, low, unknown) ${COUNTS('findings', '').replace(' where not suppressed', '')}`).execute(db);
  await db.schema.dropTable('vex_statement_vulnerabilities').ifExists().execute();
  await db.schema.dropTable('vex_statements').ifExists().execute();
  await db.schema.dropTable('vex_documents').ifExists().execute();
}
