import type { ColumnType, Generated, JSONColumnType, Kysely } from 'kysely';
import type { Database } from '../store/index.js';
import type { AuditEvent } from './event.js';

export interface AuditEventTable {
  cluster: string;
  audit_id: string;
  stage: string;
  received_at: ColumnType<Date, Date | string, Date | string>;
  stored_at: Generated<Date>;
  verb: string;
  resource: string | null;
  namespace: string | null;
  username: string;
  event: JSONColumnType<AuditEvent, string, string>;
}

declare module '../store/schema.js' {
  interface Database {
    audit_events: AuditEventTable;
  }
}

/** 400 events of ~2 KB each in one statement stays well under PostgreSQL's parameter limit. */
const CHUNK = 400;

/** PostgreSQL text and jsonb cannot hold NUL; a hostile event must not make its batch fail forever. */
export function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replace(/\u0000/g, '\uFFFD') : text;
}

/**
 * Stores a batch of events in one transaction and returns the ones that were new: a batch the
 * apiserver re-sends (after a timeout, a restart) must not be detected on twice.
 */
export async function storeAuditEvents(db: Kysely<Database>, cluster: string, events: AuditEvent[]): Promise<AuditEvent[]> {
  if (events.length === 0) return [];
  // The same (auditID, stage) twice inside one batch is one event.
  const unique = new Map<string, AuditEvent>();
  for (const e of events) unique.set(`${e.auditID}\u0000${e.stage}`, e);
  const fresh = new Set<string>();
  await db.transaction().execute(async (tx) => {
    const rows = [...unique.values()].map((e) => ({
      cluster,
      audit_id: withoutNul(e.auditID),
      stage: withoutNul(e.stage),
      received_at: e.requestReceivedTimestamp,
      verb: withoutNul(e.verb),
      resource: e.objectRef?.resource === undefined ? null : withoutNul(e.objectRef.resource),
      namespace: e.objectRef?.namespace === undefined ? null : withoutNul(e.objectRef.namespace),
      username: withoutNul(e.user.username),
      event: JSON.stringify(e).replace(/\\u0000/g, '\\ufffd'),
    }));
    for (let i = 0; i < rows.length; i += CHUNK) {
      const inserted = await tx.insertInto('audit_events').values(rows.slice(i, i + CHUNK))
        .onConflict((oc) => oc.columns(['cluster', 'audit_id', 'stage']).doNothing())
        .returning(['audit_id', 'stage']).execute();
      for (const r of inserted) fresh.add(`${r.audit_id}\u0000${r.stage}`);
    }
  });
  return [...unique.entries()].filter(([, e]) => fresh.has(`${withoutNul(e.auditID)}\u0000${withoutNul(e.stage)}`)).map(([, e]) => e);
}

/** The events of a batch not stored yet (a batch the apiserver re-sends after a timeout has been). */
export async function unseenAuditEvents(db: Kysely<Database>, cluster: string, events: AuditEvent[]): Promise<AuditEvent[]> {
  const unique = new Map<string, AuditEvent>();
  for (const e of events) unique.set(`${e.auditID}\u0000${e.stage}`, e);
  if (unique.size === 0) return [];
  const ids = [...new Set(events.map((e) => withoutNul(e.auditID)))];
  const seen = new Set<string>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await db.selectFrom('audit_events').select(['audit_id', 'stage'])
      .where('cluster', '=', cluster).where('audit_id', 'in', ids.slice(i, i + CHUNK)).execute();
    for (const r of rows) seen.add(`${r.audit_id}\u0000${r.stage}`);
  }
  return [...unique.values()].filter((e) => !seen.has(`${withoutNul(e.auditID)}\u0000${withoutNul(e.stage)}`));
}

/** Deletes events received before `before` (retention); returns how many. */
export async function pruneAuditEvents(db: Kysely<Database>, before: Date): Promise<number> {
  const result = await db.deleteFrom('audit_events').where('received_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
