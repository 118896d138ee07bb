/**
 * The advisory store: OSV records in the database (migration 0200_vulndb), written in batches
 * with one transaction each; a generation counter in palisade_meta changes with every write.
 * Matching does not query these tables: it reads the advisory database file built from them
 * (publish.ts, file.ts).
 */
import { createHash } from 'node:crypto';
import type { Generated, Kysely } from 'kysely';
import type { Database, Store } from '../store/index.js';
import { indexKey, packageKey } from './match.js';
import type { OsvRecord } from './osv.js';
import { baseEcosystem } from './versions/index.js';

export interface VulnAdvisoryTable {
  id: string;
  modified: string | number;
  withdrawn: Generated<boolean>;
  hash: string;
  record: string;
  imported_at: string | number;
  run_id: string | null;
}

export interface VulnAffectedTable {
  ecosystem: string;
  name: string;
  advisory_id: string;
}

export interface VulnImportRunTable {
  id: string;
  source: string;
  status: string;
  started_at: string | number;
  finished_at: string | number | null;
  added: Generated<number>;
  changed: Generated<number>;
  unchanged: Generated<number>;
  skipped: Generated<number>;
  warnings: Generated<number>;
  error: string | null;
}

export interface VulnEcosystemUpdateTable {
  ecosystem: string;
  updated_at: string | number;
  source: string;
}

declare module '../store/schema.js' {
  interface Database {
    vuln_advisories: VulnAdvisoryTable;
    vuln_affected: VulnAffectedTable;
    vuln_import_runs: VulnImportRunTable;
    vuln_ecosystem_updates: VulnEcosystemUpdateTable;
  }
}

const GENERATION_KEY = 'vulndb.generation';

/**
 * Kysely is loaded when SQL runs, not when vulndb is imported: a one-shot scan reads the advisory
 * file and never touches the store, and loading the query builder is a noticeable part of its start.
 */
export const loadKysely = () => import('kysely');


export interface PreparedAdvisory {
  record: OsvRecord;
  json: string;
  hash: string;
  modifiedMs: number;
  /** (ecosystem, key) pairs this record is indexed under. */
  keys: Array<[string, string]>;
}

export function prepareAdvisory(record: OsvRecord): PreparedAdvisory {
  const json = JSON.stringify(record);
  const keys = new Map<string, [string, string]>();
  for (const a of record.affected) {
    const eco = baseEcosystem(a.package.ecosystem);
    const key = packageKey(eco, a.package.name);
    keys.set(indexKey(eco, key), [eco, key]);
  }
  return {
    record,
    json,
    hash: createHash('sha256').update(json).digest('hex'),
    modifiedMs: Date.parse(record.modified),
    keys: [...keys.values()],
  };
}

export type WriteOutcome = 'added' | 'changed' | 'unchanged';

/**
 * Writes one batch in one transaction. A record is written when it is new, or when its content
 * differs and it is not older than the stored one (an older archive never rolls data back).
 */
export async function writeAdvisoryBatch(
  db: Kysely<Database>,
  batch: PreparedAdvisory[],
  runId: string,
  nowMs: number,
): Promise<Map<string, WriteOutcome>> {
  const { sql } = await loadKysely();
  const outcomes = new Map<string, WriteOutcome>();
  if (batch.length === 0) return outcomes;
  await db.transaction().execute(async (trx) => {
    // A crash may lose the last committed batches but never corrupts: the next run re-imports
    // them (imports are incremental), so commits need not wait for the WAL flush.
    await sql`set local synchronous_commit = off`.execute(trx);
    const ids = JSON.stringify(batch.map((b) => b.record.id));
    const existing = await sql<{ id: string; hash: string; modified: string | number }>`
      select id, hash, modified from vuln_advisories where id in (select json_array_elements_text(${ids}::json))`.execute(trx);
    const stored = new Map(existing.rows.map((r) => [r.id, r]));
    const write: PreparedAdvisory[] = [];
    for (const b of batch) {
      const old = stored.get(b.record.id);
      if (!old) {
        outcomes.set(b.record.id, 'added');
        write.push(b);
      } else if (old.hash !== b.hash && Number(old.modified) <= b.modifiedMs) {
        outcomes.set(b.record.id, 'changed');
        write.push(b);
      } else {
        outcomes.set(b.record.id, 'unchanged');
      }
    }
    if (write.length === 0) return;
    const changedIds = write.filter((b) => outcomes.get(b.record.id) === 'changed').map((b) => b.record.id);
    if (changedIds.length) {
      await sql`delete from vuln_affected where advisory_id in (select json_array_elements_text(${JSON.stringify(changedIds)}::json))`.execute(trx);
    }
    // The record goes in as a JSON value, not a JSON string holding JSON: no second round of escaping.
    const rows = `[${write
      .map((b) => `{"id":${JSON.stringify(b.record.id)},"modified":${b.modifiedMs},"withdrawn":${!!b.record.withdrawn},"hash":"${b.hash}","record":${b.json}}`)
      .join(',')}]`;
    // One JSON parameter instead of thousands of placeholders: far faster on PGlite, same SQL on PostgreSQL.
    await sql`
      insert into vuln_advisories (id, modified, withdrawn, hash, record, imported_at, run_id)
      select id, modified, withdrawn, hash, record::text, ${nowMs}::bigint, ${runId}::text
      from json_to_recordset(${rows}::json) as x(id text, modified bigint, withdrawn boolean, hash text, record json)
      on conflict (id) do update set modified = excluded.modified, withdrawn = excluded.withdrawn, hash = excluded.hash,
        record = excluded.record, imported_at = excluded.imported_at, run_id = excluded.run_id`.execute(trx);
    const affected = JSON.stringify(write.flatMap((b) => b.keys.map(([ecosystem, name]) => ({ ecosystem, name, advisory_id: b.record.id }))));
    await sql`
      insert into vuln_affected (ecosystem, name, advisory_id)
      select ecosystem, name, advisory_id from json_to_recordset(${affected}::json) as x(ecosystem text, name text, advisory_id text)
      on conflict do nothing`.execute(trx);
    await bumpGeneration(trx);
  });
  return outcomes;
}

