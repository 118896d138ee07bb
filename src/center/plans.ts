import type { Kysely } from 'kysely';
import { PalisadeError, type Plan, type PlanKind } from '../core/index.js';
import type { Database } from '../store/index.js';

/** Which plan governs a scope: clusters run the Kubernetes plan, registries the Registries plan. */
export function planKindOf(scope: string): PlanKind {
  if (scope.startsWith('cluster:')) return 'kubernetes';
  if (scope.startsWith('registry:')) return 'registries';
  throw new PalisadeError('plan.scope', `invalid plan scope '${scope}'`, { field: 'scope', hint: 'use cluster:NAME or registry:NAME' });
}

/**
 * A scope without a stored plan is on: protection starts when a cluster or registry connects,
 * as Defender's plans do once enabled for a subscription. Usage is metered either way.
 */
export async function isPlanEnabled(db: Kysely<Database>, scope: string): Promise<boolean> {
  const row = await db.selectFrom('plans').select('enabled').where('kind', '=', planKindOf(scope)).where('scope', '=', scope).executeTakeFirst();
  return row?.enabled ?? true;
}

export async function setPlan(db: Kysely<Database>, scope: string, enabled: boolean, at: Date): Promise<Plan> {
  const kind = planKindOf(scope);
  await db.insertInto('plans').values({ kind, scope, enabled, since: at })
    .onConflict((oc) => oc.columns(['kind', 'scope']).doUpdateSet({ enabled, since: at }))
    .execute();
  return { kind, scope, enabled, since: at };
}

export async function listPlans(db: Kysely<Database>): Promise<Plan[]> {
  const rows = await db.selectFrom('plans').selectAll().orderBy('scope').execute();
  return rows.map((r) => ({ kind: r.kind as PlanKind, scope: r.scope, enabled: r.enabled, since: r.since }));
}
