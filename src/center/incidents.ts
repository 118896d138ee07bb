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
 * Membership is persistent (src/graph/assign.ts): each alert is assigned once, when recorded, and
 * the reads here are indexed queries on that membership, whatever the number of alerts. The id is
 * derived from the alert that started the incident, so it stays put while the incident grows.
 */
import { sql, type Kysely } from 'kysely';
import { compareSeverity, type AlertSource, type AlertStatus, type ResourceRef, type Severity } from '../core/index.js';
import { DEFAULT_INCIDENT_WINDOW_MS, incidentId, settleIncidents, type ResolvedIdentity } from '../graph/index.js';
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

const tacticRank = (tactic: string): number => {
  const i = (TACTIC_ORDER as readonly string[]).indexOf(tactic);
  return i < 0 ? TACTIC_ORDER.length : i;
};

interface AlertRow {
  id: string; title: string; severity: string; tactic: string; status: string; source: string;
  resource: Record<string, unknown>; first_seen: Date; last_seen: Date;
}

interface Member { incident: string; joinedBecause: string; identity: ResolvedIdentity; row: AlertRow }

/** The members of some incidents (alerts of the given statuses, activity records aside): one query. */
async function loadMembers(db: Kysely<Database>, incidents: string[], statuses: string[]): Promise<Map<string, Member[]>> {
  const out = new Map<string, Member[]>();
  if (!incidents.length) return out;
  // Each member's alert by its key (lateral, limit 1 so the planner keeps it a per-row index lookup):
  // never a join that hashes every alert of a status.
  const rows = await db.selectFrom('incident_alerts as m')
    .innerJoinLateral((eb) => eb.selectFrom('alerts').select(['id', 'title', 'severity', 'tactic', 'status', 'source', 'resource', 'first_seen', 'last_seen'])
      .whereRef('alerts.id', '=', 'm.alert_id').limit(1).as('a'), (join) => join.onTrue())
    .select(['m.incident_id', 'm.joined_because', 'm.identity', 'a.id', 'a.title', 'a.severity', 'a.tactic', 'a.status', 'a.source', 'a.resource', 'a.first_seen', 'a.last_seen'])
    .where('m.incident_id', 'in', incidents).where('a.status', 'in', statuses).where('a.severity', '<>', 'informational')
    .execute();
  for (const r of rows) {
    const list = out.get(r.incident_id) ?? [];
    list.push({
      incident: r.incident_id, joinedBecause: r.joined_because,
      identity: { containers: [], images: [], users: [], ...(r.identity as Partial<ResolvedIdentity>) },
      row: { id: r.id, title: r.title, severity: r.severity, tactic: r.tactic, status: r.status, source: r.source, resource: r.resource as Record<string, unknown>, first_seen: new Date(r.first_seen), last_seen: new Date(r.last_seen) },
    });
    out.set(r.incident_id, list);
  }
  return out;
}

const digestOfImageId = (id: string) => id.slice(id.lastIndexOf('@') + 1);

const KIND_ORDER: IncidentEntityKind[] = ['user', 'cluster', 'namespace', 'workload', 'pod', 'container', 'image', 'finding', 'node', 'serviceaccount'];
const byKind = (a: IncidentEntity, b: IncidentEntity) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind);

/** The identities one alert concerns: its resource, and what the graph resolved it to when it was assigned. */
function alertEntityList(r: ResourceRef, id: ResolvedIdentity, findings: Map<string, IncidentEntity[]> = new Map()): IncidentEntity[] {
  const out: IncidentEntity[] = [];
  const add = (e: IncidentEntity) => {
    if (!out.some((o) => o.kind === e.kind && o.id === e.id)) out.push(e);
  };
  for (const user of id.users) add({ kind: 'user', id: user, name: user });
  if (r.cluster) add({ kind: 'cluster', id: r.cluster, name: r.cluster });
  if (r.cluster && r.namespace) add({ kind: 'namespace', id: `${r.cluster}/${r.namespace}`, name: r.namespace });
  if (r.kind === 'workload') add({ kind: 'workload', id: r.id, name: r.name });
  if (id.owner) add({ kind: 'workload', id: id.owner.id.slice(id.owner.id.indexOf(':') + 1), name: id.owner.name });
  if (r.kind === 'pod') add({ kind: 'pod', id: r.id, name: r.name });
  if (id.pod) add({ kind: 'pod', id: id.pod.id.slice(id.pod.id.indexOf(':') + 1), name: id.pod.name });
  if (r.kind === 'container') add({ kind: 'container', id: r.id, name: id.containers[0]?.name ?? r.name });
  for (const digest of id.images) {
    add({ kind: 'image', id: digest, name: digest });
    for (const f of findings.get(digest) ?? []) add(f);
  }
  if (r.kind === 'image') add({ kind: 'image', id: digestOfImageId(r.id), name: r.name });
  if (id.node) add({ kind: 'node', id: r.cluster ? `${r.cluster}/${id.node}` : id.node, name: id.node });
  return out;
}

