/** Admission decisions kept for the security center (never dry runs). */
import type { ColumnType, JSONColumnType, Kysely } from 'kysely';
import type { IdSource } from '../core/index.js';
import { randomIds } from '../core/index.js';
import type { Database } from '../store/schema.js';
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

/**
 * Records a decision unless it was a dry run or had nothing to say (allowed without findings):
 * the log is for what policies found, not a copy of every write to the cluster.
 */
export async function recordAdmission(db: Kysely<Database>, outcome: AdmissionOutcome, at: Date, cluster = 'default', ids: IdSource = randomIds): Promise<boolean> {
  if (!outcome.record || outcome.results.length === 0) return false;
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
