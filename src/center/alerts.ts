import { sql, type Kysely, type Selectable } from 'kysely';
import { randomIds, sha256Hex, type Alert, type AlertSource, type AlertStatus, type ResourceRef, type Severity } from '../core/index.js';
import type { Database } from '../store/index.js';

/** What a capability reports; the center turns it into a new alert or updates the one it repeats. */
export type DetectedThreat = Pick<Alert, 'rule' | 'title' | 'severity' | 'tactic' | 'technique' | 'resource' | 'evidence' | 'remediation' | 'source'> & {
  /** When the threat happened (event time), not when it was processed. */
  at: Date;
  /** Occurrences this report stands for (an engine may have deduplicated already). */
  count?: number;
  /** The last of those occurrences, when the engine folded several (defaults to `at`). */
  lastSeen?: Date;
};

export interface RecordedThreats {
  created: string[];
  updated: string[];
  /** The alert each dedupe key was written to, and whether this call created it. */
  byKey: Map<string, { id: string; created: boolean }>;
}

/** Default dedupe window: the same rule on the same resource within a day is one alert. */
export const DEFAULT_ALERT_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Evidence kept per alert: the first events and the latest, bounded. */
const MAX_EVIDENCE = 20;

export function dedupeKey(threat: Pick<DetectedThreat, 'rule' | 'resource' | 'at'>, windowMs = DEFAULT_ALERT_WINDOW_MS): string {
  const windowStart = Math.floor(threat.at.getTime() / windowMs) * windowMs;
  return sha256Hex(`${threat.rule}\u0000${threat.resource.kind}\u0000${threat.resource.id}\u0000${windowStart}`);
}

/**
 * Records threats in one statement: a repeat (same rule, resource and window) raises the count
 * and last seen of the existing alert instead of adding another. Threats are merged per key and
 * written in key order, so concurrent batches lock rows in the same order and cannot deadlock.
 * Returns the alerts created, so callers can notify on new ones only.
 */
export async function recordThreats(db: Kysely<Database>, threats: DetectedThreat[], windowMs = DEFAULT_ALERT_WINDOW_MS): Promise<RecordedThreats> {
  const created: string[] = [];
  const updated: string[] = [];
  const byKey = new Map<string, { id: string; created: boolean }>();
  if (!threats.length) return { created, updated, byKey };
  const merged = new Map<string, { threat: DetectedThreat; count: number; first: Date; last: Date; evidence: unknown[] }>();
  for (const threat of threats) {
    const key = dedupeKey(threat, windowMs);
    const seen = merged.get(key);
    const last = threat.lastSeen && threat.lastSeen > threat.at ? threat.lastSeen : threat.at;
    if (!seen) {
      merged.set(key, { threat, count: threat.count ?? 1, first: threat.at, last, evidence: threat.evidence.slice(0, MAX_EVIDENCE) });
      continue;
    }
    seen.count += threat.count ?? 1;
    if (threat.at < seen.first) seen.first = threat.at;
    if (last > seen.last) seen.last = last;
    if (seen.evidence.length < MAX_EVIDENCE) seen.evidence.push(...threat.evidence.slice(0, MAX_EVIDENCE - seen.evidence.length));
  }
  const rows = [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, { threat, count, first, last, evidence }]) => ({
    id: randomIds.next('alr_'),
    rule: threat.rule,
    title: threat.title,
    severity: threat.severity,
    tactic: threat.tactic,
    technique: threat.technique ?? null,
    source: threat.source,
    resource_kind: threat.resource.kind,
    resource_id: threat.resource.id,
    cluster: threat.resource.cluster ?? null,
    namespace: threat.resource.namespace ?? null,
    resource: JSON.stringify(threat.resource),
    evidence: JSON.stringify(evidence),
    remediation: threat.remediation,
    first_seen: first,
    last_seen: last,
    count,
    status: 'active',
    dedupe_key: key,
  }));
  const result = await db.insertInto('alerts').values(rows)
    .onConflict((oc) => oc.column('dedupe_key').doUpdateSet((eb) => ({
      count: eb('alerts.count', '+', eb.ref('excluded.count')),
      last_seen: eb.fn('greatest', [eb.ref('alerts.last_seen'), eb.ref('excluded.last_seen')]),
      first_seen: eb.fn('least', [eb.ref('alerts.first_seen'), eb.ref('excluded.first_seen')]),
    })))
    .returning(['id', 'dedupe_key', sql<boolean>`(xmax = 0)`.as('inserted')])
    .execute();
  for (const row of result) {
    (row.inserted ? created : updated).push(row.id);
    byKey.set(row.dedupe_key, { id: row.id, created: row.inserted });
  }
  return { created, updated, byKey };
}

export interface AlertFilter {
  severity?: Severity[];
  status?: AlertStatus[];
  source?: AlertSource[];
  cluster?: string;
  namespace?: string;
  /** Exactly this resource (ResourceRef.id): an incident's alerts. */
  resource?: string;
  tactic?: string;
  rule?: string;
  since?: Date;
  search?: string;
}

export function toAlert(row: Selectable<Database['alerts']>): Alert {
  return {
    id: row.id,
    rule: row.rule,
    title: row.title,
    severity: row.severity as Severity,
    tactic: row.tactic,
    technique: row.technique ?? undefined,
    resource: row.resource as unknown as ResourceRef,
    evidence: row.evidence as unknown[],
    remediation: row.remediation,
    source: row.source as AlertSource,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    count: row.count,
    status: row.status as AlertStatus,
  };
}

/** Newest first, keyset-paginated on (last_seen, id). */
export async function listAlerts(db: Kysely<Database>, filter: AlertFilter, limit: number, after?: [string, string]): Promise<Alert[]> {
  let query = db.selectFrom('alerts').selectAll();
  if (filter.severity?.length) query = query.where('severity', 'in', filter.severity);
  if (filter.status?.length) query = query.where('status', 'in', filter.status);
  if (filter.source?.length) query = query.where('source', 'in', filter.source);
  if (filter.cluster) query = query.where('cluster', '=', filter.cluster);
  if (filter.namespace) query = query.where('namespace', '=', filter.namespace);
  if (filter.resource) query = query.where('resource_id', '=', filter.resource);
  if (filter.tactic) query = query.where('tactic', '=', filter.tactic);
  if (filter.rule) query = query.where('rule', '=', filter.rule);
  if (filter.since) query = query.where('last_seen', '>=', filter.since);
  if (filter.search) {
    const like = `%${filter.search.replace(/[%_\\]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) => eb.or([eb('title', 'ilike', like), eb('rule', 'ilike', like), eb('resource_id', 'ilike', like)]));
  }
  if (after) {
    const [lastSeen, id] = after;
    query = query.where((eb) => eb.or([
      eb('last_seen', '<', new Date(lastSeen)),
      eb.and([eb('last_seen', '=', new Date(lastSeen)), eb('id', '<', id)]),
    ]));
  }
  const rows = await query.orderBy('last_seen', 'desc').orderBy('id', 'desc').limit(limit).execute();
  return rows.map(toAlert);
}

export async function getAlert(db: Kysely<Database>, id: string): Promise<Alert | undefined> {
  const row = await db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toAlert(row) : undefined;
}

export async function setAlertStatus(db: Kysely<Database>, id: string, status: AlertStatus): Promise<boolean> {
  const result = await db.updateTable('alerts').set({ status }).where('id', '=', id).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
