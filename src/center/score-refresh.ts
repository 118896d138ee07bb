import type { Kysely } from 'kysely';
import type { Database } from '../store/index.js';
import { listRecommendations } from './recommendations.js';
import { recordDailyScore, secureScore, type ScoredRecommendation, type SecureScore } from './score.js';

/**
 * Recomputes the secure score from every scope's stored recommendations (clusters and registries)
 * and keeps it as today's score, per cluster and overall. Called after any evaluation replaces a
 * scope's recommendations, so the score always matches what the recommendations page shows;
 * exemptions in force at `at` apply (exempt resources do not count), and the score is computed
 * again when one is made, removed, or expires (score-history.ts).
 */
export async function refreshSecureScore(db: Kysely<Database>, at: Date): Promise<SecureScore> {
  const scored = (await listRecommendations(db, undefined, { at })).filter((r): r is typeof r & ScoredRecommendation => typeof r.control === 'string');
  const score = secureScore(scored);
  await recordDailyScore(db, score, at);
  return score;
}
