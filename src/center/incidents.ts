/**
 * Security incidents: the alerts of every source (audit, agent, registry, admission) on connected
 * resources, taken together. The identity graph (src/graph) says what an alert concerns (its pod,
 * the pod's owner, containers and image digests) and which alerts join (src/graph/join.ts: same
 * resource, container and pod, pod and owner within a window; an image joins the incidents whose
 * containers run it). An incident is a group of two or more alerts of the chosen statuses,
 * activity records (informational) aside; it carries the highest severity, the tactics in
 * kill-chain order, a timeline, the reason each alert joined, and the entities it names (user,
 * cluster, namespace, workload, pod, container, image, finding, node).
 *
 * Computed on read from the alerts (the newest MAX_ALERTS) and the graph, so a late edge (a
 * posture scan that names a pod's owner) regroups past alerts too. The id is derived from the
 * incident's earliest alert that is not an image alone, so it stays put while the incident grows.
 */
import { sql, type Kysely } from 'kysely';
import { compareSeverity, sha256Hex, type AlertSource, type AlertStatus, type ResourceRef, type Severity } from '../core/index.js';
import { DEFAULT_INCIDENT_WINDOW_MS, flushGraph, identifyAlerts, joinAlerts, type JoinedGroup, type ResolvedIdentity } from '../graph/index.js';
import type { Database } from '../store/index.js';

/** MITRE ATT&CK enterprise tactics in kill-chain order. */
export const TACTIC_ORDER = [
  'Reconnaissance', 'Resource Development', 'Initial Access', 'Execution', 'Persistence', 'Privilege Escalation', 'Defense Evasion',
  'Credential Access', 'Discovery', 'Lateral Movement', 'Collection', 'Command and Control', 'Exfiltration', 'Impact',
] as const;

export type IncidentEntityKind = 'user' | 'cluster' | 'namespace' | 'workload' | 'pod' | 'container' | 'image' | 'finding' | 'node' | 'serviceaccount';

export interface IncidentEntity { kind: IncidentEntityKind; id: string; name: string }

export interface IncidentAlert {
  id: string;
  title: string;
  severity: Severity;
  tactic: string;
  status: AlertStatus;
  lastSeen: Date;
  source: AlertSource;
  /** Why it is part of this incident, e.g. "container of pod web-1, where … was raised". */
  joinedBecause: string;
}

export interface Incident {
  id: string;
  title: string;
  status: AlertStatus;
  /** The resource the incident is about: its pod when it has one. */
  resource: ResourceRef;
  severity: Severity;
  /** Distinct tactics of its alerts, in kill-chain order (unknown ones last). */
  tactics: string[];
  alertCount: number;
  /** Its most recent alerts (at most 10), newest first. */
  alerts: IncidentAlert[];
  entities: IncidentEntity[];
  firstSeen: Date;
  lastSeen: Date;
}

export interface IncidentDetail extends Incident {
  /** Every alert, oldest first. */
  timeline: { at: Date; alertId: string; title: string; tactic: string; source: AlertSource }[];
}

export interface IncidentFilter {
  status?: AlertStatus[];
  cluster?: string;
  /** Alerts further apart than this are separate incidents (default a day). */
  windowMs?: number;
}

/** Alerts considered per read: the newest ones; memory stays bounded however many are stored. */
export const MAX_INCIDENT_ALERTS = 5000;

const tacticRank = (tactic: string): number => {
  const i = (TACTIC_ORDER as readonly string[]).indexOf(tactic);
  return i < 0 ? TACTIC_ORDER.length : i;
};

interface AlertRow {
  id: string; title: string; severity: string; tactic: string; status: string; source: string; cluster: string | null;
  resource: Record<string, unknown>; evidence: unknown[]; first_seen: Date; last_seen: Date;
}

async function loadAlerts(db: Kysely<Database>, statuses: string[], cluster?: string, since?: Date): Promise<AlertRow[]> {
  let query = db.selectFrom('alerts')
    .select(['id', 'title', 'severity', 'tactic', 'status', 'source', 'cluster', 'resource', 'first_seen', 'last_seen',
      // The first evidence items name the pod, container and user; the rest only repeat them.
      sql<unknown[]>`case when jsonb_array_length(evidence) > 3 then jsonb_build_array(evidence->0, evidence->1, evidence->2) else evidence end`.as('evidence')])
    .where('status', 'in', statuses)
    // Informational records are activity (a Deployment created, a ConfigMap changed), not threats.
    .where('severity', '<>', 'informational');
  // Image alerts belong to no cluster: they join a cluster's incidents through the pods that run them.
  if (cluster) query = query.where((eb) => eb.or([eb('cluster', '=', cluster), eb('resource_kind', '=', 'image')]));
  if (since) query = query.where('last_seen', '>=', since);
  const rows = await query.orderBy('last_seen', 'desc').orderBy('id', 'desc').limit(MAX_INCIDENT_ALERTS).execute();
  return rows.map((r) => ({ ...r, first_seen: new Date(r.first_seen), last_seen: new Date(r.last_seen), evidence: (r.evidence ?? []) as unknown[] }));
}