/**
 * The identities each alert concerns (user, cluster, namespace, owner workload, pod, container,
 * image digests, node), as the graph resolved them when the alert was assigned to its incident;
 * an alert not assigned yet names what its own resource says. One query for a page of alerts.
 */
export async function alertEntities(db: Kysely<Database>, alerts: readonly { id: string; resource: ResourceRef }[]): Promise<Map<string, IncidentEntity[]>> {
  const identities = new Map<string, ResolvedIdentity>();
  const ids = alerts.map((a) => a.id);
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db.selectFrom('incident_alerts').select(['alert_id', 'identity']).where('alert_id', 'in', ids.slice(i, i + 500)).execute();
    for (const r of rows) if (!identities.has(r.alert_id)) identities.set(r.alert_id, { containers: [], images: [], users: [], ...(r.identity as Partial<ResolvedIdentity>) });
  }
  const empty: ResolvedIdentity = { containers: [], images: [], users: [] };
  return new Map(alerts.map((a) => [a.id, alertEntityList(a.resource, identities.get(a.id) ?? empty).sort(byKind)]));
}

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

async function buildIncidents(db: Kysely<Database>, ids: string[], members: Map<string, Member[]>): Promise<IncidentDetail[]> {
  const multi = ids.map((id) => ({ id, own: members.get(id) ?? [] })).filter((g) => g.own.length >= 2);
  const digests = [...new Set(multi.flatMap((g) => g.own.flatMap((a) => a.identity.images)))];
  const findings = await findingEntities(db, digests);
  return multi.map(({ id: incident, own }) => {
    const newest = [...own].sort((a, b) => b.row.last_seen.getTime() - a.row.last_seen.getTime() || (a.row.id < b.row.id ? 1 : -1));
    const worst = own.reduce<string>((w, a) => (compareSeverity(a.row.severity as Severity, w as Severity) > 0 ? a.row.severity : w), 'informational');
    const resources = own.map((a) => a.row.resource as unknown as ResourceRef);
    const resource = resources.find((r) => r.kind === 'pod') ?? resources.find((r) => r.kind === 'workload') ?? resources.find((r) => r.kind === 'container') ?? resources[0]!;
    const tactics = [...new Set(own.map((a) => a.row.tactic))].sort((x, y) => tacticRank(x) - tacticRank(y) || x.localeCompare(y));
    const entities = new Map<string, IncidentEntity>();
    const add = (e: IncidentEntity) => entities.set(`${e.kind}\u0000${e.id}`, e);
    for (const a of own) for (const e of alertEntityList(a.row.resource as unknown as ResourceRef, a.identity, findings)) add(e);
    const timeline = [...own].sort((a, b) => a.row.first_seen.getTime() - b.row.first_seen.getTime() || (a.row.id < b.row.id ? -1 : 1))
      .map((a) => ({ at: a.row.first_seen, alertId: a.row.id, title: a.row.title, tactic: a.row.tactic, source: a.row.source as AlertSource }));
    const firstSeen = new Date(Math.min(...own.map((a) => a.row.first_seen.getTime())));
    const lastSeen = new Date(Math.max(...own.map((a) => a.row.last_seen.getTime())));
    return {
      id: incident,
      title: `${own.length} alerts on ${resource.kind} ${resource.name}: ${tactics.join(' → ')}`,
      status: incidentStatus(own.map((a) => a.row.status)),
      resource,
      severity: worst as Severity,
      tactics,
      alertCount: own.length,
      alerts: newest.slice(0, 10).map((a) => ({
        id: a.row.id, title: a.row.title, severity: a.row.severity as Severity, tactic: a.row.tactic, status: a.row.status as AlertStatus,
        lastSeen: a.row.last_seen, source: a.row.source as AlertSource, joinedBecause: a.joinedBecause,
      })),
      entities: [...entities.values()].sort(byKind),
      firstSeen,
      lastSeen,
      timeline,
    };
  });
}