async function bumpGeneration(db: Kysely<Database>): Promise<void> {
  const { sql } = await loadKysely();
  await sql`insert into palisade_meta (key, value) values (${GENERATION_KEY}, '1')
    on conflict (key) do update set value = (palisade_meta.value::bigint + 1)::text`.execute(db);
}

export async function readGeneration(db: Kysely<Database>): Promise<string> {
  const row = await db.selectFrom('palisade_meta').select('value').where('key', '=', GENERATION_KEY).executeTakeFirst();
  return row?.value ?? '0';
}

export interface EcosystemStatus {
  ecosystem: string;
  advisories: number;
  newestModified?: Date;
  lastUpdate?: Date;
  lastUpdateSource?: string;
}

export interface DbStatus {
  advisories: number;
  ecosystems: EcosystemStatus[];
  lastImport?: { id: string; source: string; status: string; startedAt: Date; finishedAt?: Date; added: number; changed: number; warnings: number };
}

/** Per ecosystem: how many advisories, the newest `modified`, and when it was last updated. */
export async function dbStatus(store: Pick<Store, 'db'>): Promise<DbStatus> {
  const { sql } = await loadKysely();
  const db = store.db;
  const counts = await sql<{ ecosystem: string; advisories: string | number; newest: string | number | null }>`
    select a.ecosystem, count(distinct a.advisory_id) as advisories, max(v.modified) as newest
    from vuln_affected a join vuln_advisories v on v.id = a.advisory_id
    where not v.withdrawn group by a.ecosystem order by a.ecosystem`.execute(db);
  const updates = await db.selectFrom('vuln_ecosystem_updates').selectAll().execute();
  const byEco = new Map<string, EcosystemStatus>();
  for (const r of counts.rows) {
    const s: EcosystemStatus = { ecosystem: r.ecosystem, advisories: Number(r.advisories) };
    if (r.newest !== null) s.newestModified = new Date(Number(r.newest));
    byEco.set(r.ecosystem, s);
  }
  for (const u of updates) {
    const s = byEco.get(u.ecosystem) ?? { ecosystem: u.ecosystem, advisories: 0 };
    s.lastUpdate = new Date(Number(u.updated_at));
    s.lastUpdateSource = u.source;
    byEco.set(u.ecosystem, s);
  }
  const total = await db.selectFrom('vuln_advisories').select((eb) => eb.fn.countAll<string>().as('n')).where('withdrawn', '=', false).executeTakeFirst();
  const last = await db.selectFrom('vuln_import_runs').selectAll().orderBy('started_at', 'desc').limit(1).executeTakeFirst();
  const status: DbStatus = {
    advisories: Number(total?.n ?? 0),
    ecosystems: [...byEco.values()].sort((a, b) => a.ecosystem.localeCompare(b.ecosystem)),
  };
  if (last) {
    status.lastImport = {
      id: last.id,
      source: last.source,
      status: last.status,
      startedAt: new Date(Number(last.started_at)),
      ...(last.finished_at !== null ? { finishedAt: new Date(Number(last.finished_at)) } : {}),
      added: last.added,
      changed: last.changed,
      warnings: last.warnings,
    };
  }
  return status;
}

export async function recordEcosystemUpdate(db: Kysely<Database>, ecosystem: string, atMs: number, source: string): Promise<void> {
  await db.insertInto('vuln_ecosystem_updates').values({ ecosystem, updated_at: atMs, source })
    .onConflict((oc) => oc.column('ecosystem').doUpdateSet({ updated_at: atMs, source })).execute();
}

/**
 * The packages (ecosystem, normalized name) that advisories name: after an update, only stored
 * inventories holding one of these need re-matching.
 */
export async function packagesForAdvisories(store: Pick<Store, 'db'>, ids: readonly string[]): Promise<Array<{ ecosystem: string; name: string }>> {
  const { sql } = await loadKysely();
  const out: Array<{ ecosystem: string; name: string }> = [];
  for (let i = 0; i < ids.length; i += 5000) {
    const chunk = JSON.stringify(ids.slice(i, i + 5000));
    const rows = await sql<{ ecosystem: string; name: string }>`
      select distinct ecosystem, name from vuln_affected where advisory_id in (select json_array_elements_text(${chunk}::json))`.execute(store.db);
    out.push(...rows.rows);
  }
  const seen = new Set<string>();
  return out.filter((p) => {
    const k = indexKey(p.ecosystem, p.name);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  }).sort((a, b) => a.ecosystem.localeCompare(b.ecosystem) || a.name.localeCompare(b.name));
}
