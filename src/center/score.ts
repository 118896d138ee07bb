/**
 * Secure score as Microsoft Defender for Cloud computes it: recommendations are grouped into
 * security controls with maximum points; a control's score is max × healthy / (healthy + unhealthy),
 * where a resource is unhealthy for the control if any of its recommendations finds it unhealthy.
 * The score is the sum over controls that have assessed resources; per cluster and overall.
 */
import type { Kysely } from 'kysely';
import type { Recommendation, ResourceRef } from '../core/index.js';
import type { Database } from '../store/index.js';

export interface SecurityControl {
  name: string;
  maxScore: number;
}

/** Defender's controls and maximum points (the subset Kubernetes recommendations map to). */
export const SECURITY_CONTROLS: readonly SecurityControl[] = [
  { name: 'Remediate vulnerabilities', maxScore: 6 },
  { name: 'Apply system updates', maxScore: 6 },
  { name: 'Manage access and permissions', maxScore: 4 },
  { name: 'Restrict unauthorized network access', maxScore: 4 },
  { name: 'Remediate security configurations', maxScore: 4 },
  { name: 'Enable auditing and logging', maxScore: 1 },
  // Best practices are shown but carry no points, as in Defender.
  { name: 'Implement security best practices', maxScore: 0 },
];

export interface ScoredRecommendation extends Recommendation {
  /** The control it counts toward. */
  control: string;
}

export interface ControlScore {
  control: string;
  maxScore: number;
  score: number;
  healthy: number;
  unhealthy: number;
  notApplicable: number;
  recommendations: string[];
}

export interface ScoreSummary {
  score: number;
  maxScore: number;
  /** 0-100. */
  percentage: number;
  controls: ControlScore[];
}

export interface SecureScore {
  overall: ScoreSummary;
  clusters: Record<string, ScoreSummary>;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

function summarize(recs: readonly ScoredRecommendation[], controls: readonly SecurityControl[], include: (r: ResourceRef) => boolean): ScoreSummary {
  const out: ControlScore[] = [];
  let score = 0;
  let maxScore = 0;
  for (const control of controls) {
    const members = recs.filter((r) => r.control === control.name);
    if (members.length === 0) continue;
    const unhealthy = new Set<string>();
    const assessed = new Set<string>();
    const notApplicable = new Set<string>();
    for (const r of members) {
      for (const ref of r.unhealthy) if (include(ref)) { unhealthy.add(ref.id); assessed.add(ref.id); }
      for (const ref of r.healthy) if (include(ref)) assessed.add(ref.id);
      for (const ref of r.notApplicable) if (include(ref)) notApplicable.add(ref.id);
    }
    const healthy = assessed.size - unhealthy.size;
    for (const id of assessed) notApplicable.delete(id);
    const cs: ControlScore = {
      control: control.name, maxScore: control.maxScore,
      score: assessed.size ? round2((control.maxScore * healthy) / assessed.size) : 0,
      healthy, unhealthy: unhealthy.size, notApplicable: notApplicable.size,
      recommendations: members.map((r) => r.policy),
    };
    out.push(cs);
    // A control with nothing to assess neither adds nor costs points (Defender leaves it out).
    if (assessed.size) { score += cs.score; maxScore += control.maxScore; }
  }
  return { score: round2(score), maxScore, percentage: maxScore ? round2((100 * score) / maxScore) : 100, controls: out };
}

/** Score per cluster (by ResourceRef.cluster) and overall (every resource pooled, so big clusters weigh more). */
export function secureScore(recommendations: readonly ScoredRecommendation[], controls: readonly SecurityControl[] = SECURITY_CONTROLS): SecureScore {
  const clusterNames = new Set<string>();
  for (const r of recommendations) for (const list of [r.healthy, r.unhealthy, r.notApplicable]) for (const ref of list) if (ref.cluster) clusterNames.add(ref.cluster);
  const clusters: Record<string, ScoreSummary> = {};
  for (const name of [...clusterNames].sort()) clusters[name] = summarize(recommendations, controls, (ref) => ref.cluster === name);
  return { overall: summarize(recommendations, controls, () => true), clusters };
}

export interface SecureScoreTable {
  scope: string;
  day: string;
  score: number;
  max_score: number;
  percentage: number;
  controls: string | ControlScore[];
  computed_at: Date | string;
}

declare module '../store/schema.js' {
  interface Database {
    secure_scores: SecureScoreTable;
  }
}

/** Keeps one score per scope per UTC day (the latest computation of the day wins). */
export async function recordDailyScore(db: Kysely<Database>, score: SecureScore, at: Date): Promise<void> {
  const day = at.toISOString().slice(0, 10);
  const rows = [['overall', score.overall] as const, ...Object.entries(score.clusters).map(([name, s]) => [`cluster:${name}`, s] as const)]
    .map(([scope, s]) => ({ scope, day, score: s.score, max_score: s.maxScore, percentage: s.percentage, controls: JSON.stringify(s.controls), computed_at: at }));
  if (rows.length === 0) return;
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('secure_scores').values(rows)
      .onConflict((oc) => oc.columns(['scope', 'day']).doUpdateSet((eb) => ({
        score: eb.ref('excluded.score'), max_score: eb.ref('excluded.max_score'), percentage: eb.ref('excluded.percentage'),
        controls: eb.ref('excluded.controls'), computed_at: eb.ref('excluded.computed_at'),
      })))
      .execute();
  });
}

export interface ScoreHistoryPoint { day: string; score: number; maxScore: number; percentage: number }

export async function scoreHistory(db: Kysely<Database>, scope = 'overall', days = 90): Promise<ScoreHistoryPoint[]> {
  const rows = await db.selectFrom('secure_scores').select(['day', 'score', 'max_score', 'percentage'])
    .where('scope', '=', scope).orderBy('day', 'desc').limit(days).execute();
  return rows.reverse().map((r) => ({ day: r.day, score: Number(r.score), maxScore: Number(r.max_score), percentage: Number(r.percentage) }));
}
