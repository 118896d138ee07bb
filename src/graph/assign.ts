/**
 * Persistent incident membership: each alert is assigned once, when it is recorded, by the join
 * rules of join.ts (same resource, container and pod, pod and owner within the window; an image
 * alert joins every incident whose containers run its digest, never bridging two; image alerts
 * that join none group by image within the window). What the pure join keeps in memory is kept in
 * the store instead: the latest incident on each join key (incident_keys), the digests each
 * incident's containers run (incident_digests) and the image alerts by digest
 * (incident_image_alerts), so an alert is joined with a few indexed reads whatever the number of
 * alerts stored, and an image alert and the pod that runs the image join whichever comes first.
 *
 * Alerts to assign are queued by a trigger on alerts (incident_pending: every writer, and the
 * alerts stored before the migration), and taken off the queue oldest first in chunks (one
 * statement, skip locked: two processes never take one alert), each assigned in one transaction,
 * so memory stays bounded; a chunk that fails is queued again.
 * A repeated alert (later last_seen) or a status change only refreshes its incidents' times.
 *
 * Unlike the former computation on read, an edge the graph learns after an alert was assigned (a
 * posture scan naming a pod's owner) does not regroup that alert; later alerts use it.
 */
import { sql, type Kysely } from 'kysely';
import { sha256Hex } from '../core/index.js';
import type { Database } from '../store/index.js';
import { identifyAlerts, type ResolvedIdentity } from './identify.js';
import { DEFAULT_INCIDENT_WINDOW_MS } from './join.js';

/** Alerts assigned per transaction. */
const CHUNK = 1000;

export function incidentId(anchorAlertId: string): string {
  return `inc_${sha256Hex(anchorAlertId).slice(0, 20)}`;
}

const shortDigest = (digest: string) => digest.slice(0, 19);

interface PendingAlert {
  id: string; title: string; source: string; cluster: string | null; resource: { kind: string; id: string; name: string; cluster?: string; namespace?: string };
  evidence: unknown[]; first_seen: Date; last_seen: Date;
}

interface KeyState { incident: string; lastSeen: number; title: string }

/** One chunk's work, applied to the store at the end. */
class Chunk {
  readonly keys = new Map<string, KeyState>();
  readonly changedKeys = new Set<string>();
  /** incident → digest → runner description. */
  readonly digests = new Map<string, Map<string, string>>();
  readonly newDigests: { digest: string; incident: string; runner: string }[] = [];
  readonly imageAlerts = new Map<string, { id: string; title: string }[]>();
  readonly newImageAlerts: { digest: string; alert: string }[] = [];
  readonly members: { incident: string; alert: string; why: string; identity: ResolvedIdentity }[] = [];
  readonly memberSet = new Set<string>();
  readonly removed: { incident: string; alert: string }[] = [];
  readonly created = new Map<string, { anchor: string; kind: string; cluster: string | null; at: Date }>();
  readonly merged = new Map<string, string>();
  readonly touched = new Set<string>();

  root(id: string): string {
    while (this.merged.has(id)) id = this.merged.get(id)!;
    return id;
  }

  addMember(incident: string, alert: string, why: string, identity: ResolvedIdentity): void {
    const key = `${incident}\u0000${alert}`;
    if (this.memberSet.has(key)) return;
    this.memberSet.add(key);
    this.members.push({ incident, alert, why, identity });
    this.touched.add(incident);
  }
}

const locks = new WeakMap<object, Promise<unknown>>();

/**
 * Assigns every queued alert (bounded chunks). Call after the graph holds what the alerts
 * concern (flushGraph): the graph writer does so after each write, reads before they read.
 */
export async function assignPendingIncidents(db: Kysely<Database>, windowMs = DEFAULT_INCIDENT_WINDOW_MS): Promise<number> {
  const previous = locks.get(db) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(async () => {
    let total = 0;
    for (;;) {
      const ids = await claimPending(db);
      if (!ids.length) break;
      try {
        await db.transaction().execute((tx) => assignChunk(tx, ids, windowMs));
      } catch (error) {
        // Not lost: queued again for the next write or read.
        await db.insertInto('incident_pending').values(ids.map((id) => ({ alert_id: id, first_seen: new Date(0) })))
          .onConflict((oc) => oc.column('alert_id').doNothing()).execute().catch(() => undefined);
        throw error;
      }
      total += ids.length;
      if (ids.length < CHUNK) break;
    }
    // After a bulk assignment (a backfill, a burst), fresh statistics keep the planner on the
    // indexes: PGlite runs no autovacuum, and PostgreSQL's may not have caught up yet.
    if (total >= CHUNK) await sql`analyze incidents, incident_alerts, incident_keys`.execute(db);
    return total;
  });
  locks.set(db, run);
  return run;
}

