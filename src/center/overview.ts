import { sql, type Kysely } from 'kysely';
import { compareSeverity, SEVERITIES, type Severity } from '../core/index.js';
import type { Database } from '../store/index.js';
import { listRecommendations } from './recommendations.js';

const ALERT_SOURCES = ['audit', 'agent', 'registry', 'admission'] as const;

/** An agent that has not reported within this long is not counted as reporting. */
export const AGENT_STALE_MS = 10 * 60 * 1000;

export interface Overview {
  generatedAt: Date;
  alerts: {
    activeBySeverity: Record<Severity, number>;
    /** New alerts per UTC day over the last `days` days, oldest first. */
    perDay: { day: string; count: number }[];
    total: number;
  };
  topRecommendations: { policy: string; scope: string; title: string; severity: string; unhealthy: number }[];
  vulnerableImages: { digest: string; registry: string | null; repository: string | null; tags: string[]; critical: number; high: number }[];
  coverage: {
    clusters: { name: string; plan: boolean; nodes: number; agentsReporting: number; lastEventAt: Date | null; lastHeartbeat: Date | null }[];
    registries: { name: string; plan: boolean; images: number; lastPushed: Date | null; lastScanned: Date | null }[];
    /** Latest alert per source (audit, agent, registry, admission). */
    lastAlertBySource: Record<string, Date>;
  };
}

