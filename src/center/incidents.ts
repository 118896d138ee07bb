/**
 * Security incidents as Defender groups them: the alerts raised on one resource, taken together,
 * since several alerts on one pod (exec, then a miner, then an outbound connection) are one
 * attack far more often than chance. An incident is any resource with two or more alerts of the
 * chosen statuses, activity records (informational) aside; it carries the highest severity and the tactics in kill-chain order.
 */
import { sql, type Kysely } from 'kysely';
import { compareSeverity, type AlertStatus, type ResourceRef, type Severity } from '../core/index.js';
import type { Database } from '../store/index.js';

/** MITRE ATT&CK enterprise tactics in kill-chain order. */
export const TACTIC_ORDER = [
  'Reconnaissance', 'Resource Development', 'Initial Access', 'Execution', 'Persistence', 'Privilege Escalation', 'Defense Evasion',
  'Credential Access', 'Discovery', 'Lateral Movement', 'Collection', 'Command and Control', 'Exfiltration', 'Impact',
] as const;

export interface Incident {
  resource: ResourceRef;
  severity: Severity;
  /** Distinct tactics of its alerts, in kill-chain order (unknown ones last). */
  tactics: string[];
  alertCount: number;
  /** Its most recent alerts (at most 10), newest first. */
  alerts: { id: string; title: string; severity: Severity; tactic: string; status: AlertStatus; lastSeen: Date }[];
  firstSeen: Date;
  lastSeen: Date;
}

export interface IncidentFilter {
  status?: AlertStatus[];
  cluster?: string;
}

const tacticRank = (tactic: string): number => {
  const i = (TACTIC_ORDER as readonly string[]).indexOf(tactic);
  return i < 0 ? TACTIC_ORDER.length : i;
};

/** Newest first by the latest alert, keyset-paginated on (lastSeen, resource id). */
export async function listIncidents(db: Kysely<Database>, filter: IncidentFilter, limit: number, after?: [string, string]): Promise<Incident[]> {
  const statuses = filter.status?.length ? filter.status : ['active'];
  let groups = db.selectFrom('alerts')
    .select(['resource_id', sql<Date>`max(last_seen)`.as('last_seen'), sql<Date>`min(first_seen)`.as('first_seen'), sql<string>`count(*)`.as('n')])
    .where('status', 'in', statuses)
    // Informational records are activity (a Deployment created, a ConfigMap changed), not threats.
    .where('severity', '<>', 'informational')
    .groupBy('resource_id')
    .having(sql<boolean>`count(*) >= 2`);
  if (filter.cluster) groups = groups.where('cluster', '=', filter.cluster);
  if (after) {
    const [lastSeen, resource] = after;
    groups = groups.having(sql<boolean>`(max(last_seen), resource_id) < (${new Date(lastSeen)}, ${resource})`);
  }
  const rows = await groups.orderBy(sql`max(last_seen)`, 'desc').orderBy('resource_id', 'desc').limit(limit).execute();
  if (rows.length === 0) return [];
  const alerts = await db.selectFrom('alerts')
    .select(['id', 'title', 'severity', 'tactic', 'status', 'resource_id', 'resource', 'last_seen'])
    .where('resource_id', 'in', rows.map((r) => r.resource_id))
    .where('status', 'in', statuses)
    .where('severity', '<>', 'informational')
    .orderBy('last_seen', 'desc').orderBy('id', 'desc')
    .execute();
  return rows.map((row) => {
    const own = alerts.filter((a) => a.resource_id === row.resource_id);
    const worst = own.reduce((w, a) => (compareSeverity(a.severity, w) > 0 ? a.severity : w), 'informational');
    return {
      resource: own[0]!.resource as unknown as ResourceRef,
      severity: worst as Severity,
      tactics: [...new Set(own.map((a) => a.tactic))].sort((x, y) => tacticRank(x) - tacticRank(y) || x.localeCompare(y)),
      alertCount: Number(row.n),
      alerts: own.slice(0, 10).map((a) => ({ id: a.id, title: a.title, severity: a.severity as Severity, tactic: a.tactic, status: a.status as AlertStatus, lastSeen: new Date(a.last_seen) })),
      firstSeen: new Date(row.first_seen),
      lastSeen: new Date(row.last_seen),
    };
  });
}