async function groupAlerts(db: Kysely<Database>, rows: AlertRow[], windowMs: number): Promise<{ groups: JoinedGroup[]; identities: Map<string, ResolvedIdentity> }> {
  await flushGraph(db);
  const alerts = rows.map((r) => ({
    id: r.id, title: r.title, source: r.source, evidence: r.evidence, firstSeen: r.first_seen, lastSeen: r.last_seen,
    resource: r.resource as unknown as ResourceRef,
  }));
  const identities = await identifyAlerts(db, alerts);
  return { groups: joinAlerts(alerts, identities, windowMs), identities };
}

const digestOfImageId = (id: string) => id.slice(id.lastIndexOf('@') + 1);

async function findingEntities(db: Kysely<Database>, digests: string[]): Promise<Map<string, IncidentEntity[]>> {
  const out = new Map<string, IncidentEntity[]>();
  if (!digests.length) return out;
  const rows = await db.selectFrom('findings').select(['digest', 'vulnerability', 'severity', 'package_name', 'fixed_version'])
    .where('digest', 'in', digests.slice(0, 500)).where('severity', 'in', ['critical', 'high'])
    .orderBy(sql`case severity when 'critical' then 0 else 1 end`).orderBy('vulnerability').execute();
  for (const r of rows) {
    const list = out.get(r.digest) ?? [];
    if (list.length >= 5 || list.some((f) => f.id === `${r.digest}/${r.vulnerability}`)) continue;
    list.push({ kind: 'finding', id: `${r.digest}/${r.vulnerability}`, name: `${r.vulnerability} (${r.severity}, ${r.package_name}${r.fixed_version ? `, fixed in ${r.fixed_version}` : ''})` });
    out.set(r.digest, list);
  }
  return out;
}

function incidentStatus(statuses: string[]): AlertStatus {
  return statuses.includes('active') ? 'active' : statuses.includes('resolved') ? 'resolved' : 'dismissed';
}

async function buildIncidents(db: Kysely<Database>, rows: AlertRow[], windowMs: number): Promise<IncidentDetail[]> {
  const { groups, identities } = await groupAlerts(db, rows, windowMs);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const multi = groups.filter((g) => g.alerts.length >= 2);
  const digests = [...new Set(multi.flatMap((g) => g.alerts.flatMap((a) => identities.get(a.id)?.images ?? [])))];
  const findings = await findingEntities(db, digests);
  return multi.map((group) => {
    const own = group.alerts.map((a) => ({ ...a, row: byId.get(a.id)! }));
    const newest = [...own].sort((a, b) => b.row.last_seen.getTime() - a.row.last_seen.getTime() || (a.id < b.id ? 1 : -1));
    const worst = own.reduce<string>((w, a) => (compareSeverity(a.row.severity as Severity, w as Severity) > 0 ? a.row.severity : w), 'informational');
    const resources = own.map((a) => a.row.resource as unknown as ResourceRef);
    const resource = resources.find((r) => r.kind === 'pod') ?? resources.find((r) => r.kind === 'workload') ?? resources.find((r) => r.kind === 'container') ?? resources[0]!;
    const tactics = [...new Set(own.map((a) => a.row.tactic))].sort((x, y) => tacticRank(x) - tacticRank(y) || x.localeCompare(y));
    const entities = new Map<string, IncidentEntity>();
    const add = (e: IncidentEntity) => entities.set(`${e.kind}\u0000${e.id}`, e);
    for (const a of own) {
      const r = a.row.resource as unknown as ResourceRef;
      const id = identities.get(a.id);
      for (const user of id?.users ?? []) add({ kind: 'user', id: user, name: user });
      if (r.cluster) add({ kind: 'cluster', id: r.cluster, name: r.cluster });
      if (r.cluster && r.namespace) add({ kind: 'namespace', id: `${r.cluster}/${r.namespace}`, name: r.namespace });
      if (r.kind === 'workload') add({ kind: 'workload', id: r.id, name: r.name });
      if (id?.owner) add({ kind: 'workload', id: id.owner.id.slice(id.owner.id.indexOf(':') + 1), name: id.owner.name });
      if (id?.pod) add({ kind: 'pod', id: id.pod.id.slice(id.pod.id.indexOf(':') + 1), name: id.pod.name });
      if (r.kind === 'container') add({ kind: 'container', id: r.id, name: id?.containers[0]?.name ?? r.name });
      for (const digest of id?.images ?? []) {
        add({ kind: 'image', id: digest, name: digest });
        for (const f of findings.get(digest) ?? []) add(f);
      }
      if (r.kind === 'image') add({ kind: 'image', id: digestOfImageId(r.id), name: r.name });
      if (id?.node) add({ kind: 'node', id: r.cluster ? `${r.cluster}/${id.node}` : id.node, name: id.node });
    }
    const timeline = [...own].sort((a, b) => a.row.first_seen.getTime() - b.row.first_seen.getTime() || (a.id < b.id ? -1 : 1))
      .map((a) => ({ at: a.row.first_seen, alertId: a.id, title: a.row.title, tactic: a.row.tactic, source: a.row.source as AlertSource }));
    const firstSeen = new Date(Math.min(...own.map((a) => a.row.first_seen.getTime())));
    const lastSeen = new Date(Math.max(...own.map((a) => a.row.last_seen.getTime())));
    const kindOrder: IncidentEntityKind[] = ['user', 'cluster', 'namespace', 'workload', 'pod', 'container', 'image', 'finding', 'node', 'serviceaccount'];
    return {
      id: incidentId(group.anchor),
      title: `${own.length} alerts on ${resource.kind} ${resource.name}: ${tactics.join(' → ')}`,
      status: incidentStatus(own.map((a) => a.row.status)),
      resource,
      severity: worst as Severity,
      tactics,
      alertCount: own.length,
      alerts: newest.slice(0, 10).map((a) => ({
        id: a.id, title: a.row.title, severity: a.row.severity as Severity, tactic: a.row.tactic, status: a.row.status as AlertStatus,
        lastSeen: a.row.last_seen, source: a.row.source as AlertSource, joinedBecause: a.joinedBecause,
      })),
      entities: [...entities.values()].sort((a, b) => kindOrder.indexOf(a.kind) - kindOrder.indexOf(b.kind)),
      firstSeen,
      lastSeen,
      timeline,
    };
  });
}