const byRecency = (a: Incident, b: Incident) => b.lastSeen.getTime() - a.lastSeen.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/**
 * Newest first by the latest alert, keyset-paginated on (lastSeen, incident id): incidents with
 * at least two alerts of the chosen statuses (counted on the incident row), read through the
 * incidents index (one query for the page, one for its members, one for their images' findings),
 * whatever the number of alerts stored.
 */
export async function listIncidents(db: Kysely<Database>, filter: IncidentFilter, limit: number, after?: [string, string]): Promise<Incident[]> {
  await settleIncidents(db);
  const statuses = filter.status?.length ? filter.status : ['active'];
  const counts = { active: 'i.active_count', resolved: 'i.resolved_count', dismissed: 'i.dismissed_count' } as const;
  const counted = [...new Set(statuses)].map((st) => sql.ref(counts[st as keyof typeof counts]));
  let query = db.selectFrom('incidents as i').select(['i.id', 'i.first_seen', 'i.last_seen'])
    .where('i.member_count', '>=', 2)
    .where(sql<number>`${sql.join(counted, sql` + `)}`, '>=', 2);
  if (filter.cluster) query = query.where('i.cluster', '=', filter.cluster);
  if (after) {
    const at = new Date(after[0]);
    if (!Number.isNaN(at.getTime())) query = query.where((eb) => eb.or([eb('i.last_seen', '<', at), eb.and([eb('i.last_seen', '=', at), eb('i.id', '<', after[1])])]));
  }
  const page = await query.orderBy('i.last_seen', 'desc').orderBy('i.id', 'desc').limit(limit).execute();
  const ids = page.map((p) => p.id);
  const built = new Map((await buildIncidents(db, ids, await loadMembers(db, ids, statuses))).map((i) => [i.id, i]));
  return page.flatMap((p) => {
    const incident = built.get(p.id);
    if (!incident) return [];
    const { timeline: _timeline, ...rest } = incident;
    // The incident's times over all its alerts: the cursor is on them.
    return [{ ...rest, firstSeen: new Date(p.first_seen), lastSeen: new Date(p.last_seen) }];
  }).sort(byRecency);
}

/** One incident with its timeline: its active alerts when two or more are active, else all of them. */
export async function getIncident(db: Kysely<Database>, id: string, _options: Pick<IncidentFilter, 'windowMs'> = {}): Promise<IncidentDetail | undefined> {
  await settleIncidents(db);
  const row = await db.selectFrom('incidents').select(['id', 'first_seen', 'last_seen']).where('id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  for (const statuses of [['active'], ['active', 'resolved', 'dismissed']]) {
    const [found] = await buildIncidents(db, [id], await loadMembers(db, [id], statuses));
    if (found) return { ...found, firstSeen: new Date(row.first_seen), lastSeen: new Date(row.last_seen) };
  }
  return undefined;
}

/**
 * The incident (or lone alert) each alert belongs to, for notifications: an alert joining an
 * incident already announced is not announced again. Every status counts: an incident someone
 * already resolved was announced. An image alert in several incidents counts for the earliest.
 */
export async function incidentKeys(db: Kysely<Database>, alertIds: string[], _windowMs = DEFAULT_INCIDENT_WINDOW_MS): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!alertIds.length) return out;
  await settleIncidents(db);
  for (let i = 0; i < alertIds.length; i += 500) {
    const rows = await db.selectFrom('incident_alerts as m')
      .innerJoinLateral((eb) => eb.selectFrom('incidents').select(['id', 'first_seen']).whereRef('incidents.id', '=', 'm.incident_id').limit(1).as('i'), (join) => join.onTrue())
      .select(['m.alert_id', 'm.incident_id']).where('m.alert_id', 'in', alertIds.slice(i, i + 500))
      .orderBy('i.first_seen').orderBy('i.id').execute();
    for (const r of rows) if (!out.has(r.alert_id)) out.set(r.alert_id, r.incident_id);
  }
  for (const id of alertIds) if (!out.has(id)) out.set(id, incidentId(id));
  return out;
}