/**
 * Takes the oldest queued alerts off the queue in one statement (rows another server is taking are
 * skipped), so an intake write that re-queues one of them never waits for an assignment to finish.
 */
async function claimPending(db: Kysely<Database>): Promise<string[]> {
  const rows = await sql<{ alert_id: string }>`
    delete from incident_pending where alert_id in (
      select alert_id from incident_pending order by first_seen, alert_id limit ${CHUNK} for update skip locked)
    returning alert_id`.execute(db);
  return rows.rows.map((r) => r.alert_id);
}

async function assignChunk(db: Kysely<Database>, ids: string[], windowMs: number): Promise<void> {
  const existing = await db.selectFrom('incident_alerts').select(['alert_id', 'incident_id']).where('alert_id', 'in', ids).execute();
  const assigned = new Set(existing.map((e) => e.alert_id));
  const chunk = new Chunk();
  for (const e of existing) chunk.touched.add(e.incident_id);
  const fresh = ids.filter((id) => !assigned.has(id));
  const rows = (fresh.length ? await db.selectFrom('alerts')
    .select(['id', 'title', 'source', 'cluster', 'resource', 'first_seen', 'last_seen', 'severity',
      sql<unknown[]>`case when jsonb_array_length(evidence) > 5 then jsonb_path_query_array(evidence, '$[0 to 4]') else evidence end`.as('evidence')])
    .where('id', 'in', fresh)
    .where('severity', '<>', 'informational')
    .execute() : [])
    .map((r) => ({ ...r, first_seen: new Date(r.first_seen), last_seen: new Date(r.last_seen), evidence: (r.evidence ?? []) as unknown[], resource: r.resource as unknown as PendingAlert['resource'] }))
    .sort((a, b) => a.first_seen.getTime() - b.first_seen.getTime() || (a.id < b.id ? -1 : 1));
  if (rows.length) await assignNew(db, chunk, rows, windowMs);
  await apply(db, chunk);
}

const isImage = (a: PendingAlert) => a.resource.kind === 'image';

function runtimeKeys(alert: PendingAlert, id: ResolvedIdentity): { key: string; why: (title: string) => string }[] {
  return [
    { key: `resource:${alert.resource.id}`, why: (t) => `same ${alert.resource.kind} ${alert.resource.name} as "${t}"` },
    ...id.containers.map((c) => ({ key: `container:${c.id}`, why: (t: string) => `same container ${c.name} as "${t}"` })),
    ...(id.pod ? [{ key: `pod:${id.pod.id}`, why: (t: string) => (alert.resource.kind === 'container'
      ? `container of pod ${id.pod!.name}, where "${t}" was raised`
      : `same pod ${id.pod!.name} as "${t}"`) }] : []),
    ...(id.owner ? [{ key: `owner:${id.owner.id}`, why: (t: string) => `${id.pod ? `pod ${id.pod.name} is owned by ${id.owner!.name}` : `same workload ${id.owner!.name}`}, as in "${t}"` }] : []),
  ];
}

