/**
 * Exemptions from recommendations, as in Defender for Cloud: an admin exempts one resource, or a
 * whole scope (a cluster or registry), from one recommendation, with a reason and an expiry. While
 * it is in force the resource is listed as exempt instead of unhealthy and does not count against
 * the secure score; once it expires the resource counts again. Creating and removing one is
 * recorded in the audit trail.
 */
import { sql, type Kysely } from 'kysely';
import { PalisadeError, randomIds, type ResourceRef } from '../core/index.js';
import { recordAction, type Database } from '../store/index.js';
import type { StoredRecommendation } from './recommendations.js';

export interface Exemption {
  id: string;
  policy: string;
  scope: string;
  /** The exempt resource's id; absent: every resource of the recommendation in the scope. */
  resource?: string;
  reason: string;
  expiresAt: Date;
  createdBy: string;
  createdAt: Date;
}

export interface ExemptionTable {
  id: string;
  policy: string;
  scope: string;
  resource_id: string | null;
  reason: string;
  expires_at: Date;
  created_by: string;
  created_at: Date;
}

declare module '../store/schema.js' {
  interface Database {
    recommendation_exemptions: ExemptionTable;
  }
}

export const MAX_EXEMPTION_REASON = 1000;

function toExemption(row: ExemptionTable): Exemption {
  return {
    id: row.id, policy: row.policy, scope: row.scope, ...(row.resource_id !== null ? { resource: row.resource_id } : {}),
    reason: row.reason, expiresAt: new Date(row.expires_at), createdBy: row.created_by, createdAt: new Date(row.created_at),
  };
}

/** Exemptions in force at `at` (not yet expired), of one scope or all. */
export async function activeExemptions(db: Kysely<Database>, at: Date, scope?: string): Promise<Exemption[]> {
  let q = db.selectFrom('recommendation_exemptions').selectAll().where('expires_at', '>', at);
  if (scope) q = q.where('scope', '=', scope);
  return (await q.orderBy('created_at').orderBy('id').execute()).map(toExemption);
}

/** Moves exempt unhealthy resources to `exempt`, and lists each recommendation's exemptions in force. */
export function applyExemptions(recommendations: StoredRecommendation[], exemptions: readonly Exemption[]): StoredRecommendation[] {
  if (!exemptions.length) return recommendations;
  const byRecommendation = new Map<string, Exemption[]>();
  for (const e of exemptions) {
    const key = `${e.policy}\u0000${e.scope}`;
    byRecommendation.set(key, [...(byRecommendation.get(key) ?? []), e]);
  }
  return recommendations.map((r) => {
    const found = byRecommendation.get(`${r.policy}\u0000${r.scope}`);
    if (!found) return r;
    const wholeScope = found.some((e) => e.resource === undefined);
    const resources = new Set(found.map((e) => e.resource));
    const isExempt = (ref: ResourceRef) => wholeScope || resources.has(ref.id);
    return { ...r, unhealthy: r.unhealthy.filter((ref) => !isExempt(ref)), exempt: [...r.exempt, ...r.unhealthy.filter(isExempt)], exemptions: found };
  });
}

export interface ExemptionInput {
  policy: string;
  scope: string;
  resource?: string;
  reason: string;
  expiresAt: Date;
}

const invalid = (field: string, message: string, hint?: string) => new PalisadeError('exemption.invalid', message, { field, kind: 'unprocessable', ...(hint ? { hint } : {}) });

/**
 * Exempts a resource (or, without one, the whole scope) from a stored recommendation. The reason
 * must say something, the expiry must be in the future, and the resource must be one the
 * recommendation assessed. Recorded in the audit trail as `recommendation.exempted` by `actor`.
 */
