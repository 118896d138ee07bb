import type { Kysely } from 'kysely';

/**
 * Runs `work` in a transaction, joining the caller's when there is one: aggregates compose
 * (a scan records findings and alerts in one commit) without each knowing who called it.
 */
export function inTransaction<DB, T>(db: Kysely<DB>, work: (tx: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}
