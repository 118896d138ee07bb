/** Admission decisions kept for the security center (never dry runs). */
import type { ColumnType, JSONColumnType, Kysely } from 'kysely';
import type { IdSource } from '../core/index.js';
import { randomIds } from '../core/index.js';
import type { Database } from '../store/index.js';
import type { AdmissionOutcome } from './admission.js';
import type { PolicyResult } from './model.js';

export interface AdmissionDecisionTable {
  id: string;
  uid: string;
  cluster: string;
  operation: string;
  kind: string;
  namespace: string | null;
  name: string | null;
  username: string | null;
  allowed: boolean;
  results: JSONColumnType<PolicyResult[], string, string>;
  at: ColumnType<Date, Date | string, Date | string>;
}

declare module '../store/schema.js' {
  interface Database {
    admission_decisions: AdmissionDecisionTable;
  }
}

export interface AdmissionDecision {
  id: string;
  uid: string;
  cluster: string;
  operation: string;
  kind: string;
  namespace?: string;
  name?: string;
  username?: string;
  allowed: boolean;
  results: PolicyResult[];
  at: Date;
}

/** Decisions are kept this many days unless configured (`admissionLogRetentionDays`). */
export const DEFAULT_ADMISSION_RETENTION_DAYS = 30;
const PRUNE_EVERY_MS = 60 * 60 * 1000;
const lastPruned = new WeakMap<object, number>();

/** Deletes decisions recorded before `before`; returns how many. */
export async function pruneAdmissionDecisions(db: Kysely<Database>, before: Date): Promise<number> {
  const result = await db.deleteFrom('admission_decisions').where('at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Records a decision unless it was a dry run or had nothing to say (allowed without findings):
 * the log is for what policies found, not a copy of every write to the cluster. Decisions older
 * than the retention are deleted on the way, at most once an hour per process, so the log stays
 * bounded without a job of its own (a busy cluster writes thousands of decisions a day).
 */
export async function recordAdmission(db: Kysely<Database>, outcome: AdmissionOutcome, at: Date, cluster = 'default', ids: IdSource = randomIds,
  retentionDays = DEFAULT_ADMISSION_RETENTION_DAYS): Promise<boolean> {
  if (!outcome.record || outcome.results.length === 0) return false;
  const last = lastPruned.get(db);
  if (last === undefined || Math.abs(at.getTime() - last) >= PRUNE_EVERY_MS) {
    lastPruned.set(db, at.getTime());
    await pruneAdmissionDecisions(db, new Date(at.getTime() - retentionDays * 24 * 60 * 60 * 1000));
  }
  const r = outcome.request;
  const object = r.object ?? undefined;
  await db.insertInto('admission_decisions').values({
    id: ids.next('adm_'),
    uid: r.uid,
    cluster,
    operation: r.operation,
    kind: String(object?.kind ?? r.kind.kind),
    namespace: object?.metadata?.namespace ?? r.namespace ?? null,
    name: object?.metadata?.name ?? r.name ?? null,
    username: r.userInfo?.username ?? null,
    allowed: outcome.review.response.allowed,
    results: JSON.stringify(outcome.results),
    at,
  }).execute();
  return true;
}

export async function listAdmissionDecisions(db: Kysely<Database>, options: { cluster?: string; limit?: number } = {}): Promise<AdmissionDecision[]> {
  let q = db.selectFrom('admission_decisions').selectAll().orderBy('at', 'desc').orderBy('id', 'desc').limit(options.limit ?? 100);
  if (options.cluster) q = q.where('cluster', '=', options.cluster);
  const rows = await q.execute();
  return rows.map((row) => ({
    id: row.id, uid: row.uid, cluster: row.cluster, operation: row.operation, kind: row.kind,
    ...(row.namespace ? { namespace: row.namespace } : {}),
    ...(row.name ? { name: row.name } : {}),
    ...(row.username ? { username: row.username } : {}),
    allowed: row.allowed,
    results: typeof row.results === 'string' ? (JSON.parse(row.results) as PolicyResult[]) : row.results,
    at: new Date(row.at),
  }));
}