/** Everything the overview page shows, in one read (each part a bounded aggregate). */
export async function overview(db: Kysely<Database>, now: Date, days = 14): Promise<Overview> {
  const since = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - (days - 1)));

  const stale = new Date(now.getTime() - AGENT_STALE_MS);
  // Independent aggregates: on PostgreSQL they run at once on the pool (PGlite serialises them).
  const [alertGroups, unexempted, vulnerable, plans, clusterRows, registryRows, lastBySource, exempting] = await Promise.all([
    // Active alerts by severity, new alerts per day and the total in one pass over the alerts
    // (PGlite runs queries one at a time: three scans of 100,000 alerts cost three times as much).
    db.selectFrom('alerts')
      .select([
        sql<boolean>`status = 'active'`.as('active'), 'severity',
        sql<string | null>`case when first_seen >= ${since} then ((first_seen at time zone 'UTC')::date)::text end`.as('day'),
        (eb) => eb.fn.countAll<string>().as('n'),
      ])
      .groupBy([sql`1`, sql`2`, sql`3`]).execute(),
    db.selectFrom('recommendations')
      .select(['policy', 'scope', 'title', 'severity', sql<number>`jsonb_array_length(unhealthy)`.as('unhealthy')])
      .where(sql<boolean>`jsonb_array_length(unhealthy) > 0`)
      .orderBy(sql`case severity when 'critical' then 0 when 'high' then 1 when 'medium' then 2 when 'low' then 3 else 4 end`)
      .orderBy(sql`jsonb_array_length(unhealthy)`, 'desc').limit(5).execute(),
    // Per-image counts kept by the database as findings are written (migration 0701): one row per
    // image instead of aggregating every critical and high finding.
    db.selectFrom('image_finding_counts').select(['digest', 'critical', 'high'])
      .where((eb) => eb.or([eb('critical', '>', 0), eb('high', '>', 0)]))
      .orderBy('critical', 'desc').orderBy('high', 'desc').orderBy('digest').limit(10).execute(),
    db.selectFrom('plans').select(['scope', 'enabled']).execute(),
    db.selectFrom('clusters').leftJoin('nodes', 'nodes.cluster', 'clusters.name')
      .select(['clusters.name', 'clusters.last_event_at',
        sql<string>`count(nodes.id)`.as('nodes'),
        sql<string>`count(nodes.id) filter (where nodes.last_heartbeat >= ${stale})`.as('reporting'),
        sql<Date | null>`max(nodes.last_heartbeat)`.as('last_heartbeat')])
      .groupBy(['clusters.name', 'clusters.last_event_at']).orderBy('clusters.name').limit(200).execute(),
    db.selectFrom('registries')
      .leftJoin('images', (join) => join.onRef('images.registry', '=', 'registries.name').on('images.deleted', '=', false))
      .select(['registries.name', sql<string>`count(images.digest)`.as('images'),
        sql<Date | null>`max(images.last_pushed)`.as('last_pushed'), sql<Date | null>`max(images.last_scanned)`.as('last_scanned')])
      .groupBy('registries.name').orderBy('registries.name').limit(200).execute(),
    // One indexed lookup per source (alerts_source_last_seen) instead of a scan of every alert.
    Promise.all(ALERT_SOURCES.map(async (source) => {
      const row = await db.selectFrom('alerts').select('last_seen').where('source', '=', source).orderBy('last_seen', 'desc').limit(1).executeTakeFirst();
      return [source, row?.last_seen] as const;
    })),
    db.selectFrom('recommendation_exemptions').select('id').where('expires_at', '>', now).limit(1).executeTakeFirst(),
  ]);
  // Exempt resources are not unhealthy: with exemptions in force, count from the recommendations as listed.
  const recommendations = !exempting ? unexempted : (await listRecommendations(db, undefined, { at: now }))
    .filter((r) => r.unhealthy.length > 0)
    .map((r) => ({ policy: r.policy, scope: r.scope, title: r.title, severity: r.severity, unhealthy: r.unhealthy.length }))
    .sort((a, b) => compareSeverity(b.severity, a.severity) || b.unhealthy - a.unhealthy)
    .slice(0, 5);

  const activeBySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  const counts = new Map<string, number>();
  let total = 0;
  for (const row of alertGroups) {
    const n = Number(row.n);
    total += n;
    if (row.active && row.severity in activeBySeverity) activeBySeverity[row.severity as Severity] += n;
    if (row.day) counts.set(row.day, (counts.get(row.day) ?? 0) + n);
  }
  const perDay = Array.from({ length: days }, (_, i) => {
    const day = new Date(since.getTime() + i * 86_400_000).toISOString().slice(0, 10);
    return { day, count: counts.get(day) ?? 0 };
  });
  const images = vulnerable.length ? await db.selectFrom('images').select(['digest', 'registry', 'repository', 'tags']).where('digest', 'in', vulnerable.map((v) => v.digest)).execute() : [];
  const imageByDigest = new Map(images.map((i) => [i.digest, i]));
  const planOn = (scope: string) => plans.find((p) => p.scope === scope)?.enabled ?? true;

  return {
    generatedAt: now,
    alerts: { activeBySeverity, perDay, total },
    topRecommendations: recommendations.map((r) => ({ ...r, unhealthy: Number(r.unhealthy) })),
    vulnerableImages: vulnerable.map((v) => {
      const image = imageByDigest.get(v.digest);
      return { digest: v.digest, registry: image?.registry ?? null, repository: image?.repository ?? null, tags: image?.tags ?? [], critical: Number(v.critical), high: Number(v.high) };
    }),
    coverage: {
      clusters: clusterRows.map((c) => ({ name: c.name, plan: planOn(`cluster:${c.name}`), nodes: Number(c.nodes), agentsReporting: Number(c.reporting), lastEventAt: c.last_event_at, lastHeartbeat: c.last_heartbeat ? new Date(c.last_heartbeat) : null })),
      registries: registryRows.map((r) => ({ name: r.name, plan: planOn(`registry:${r.name}`), images: Number(r.images), lastPushed: r.last_pushed ? new Date(r.last_pushed) : null, lastScanned: r.last_scanned ? new Date(r.last_scanned) : null })),
      lastAlertBySource: Object.fromEntries(lastBySource.filter(([, at]) => at).map(([source, at]) => [source, new Date(at!)])),
    },
  };
}