async function assignNew(db: Kysely<Database>, chunk: Chunk, rows: PendingAlert[], windowMs: number): Promise<void> {
  const identities = await identifyAlerts(db, rows);
  const empty: ResolvedIdentity = { containers: [], images: [], users: [] };
  const idOf = (a: PendingAlert) => identities.get(a.id) ?? empty;
  // What the store knows about this chunk's keys and digests, read once.
  const allKeys = [...new Set(rows.flatMap((a) => (isImage(a) ? [`image:${a.resource.id}`] : runtimeKeys(a, idOf(a)).map((k) => k.key))))];
  for (let i = 0; i < allKeys.length; i += 500) {
    for (const k of await db.selectFrom('incident_keys').selectAll().where('key', 'in', allKeys.slice(i, i + 500)).execute()) {
      chunk.keys.set(k.key, { incident: k.incident_id, lastSeen: new Date(k.last_seen).getTime(), title: k.title });
    }
  }
  const allDigests = [...new Set(rows.flatMap((a) => idOf(a).images))];
  for (let i = 0; i < allDigests.length; i += 500) {
    const part = allDigests.slice(i, i + 500);
    for (const d of await db.selectFrom('incident_digests').selectAll().where('digest', 'in', part).execute()) {
      const map = chunk.digests.get(d.incident_id) ?? new Map<string, string>();
      map.set(d.digest, d.runner);
      chunk.digests.set(d.incident_id, map);
    }
    for (const a of await db.selectFrom('incident_image_alerts as x')
      .innerJoinLateral((eb) => eb.selectFrom('alerts').select(['id', 'title']).whereRef('alerts.id', '=', 'x.alert_id').limit(1).as('a'), (join) => join.onTrue())
      .select(['x.digest', 'a.id', 'a.title']).where('x.digest', 'in', part).execute()) {
      chunk.imageAlerts.set(a.digest, [...(chunk.imageAlerts.get(a.digest) ?? []), { id: a.id, title: a.title }]);
    }
  }
  const imageIdentities = new Map<string, ResolvedIdentity>();

  for (const alert of rows) {
    const id = idOf(alert);
    const at = alert.first_seen.getTime();
    if (isImage(alert)) {
      imageIdentities.set(alert.id, id);
      for (const digest of id.images) {
        chunk.imageAlerts.set(digest, [...(chunk.imageAlerts.get(digest) ?? []), { id: alert.id, title: alert.title }]);
        chunk.newImageAlerts.push({ digest, alert: alert.id });
      }
      let joined = false;
      for (const [incident, digests] of chunk.digests) {
        const digest = id.images.find((d) => digests.has(d));
        if (!digest || chunk.merged.has(incident)) continue;
        chunk.addMember(incident, alert.id, `image ${shortDigest(digest)}… runs in ${digests.get(digest)}`, id);
        joined = true;
      }
      if (joined) continue;
      const key = `image:${alert.resource.id}`;
      const seen = chunk.keys.get(key);
      if (seen && at - seen.lastSeen <= windowMs) {
        const incident = chunk.root(seen.incident);
        chunk.addMember(incident, alert.id, `same image ${alert.resource.name} as "${seen.title}"`, id);
        chunk.keys.set(key, { incident, lastSeen: Math.max(seen.lastSeen, alert.last_seen.getTime()), title: alert.title });
      } else {
        const incident = incidentId(alert.id);
        chunk.created.set(incident, { anchor: alert.id, kind: 'image', cluster: null, at: alert.first_seen });
        chunk.addMember(incident, alert.id, 'first alert of the incident', id);
        chunk.keys.set(key, { incident, lastSeen: alert.last_seen.getTime(), title: alert.title });
      }
      chunk.changedKeys.add(key);
      continue;
    }

    const keys = runtimeKeys(alert, id);
    let target: string | undefined;
    let why = 'first alert of the incident';
    for (const { key, why: reason } of keys) {
      const seen = chunk.keys.get(key);
      if (!seen || at - seen.lastSeen > windowMs) continue;
      const incident = chunk.root(seen.incident);
      if (!target) {
        target = incident;
        why = reason(seen.title);
      } else if (incident !== target) {
        // The alert connects two incidents: the later one is merged into the earlier.
        chunk.merged.set(incident, target);
        chunk.touched.add(target);
      }
    }
    if (!target) {
      target = incidentId(alert.id);
      chunk.created.set(target, { anchor: alert.id, kind: 'runtime', cluster: alert.cluster ?? alert.resource.cluster ?? null, at: alert.first_seen });
    }
    chunk.addMember(target, alert.id, why, id);
    for (const { key } of keys) {
      const seen = chunk.keys.get(key);
      const same = seen && chunk.root(seen.incident) === target;
      chunk.keys.set(key, { incident: target, lastSeen: Math.max(same ? seen.lastSeen : 0, alert.last_seen.getTime()), title: alert.title });
      chunk.changedKeys.add(key);
    }
    // Its digests: image alerts already stored (or earlier in this chunk) on them join too.
    const runner = id.pod ? `pod ${id.pod.name}` : 'its containers';
    const digests = chunk.digests.get(target) ?? new Map<string, string>();
    for (const digest of id.images) {
      if (digests.has(digest)) continue;
      digests.set(digest, runner);
      chunk.newDigests.push({ digest, incident: target, runner });
      for (const image of chunk.imageAlerts.get(digest) ?? []) {
        chunk.addMember(target, image.id, `image ${shortDigest(digest)}… runs in ${runner}`, imageIdentities.get(image.id) ?? { containers: [], images: [digest], users: [] });
        chunk.removed.push({ incident: '', alert: image.id });
      }
    }
    chunk.digests.set(target, digests);
  }
}