export async function createExemption(db: Kysely<Database>, input: ExemptionInput, actor: string, now: Date): Promise<Exemption> {
  const reason = input.reason.trim();
  if (!reason) throw invalid('reason', 'reason must say why the resource is exempt', 'it is recorded in the audit trail');
  if (reason.length > MAX_EXEMPTION_REASON) throw invalid('reason', `reason is longer than ${MAX_EXEMPTION_REASON} characters`);
  if (Number.isNaN(input.expiresAt.getTime())) throw invalid('expiresAt', 'expiresAt is not a date');
  if (input.expiresAt <= now) throw invalid('expiresAt', `expiresAt (${input.expiresAt.toISOString()}) must be in the future`, 'an exemption always ends; renew it when it expires');
  const recommendation = await db.selectFrom('recommendations').select(['healthy', 'unhealthy', 'not_applicable'])
    .where('policy', '=', input.policy).where('scope', '=', input.scope).executeTakeFirst();
  if (!recommendation) {
    throw new PalisadeError('exemption.unknown_recommendation', `no recommendation ${input.policy} in scope ${input.scope}`, { field: 'policy', kind: 'not-found', hint: 'GET /api/v1/recommendations lists them' });
  }
  if (input.resource !== undefined) {
    const lists = [recommendation.healthy, recommendation.unhealthy, recommendation.not_applicable]
      .map((v) => (typeof v === 'string' ? JSON.parse(v) : v) as ResourceRef[]);
    if (!lists.some((list) => list.some((ref) => ref.id === input.resource))) {
      throw invalid('resource', `resource ${input.resource} is not among the resources recommendation ${input.policy} assessed in ${input.scope}`, 'use a resource id from the recommendation, or leave resource out to exempt the whole scope');
    }
  }
  const row: ExemptionTable = {
    id: randomIds.next('exm_'), policy: input.policy, scope: input.scope, resource_id: input.resource ?? null,
    reason, expires_at: input.expiresAt, created_by: actor, created_at: now,
  };
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('recommendation_exemptions').values(row).execute();
    await recordAction(tx, {
      actor, action: 'recommendation.exempted', target: row.id, at: now,
      details: { policy: row.policy, scope: row.scope, resource: row.resource_id, reason, expiresAt: row.expires_at.toISOString() },
    });
  });
  return toExemption(row);
}

export interface ExemptionFilter {
  scope?: string;
  policy?: string;
  /** active: in force at `at` (default); expired: past their expiry; all. */
  status?: 'active' | 'expired' | 'all';
}

/** Exemptions, newest first. */
export async function listExemptions(db: Kysely<Database>, filter: ExemptionFilter, at: Date): Promise<Exemption[]> {
  let q = db.selectFrom('recommendation_exemptions').selectAll();
  if (filter.scope) q = q.where('scope', '=', filter.scope);
  if (filter.policy) q = q.where('policy', '=', filter.policy);
  const status = filter.status ?? 'active';
  if (status === 'active') q = q.where('expires_at', '>', at);
  if (status === 'expired') q = q.where('expires_at', '<=', at);
  return (await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1000).execute()).map(toExemption);
}

/** Removes an exemption (the resource counts again at once); false if there is none with this id. */
export async function removeExemption(db: Kysely<Database>, id: string, actor: string, now: Date): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const row = await tx.deleteFrom('recommendation_exemptions').where('id', '=', id).returningAll().executeTakeFirst();
    if (!row) return false;
    await recordAction(tx, {
      actor, action: 'recommendation.exemption-removed', target: id, at: now,
      details: { policy: row.policy, scope: row.scope, resource: row.resource_id, reason: row.reason },
    });
    return true;
  });
}

/** Whether an exemption has expired since the score was last computed (the stored score is stale). */
export async function exemptionsLapsedSince(db: Kysely<Database>, now: Date): Promise<boolean> {
  const row = await db.selectFrom('recommendation_exemptions').select(sql<number>`1`.as('one'))
    .where('expires_at', '<=', now)
    .where(sql<boolean>`expires_at > coalesce((select max(computed_at) from secure_scores), '-infinity'::timestamptz)`)
    .limit(1).executeTakeFirst();
  return row !== undefined;
}
