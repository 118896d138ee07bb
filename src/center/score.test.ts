import { describe, expect, it } from 'vitest';
import type { ResourceRef } from '../core/index.js';
import { createTestStore } from '../../test/support/store.js';
import { listRecommendations, saveRecommendations } from './recommendations.js';
import { recordDailyScore, scoreHistory, secureScore, type ScoredRecommendation } from './score.js';

const ref = (cluster: string, name: string): ResourceRef => ({ kind: 'workload', id: `${cluster}/shop/deployment/${name}`, name, cluster, namespace: 'shop' });
const rec = (policy: string, control: string, healthy: ResourceRef[], unhealthy: ResourceRef[], notApplicable: ResourceRef[] = []): ScoredRecommendation =>
  ({ policy, control, title: policy, severity: 'medium', remediation: '-', healthy, unhealthy, notApplicable });

const [a1, a2, a3, a4] = ['w1', 'w2', 'w3', 'w4'].map((n) => ref('a', n)) as [ResourceRef, ResourceRef, ResourceRef, ResourceRef];
const b1 = ref('b', 'w1');

describe('secureScore', () => {
  const recs = [
    // Manage access (max 4): a: w1 unhealthy in one of two recs, w2 in the other, w3 and w4 healthy → 2/4 healthy; b: w1 healthy.
    rec('no-privileged-containers', 'Manage access and permissions', [a2, a3, a4, b1], [a1]),
    rec('no-privilege-escalation', 'Manage access and permissions', [a1, a3, a4, b1], [a2]),
    // Network (max 4): a: 1 of 2 healthy; b: not applicable only.
    rec('service-types', 'Restrict unauthorized network access', [a3], [a4], [b1]),
    // Best practices: no points.
    rec('required-probes', 'Implement security best practices', [], [a1, a2, a3, a4, b1]),
  ];

  it('scores a control as max × healthy / (healthy + unhealthy), a resource unhealthy if any recommendation says so', () => {
    const s = secureScore(recs);
    const a = s.clusters.a!;
    expect(a.controls.find((c) => c.control === 'Manage access and permissions')).toMatchObject({ maxScore: 4, healthy: 2, unhealthy: 2, score: 2 });
    expect(a.controls.find((c) => c.control === 'Restrict unauthorized network access')).toMatchObject({ healthy: 1, unhealthy: 1, score: 2 });
    expect(a).toMatchObject({ score: 4, maxScore: 8, percentage: 50 });
  });

  it('leaves out controls with nothing assessed, per cluster', () => {
    const b = secureScore(recs).clusters.b!;
    expect(b.controls.find((c) => c.control === 'Restrict unauthorized network access')).toMatchObject({ healthy: 0, unhealthy: 0, notApplicable: 1, score: 0 });
    expect(b).toMatchObject({ score: 4, maxScore: 4, percentage: 100 });
  });

  it('pools every resource for the overall score', () => {
    const overall = secureScore(recs).overall;
    // Access: 3 healthy of 5 → 2.4; network: 1 of 2 → 2.
    expect(overall).toMatchObject({ score: 4.4, maxScore: 8, percentage: 55 });
  });

  it('keeps one score per scope per day and the recommendations per scope', async () => {
    const temp = await createTestStore({ name: 'score' });
    const { store } = temp;
    try {
      await recordDailyScore(store.db, secureScore(recs), new Date('2026-03-01T08:00:00Z'));
      await recordDailyScore(store.db, secureScore(recs.slice(0, 2)), new Date('2026-03-01T20:00:00Z'));
      await recordDailyScore(store.db, secureScore(recs), new Date('2026-03-02T08:00:00Z'));
      const history = await scoreHistory(store.db, 'overall');
      expect(history.map((h) => h.day)).toEqual(['2026-03-01', '2026-03-02']);
      expect(history[0]!.percentage).toBe(60);
      expect((await scoreHistory(store.db, 'cluster:a')).map((h) => h.percentage)).toEqual([50, 50]);

      await saveRecommendations(store.db, 'cluster:a', recs, new Date('2026-03-02T08:00:00Z'));
      await saveRecommendations(store.db, 'cluster:a', recs.slice(0, 1), new Date('2026-03-02T09:00:00Z'));
      const stored = await listRecommendations(store.db, 'cluster:a');
      expect(stored.map((r) => r.policy)).toEqual(['no-privileged-containers']);
      expect(stored[0]!.unhealthy).toEqual([{ ...a1, identity: 'workload:a/shop/deployment/w1' }]);
    } finally {
      await temp.close();
    }
  });
});
