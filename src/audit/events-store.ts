import { sql, type ColumnType, type Generated, type JSONColumnType, type Kysely, type RawBuilder } from 'kysely';
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
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}

/**
 * Stores a batch of events (the caller has left out those stored before: see unseenAuditEvents).
 * The batch travels as one jsonb array parameter that PostgreSQL unpacks itself: one statement,
 * one parameter, instead of thousands of bound values (measured: 4x faster for 400 events).
 * `on conflict do nothing` keeps a batch whose twin committed in the meantime (a resend racing its
 * original) from failing; nothing is returned, which the caller does not need.
 */
export async function storeAuditEvents(db: Kysely<Database>, cluster: string, events: AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  // The same (auditID, stage) twice inside one batch is one event.
  const unique = new Map<string, AuditEvent>();
  for (const e of events) unique.set(`${withoutNul(e.auditID)}\u0000${withoutNul(e.stage)}`, e);
  const list = [...unique.values()];
  for (let i = 0; i < list.length; i += CHUNK) {
    const json = JSON.stringify(list.slice(i, i + CHUNK)).replace(/\\u0000/g, '\\ufffd');
    await sql`
      insert into audit_events (cluster, audit_id, stage, received_at, verb, resource, namespace, username, event)
      select ${cluster}, e->>'auditID', e->>'stage', (e->>'requestReceivedTimestamp')::timestamptz, e->>'verb',
             e->'objectRef'->>'resource', e->'objectRef'->>'namespace', e->'user'->>'username', e
      from jsonb_array_elements(${json}::jsonb) as e
      on conflict (cluster, audit_id, stage) do nothing`.execute(db);
  }
}

/** The events of a batch not stored yet (a batch the apiserver re-sends after a timeout has been). */
export async function unseenAuditEvents(db: Kysely<Database>, cluster: string, events: AuditEvent[]): Promise<AuditEvent[]> {
  const unique = new Map<string, AuditEvent>();
  for (const e of events) unique.set(`${e.auditID}\u0000${e.stage}`, e);
  if (unique.size === 0) return [];
  const ids = [...new Set(events.map((e) => withoutNul(e.auditID)))];
  const seen = new Set<string>();
  // One probe of the primary key per id, whatever the statistics say. Written as a plain
  // `audit_id = any(...)` filter, a table whose statistics predate its growth (any new install's
  // first minutes) is read through the (cluster, received_at) index instead: every event of the
  // cluster per batch (measured: 20 ms at 32,000 stored events, and growing). `offset 0` keeps
  // the lateral subquery from being flattened into a join the planner may hash.
  const rows = await storedStagesQuery(cluster, ids).execute(db);
  for (const r of rows.rows) seen.add(`${r.audit_id}\u0000${r.stage}`);
  return [...unique.values()].filter((e) => !seen.has(`${withoutNul(e.auditID)}\u0000${withoutNul(e.stage)}`));
}

/** The stages stored for these auditIDs of a cluster (exported for the test of its query plan). */
export function storedStagesQuery(cluster: string, ids: string[]): RawBuilder<{ audit_id: string; stage: string }> {
  return sql<{ audit_id: string; stage: string }>`
    select i.id as audit_id, e.stage from unnest(${ids}::text[]) as i(id)
    cross join lateral (select stage from audit_events where cluster = ${cluster} and audit_id = i.id offset 0) as e`;
}

/** Deletes events received before `before` (retention); returns how many. */
export async function pruneAuditEvents(db: Kysely<Database>, before: Date): Promise<number> {
  const result = await db.deleteFrom('audit_events').where('received_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** When this cluster last sent an audit event, if ever (the posture check "audit logs connected" reads it). */
export async function lastAuditEventAt(db: Kysely<Database>, cluster: string): Promise<Date | undefined> {
  const row = await db.selectFrom('audit_events').select('received_at').where('cluster', '=', cluster)
    .orderBy('received_at', 'desc').limit(1).executeTakeFirst();
  return row ? new Date(row.received_at) : undefined;
}