export function incidentId(anchorAlertId: string): string {
  return `inc_${sha256Hex(anchorAlertId).slice(0, 20)}`;
}

const byRecency = (a: Incident, b: Incident) => b.lastSeen.getTime() - a.lastSeen.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** Newest first by the latest alert, keyset-paginated on (lastSeen, incident id). */
export async function listIncidents(db: Kysely<Database>, filter: IncidentFilter, limit: number, after?: [string, string]): Promise<Incident[]> {
  const statuses = filter.status?.length ? filter.status : ['active'];
  const rows = await loadAlerts(db, statuses, filter.cluster);
  let incidents = (await buildIncidents(db, rows, filter.windowMs ?? DEFAULT_INCIDENT_WINDOW_MS)).sort(byRecency);
  if (filter.cluster) incidents = incidents.filter((i) => i.entities.some((e) => e.kind === 'cluster' && e.id === filter.cluster));
  if (after) {
    const [lastSeen, id] = after;
    const at = new Date(lastSeen).getTime();
    incidents = incidents.filter((i) => i.lastSeen.getTime() < at || (i.lastSeen.getTime() === at && i.id < id));
  }
  return incidents.slice(0, limit).map(({ timeline: _timeline, ...incident }) => incident);
}

/** One incident with its timeline; looked up among active alerts first, then every status. */
export async function getIncident(db: Kysely<Database>, id: string, options: Pick<IncidentFilter, 'windowMs'> = {}): Promise<IncidentDetail | undefined> {
  for (const statuses of [['active'], ['active', 'resolved', 'dismissed']]) {
    const found = (await buildIncidents(db, await loadAlerts(db, statuses), options.windowMs ?? DEFAULT_INCIDENT_WINDOW_MS)).find((i) => i.id === id);
    if (found) return found;
  }
  return undefined;
}

/**
 * The incident (or lone alert) each alert belongs to, for notifications: an alert joining an
 * incident already announced is not announced again. Every status counts: an incident someone
 * already resolved was announced.
 */
export async function incidentKeys(db: Kysely<Database>, alertIds: string[], windowMs = DEFAULT_INCIDENT_WINDOW_MS): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!alertIds.length) return out;
  const first = await db.selectFrom('alerts').select(sql<Date>`min(first_seen)`.as('at')).where('id', 'in', alertIds).executeTakeFirst();
  const since = first?.at ? new Date(new Date(first.at).getTime() - windowMs) : undefined;
  const rows = await loadAlerts(db, ['active', 'resolved', 'dismissed'], undefined, since);
  const { groups } = await groupAlerts(db, rows, windowMs);
  for (const group of groups) for (const a of group.alerts) if (!out.has(a.id)) out.set(a.id, incidentId(group.anchor));
  for (const id of alertIds) if (!out.has(id)) out.set(id, incidentId(id));
  return out;
}
