/** Recommendations as the security center keeps them: one row per policy per scope, replaced on each evaluation. */
import type { Kysely } from 'kysely';
import { systemClock, type Recommendation, type ResourceRef, type Severity } from '../core/index.js';
import type { Database } from '../store/index.js';
import { identityOfResource } from '../graph/index.js';
import { activeExemptions, applyExemptions, type Exemption } from './exemptions.js';

/**
 * Replaces the recommendations of a scope (`cluster:NAME`) in one transaction. Written as an
 * upsert, not delete-then-insert: two workers finishing scans of one registry at once would
 * otherwise both insert the same (policy, scope) row and one would fail on the key.
 */
export async function saveRecommendations(db: Kysely<Database>, scope: string, recommendations: readonly Recommendation[], at: Date): Promise<void> {
  await db.transaction().execute(async (tx) => {
    let stale = tx.deleteFrom('recommendations').where('scope', '=', scope);
    if (recommendations.length) stale = stale.where('policy', 'not in', recommendations.map((r) => r.policy));
    await stale.execute();
    if (recommendations.length === 0) return;
    await tx.insertInto('recommendations').values(recommendations.map((r) => ({
      policy: r.policy, scope, title: r.title, severity: r.severity, remediation: r.remediation,
      healthy: JSON.stringify(r.healthy), unhealthy: JSON.stringify(r.unhealthy), not_applicable: JSON.stringify(r.notApplicable),
      control: r.control ?? null, evaluated_at: at,
    }))).onConflict((oc) => oc.columns(['policy', 'scope']).doUpdateSet((eb) => ({
      title: eb.ref('excluded.title'), severity: eb.ref('excluded.severity'), remediation: eb.ref('excluded.remediation'),
      healthy: eb.ref('excluded.healthy'), unhealthy: eb.ref('excluded.unhealthy'), not_applicable: eb.ref('excluded.not_applicable'),
      control: eb.ref('excluded.control'), evaluated_at: eb.ref('excluded.evaluated_at'),
    }))).execute();
  });
}

/**
 * Replaces one recommendation of a scope, leaving the scope's others as they were evaluated: what
 * changed is known to touch only this policy (VEX statements change the running-images one, not
 * the posture checks evaluated beside it).
 */
export async function saveRecommendation(db: Kysely<Database>, scope: string, r: Recommendation, at: Date): Promise<void> {
  await db.insertInto('recommendations').values({
    policy: r.policy, scope, title: r.title, severity: r.severity, remediation: r.remediation,
    healthy: JSON.stringify(r.healthy), unhealthy: JSON.stringify(r.unhealthy), not_applicable: JSON.stringify(r.notApplicable),
    control: r.control ?? null, evaluated_at: at,
  }).onConflict((oc) => oc.columns(['policy', 'scope']).doUpdateSet((eb) => ({
    title: eb.ref('excluded.title'), severity: eb.ref('excluded.severity'), remediation: eb.ref('excluded.remediation'),
    healthy: eb.ref('excluded.healthy'), unhealthy: eb.ref('excluded.unhealthy'), not_applicable: eb.ref('excluded.not_applicable'),
    control: eb.ref('excluded.control'), evaluated_at: eb.ref('excluded.evaluated_at'),
  }))).execute();
}

export interface StoredRecommendation extends Recommendation {
  scope: string;
  evaluatedAt: Date;
  /** Unhealthy resources an exemption in force leaves out of `unhealthy` and of the secure score. */
  exempt: ResourceRef[];
  /** The exemptions in force for this recommendation (a resource's, or the whole scope's). */
  exemptions: Exemption[];
}

export interface ListRecommendationsOptions {
  /** Exemptions in force at this time apply (default: now). */
  at?: Date;
  /** false: the resources as evaluated, exemptions not applied. */
  exemptions?: boolean;
}

/** The stored resources, each named by its graph identity too (read time: rows stored before the graph existed get one). */
const parse = (v: unknown): ResourceRef[] => {
  const refs = typeof v === 'string' ? (JSON.parse(v) as ResourceRef[]) : (v as ResourceRef[]);
  return refs.map((ref) => {
    const identity = identityOfResource(ref);
    return identity ? { ...ref, identity } : ref;
  });
};

/**
 * The stored recommendations (of one scope, or all), with the exemptions in force applied:
 * exempt unhealthy resources move to `exempt`, so whatever scores these (the secure score) leaves them out.
 */
export async function listRecommendations(db: Kysely<Database>, scope?: string, options: ListRecommendationsOptions = {}): Promise<StoredRecommendation[]> {
  let q = db.selectFrom('recommendations').selectAll().orderBy('scope').orderBy('policy');
  if (scope) q = q.where('scope', '=', scope);
  const stored = (await q.execute()).map((r): StoredRecommendation => ({
    policy: r.policy, scope: r.scope, title: r.title, severity: r.severity as Severity, remediation: r.remediation,
    healthy: parse(r.healthy), unhealthy: parse(r.unhealthy), notApplicable: parse(r.not_applicable),
    ...(r.control ? { control: r.control } : {}), evaluatedAt: new Date(r.evaluated_at), exempt: [], exemptions: [],
  }));
  if (options.exemptions === false || stored.length === 0) return stored;
  return applyExemptions(stored, await activeExemptions(db, options.at ?? systemClock.now(), scope));
}