/** Writes a chunk: merges, new incidents, members, keys, digests; then each touched incident's times and count. */
async function apply(db: Kysely<Database>, chunk: Chunk): Promise<void> {
  for (const [drop] of chunk.merged) {
    const keep = chunk.root(drop);
    if (chunk.created.has(drop)) {
      chunk.created.delete(drop);
    } else {
      await sql`delete from incident_alerts m where m.incident_id = ${drop} and exists (select 1 from incident_alerts k where k.incident_id = ${keep} and k.alert_id = m.alert_id)`.execute(db);
      await db.updateTable('incident_alerts').set({ incident_id: keep }).where('incident_id', '=', drop).execute();
      await sql`delete from incident_digests m where m.incident_id = ${drop} and exists (select 1 from incident_digests k where k.incident_id = ${keep} and k.digest = m.digest)`.execute(db);
      await db.updateTable('incident_digests').set({ incident_id: keep }).where('incident_id', '=', drop).execute();
      await db.updateTable('incident_keys').set({ incident_id: keep }).where('incident_id', '=', drop).execute();
      await db.deleteFrom('incidents').where('id', '=', drop).execute();
    }
    chunk.touched.delete(drop);
    chunk.touched.add(keep);
  }
  const created = [...chunk.created].map(([id, c]) => ({ id, anchor: c.anchor, kind: c.kind, cluster: c.cluster, first_seen: c.at, last_seen: c.at, member_count: 0, active_count: 0, resolved_count: 0, dismissed_count: 0 }));
  for (let i = 0; i < created.length; i += 400) await db.insertInto('incidents').values(created.slice(i, i + 400)).onConflict((oc) => oc.column('id').doNothing()).execute();
  // An image alert that now joins an incident running its digest leaves its image-only group.
  const moved = [...new Set(chunk.removed.map((r) => r.alert))];
  for (let i = 0; i < moved.length; i += 400) {
    const part = moved.slice(i, i + 400);
    const left = await db.deleteFrom('incident_alerts').where('alert_id', 'in', part)
      .where('incident_id', 'in', (eb) => eb.selectFrom('incidents').select('id').where('kind', '=', 'image'))
      .returning('incident_id').execute();
    for (const l of left) chunk.touched.add(l.incident_id);
  }
  // …or never enters the image-only group it started in this chunk.
  const movedSet = new Set(moved);
  const members = chunk.members.filter((m) => !(movedSet.has(m.alert) && chunk.created.get(chunk.root(m.incident))?.kind === 'image')).map((m) => ({ incident_id: chunk.root(m.incident), alert_id: m.alert, joined_because: m.why, identity: JSON.stringify(m.identity) }));
  for (let i = 0; i < members.length; i += 400) {
    await db.insertInto('incident_alerts').values(members.slice(i, i + 400)).onConflict((oc) => oc.columns(['incident_id', 'alert_id']).doNothing()).execute();
  }
  for (const m of members) chunk.touched.add(m.incident_id);
  const keys = [...chunk.changedKeys].map((key) => {
    const k = chunk.keys.get(key)!;
    return { key, incident_id: chunk.root(k.incident), last_seen: new Date(k.lastSeen), title: k.title };
  });
  for (let i = 0; i < keys.length; i += 400) {
    await db.insertInto('incident_keys').values(keys.slice(i, i + 400))
      .onConflict((oc) => oc.column('key').doUpdateSet({ incident_id: sql`excluded.incident_id`, last_seen: sql`excluded.last_seen`, title: sql`excluded.title` })).execute();
  }
  const digests = chunk.newDigests.map((d) => ({ digest: d.digest, incident_id: chunk.root(d.incident), runner: d.runner }));
  for (let i = 0; i < digests.length; i += 400) await db.insertInto('incident_digests').values(digests.slice(i, i + 400)).onConflict((oc) => oc.columns(['digest', 'incident_id']).doNothing()).execute();
  for (let i = 0; i < chunk.newImageAlerts.length; i += 400) {
    await db.insertInto('incident_image_alerts').values(chunk.newImageAlerts.slice(i, i + 400).map((x) => ({ digest: x.digest, alert_id: x.alert })))
      .onConflict((oc) => oc.columns(['digest', 'alert_id']).doNothing()).execute();
  }
  const touched = [...new Set([...chunk.touched].map((id) => chunk.root(id)))];
  for (let i = 0; i < touched.length; i += 400) {
    const part = touched.slice(i, i + 400);
    // Per member, the alert by its key (lateral, limit 1 so it stays a per-row index lookup): never a
    // join that hashes every alert.
    await sql`
      update incidents i set member_count = s.n, first_seen = coalesce(s.first_seen, i.first_seen), last_seen = coalesce(s.last_seen, i.last_seen),
        active_count = s.active, resolved_count = s.resolved, dismissed_count = s.dismissed
      from (select m.incident_id, count(*)::int as n, min(a.first_seen) as first_seen, max(a.last_seen) as last_seen,
              (count(*) filter (where a.status = 'active' and a.severity <> 'informational'))::int as active,
              (count(*) filter (where a.status = 'resolved' and a.severity <> 'informational'))::int as resolved,
              (count(*) filter (where a.status = 'dismissed' and a.severity <> 'informational'))::int as dismissed
            from incident_alerts m cross join lateral (select first_seen, last_seen, status, severity from alerts where alerts.id = m.alert_id limit 1) a
            where m.incident_id in (${sql.join(part)}) group by m.incident_id) s
      where i.id = s.incident_id`.execute(db);
    // Incidents left without members (an image alert moved to the pod running it).
    await sql`delete from incidents i where i.id in (${sql.join(part)}) and not exists (select 1 from incident_alerts m where m.incident_id = i.id)`.execute(db);
  }
}
