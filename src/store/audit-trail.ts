import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Who did what to which object: every state-changing user action is recorded here. */
export interface TrailEntry {
  actor: string;
  action: string;
  target: string;
  details?: Record<string, unknown>;
  at: Date;
}

export async function recordAction(db: Kysely<Database>, entry: TrailEntry): Promise<void> {
  await db.insertInto('audit_trail').values({
    actor: entry.actor,
    action: entry.action,
    target: entry.target,
    details: JSON.stringify(entry.details ?? {}),
    at: entry.at,
  }).execute();
}

export async function listActions(db: Kysely<Database>, target?: string): Promise<TrailEntry[]> {
  let query = db.selectFrom('audit_trail').selectAll().orderBy('id');
  if (target) query = query.where('target', '=', target);
  const rows = await query.execute();
  return rows.map((r) => ({ actor: r.actor, action: r.action, target: r.target, details: r.details, at: r.at }));
}
