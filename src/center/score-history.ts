import type { Kysely } from 'kysely';
import type { Database } from '../store/index.js';
import { exemptionsLapsedSince } from './exemptions.js';
import { scoreHistory, type ScoreHistoryPoint } from './score.js';
import { refreshSecureScore } from './score-refresh.js';

export interface ScoreView {
  scope: string;
  /** The latest day's score, with its controls; absent before the first evaluation. */
  current?: ScoreHistoryPoint & { controls: unknown[]; computedAt: Date };
  history: ScoreHistoryPoint[];
  /** Every scope with a recorded score (`overall`, `cluster:NAME`). */
  scopes: string[];
}

/**
 * The secure score of a scope and its daily trend, as the overview page shows it. With `now`, an
 * exemption that expired since the score was computed makes it computed again first (the exempt
 * resources count again from their expiry, not from the next evaluation).
 */
export async function scoreView(db: Kysely<Database>, scope = 'overall', days = 30, now?: Date): Promise<ScoreView> {
  if (now && (await exemptionsLapsedSince(db, now))) await refreshSecureScore(db, now);
  const history = await scoreHistory(db, scope, days);
  const latest = await db.selectFrom('secure_scores').selectAll().where('scope', '=', scope).orderBy('day', 'desc').limit(1).executeTakeFirst();
  const scopes = (await db.selectFrom('secure_scores').select('scope').distinct().orderBy('scope').execute()).map((r) => r.scope);
  return {
    scope,
    history,
    scopes,
    ...(latest ? {
      current: {
        day: latest.day,
        score: Number(latest.score),
        maxScore: Number(latest.max_score),
        percentage: Number(latest.percentage),
        controls: typeof latest.controls === 'string' ? JSON.parse(latest.controls) as unknown[] : latest.controls,
        computedAt: new Date(latest.computed_at),
      },
    } : {}),
  };
}
