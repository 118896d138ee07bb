import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KyselyPlugin } from 'kysely';
import { recordThreats, type DetectedThreat } from '../../src/center/alerts.js';
import { getIncident, incidentKeys, listIncidents } from '../../src/center/index.js';
import { down as dropMembership, up as createMembership } from '../../src/store/migrations/0731_incident_membership.js';
import { down as dropCounts, up as createCounts } from '../../src/store/migrations/0732_incident_status_counts.js';
import { createTestApp, type TestApp } from '../support/app.js';

const pod = (name: string) => ({ kind: 'pod' as const, id: `prod/shop/pod/${name}`, name, cluster: 'prod', namespace: 'shop' });
const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.now();

function threat(rule: string, name: string, at: number, severity: DetectedThreat['severity'] = 'medium'): DetectedThreat {
  return {
    rule, title: `${rule} on ${name}`, severity, tactic: rule === 'host.crypto-miner' ? 'Impact' : 'Execution', technique: 'T1609', resource: pod(name),
    evidence: [{ rule }], remediation: 'Investigate the pod', source: 'agent', at: new Date(at),
  };
}

/** Counts the statements a database handle runs. */
function counting() {
  const counter = { n: 0 };
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      counter.n++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return { counter, plugin };
}

/**
 * Incidents at scale: 20,000 alerts stored on PGlite. An alert 30 days old still belongs to its
 * incident (membership is stored, not recomputed from the newest alerts), a late alert on the
 * same pod within the window joins it, and a page of the list costs the same few statements
 * whether it is the first page or the last.
 */
describe('incidents hold at scale', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
    // The old attack: exec then a miner on old-web, 30 days ago.
    await recordThreats(t.store.db, [threat('k8s.exec-into-pod', 'old-web', NOW - 30 * DAY), threat('host.crypto-miner', 'old-web', NOW - 30 * DAY + 60_000, 'high')]);
    // 300 recent two-alert incidents and 19,400 lone alerts on other pods, written in batches as the intake does.
    const noise: DetectedThreat[] = [];
    for (let i = 0; i < 300; i++) noise.push(threat('k8s.exec-into-pod', `pair-${i}`, NOW - DAY + i * 1000), threat('host.crypto-miner', `pair-${i}`, NOW - DAY + i * 1000 + 500));
    for (let i = 0; i < 19_400; i++) noise.push(threat('k8s.exec-into-pod', `lone-${i}`, NOW - 2 * DAY + i * 1000));
    for (let i = 0; i < noise.length; i += 2000) await recordThreats(t.store.db, noise.slice(i, i + 2000));
    // A late report of the old attack (within the window of it), and one on old-web a month later (not).
    await recordThreats(t.store.db, [threat('host.suspicious-ip', 'old-web', NOW - 30 * DAY + 5 * 60_000), threat('host.suspicious-ip', 'old-web', NOW - 60_000)]);
  }, 600_000);
  afterAll(async () => t?.close());

  it('keeps a 30-day-old alert in its incident among 20,000, and the late report joins it', async () => {
    const count = await t.store.db.selectFrom('alerts').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(2 + 600 + 19_400 + 2);
    const old = await t.store.db.selectFrom('alerts').select(['id', 'first_seen']).where('resource_id', '=', 'prod/shop/pod/old-web').orderBy('first_seen').execute();
    expect(old).toHaveLength(4);
    const keys = await incidentKeys(t.store.db, old.map((a) => a.id));
    const [first, second, late, monthLater] = old.map((a) => keys.get(a.id));
    expect(second).toBe(first);
    expect(late).toBe(first);
    expect(monthLater).not.toBe(first);
    const incident = await getIncident(t.store.db, first!);
    expect(incident).toMatchObject({ alertCount: 3, severity: 'high', resource: { id: 'prod/shop/pod/old-web' } });
    expect(incident!.timeline.map((e) => e.title)).toEqual(['k8s.exec-into-pod on old-web', 'host.crypto-miner on old-web', 'host.suspicious-ip on old-web']);
    expect(incident!.alerts.find((a) => a.title === 'host.suspicious-ip on old-web')!.joinedBecause).toBe('same pod old-web as "host.crypto-miner on old-web"');
  }, 300_000);

  it('pages through every incident, the oldest last, with the same few statements per page', async () => {
    const { counter, plugin } = counting();
    const db = t.store.db.withPlugin(plugin);
    const seen: string[] = [];
    const perPage: number[] = [];
    let after: [string, string] | undefined;
    for (;;) {
      const before = counter.n;
      const page = await listIncidents(db, {}, 100, after);
      perPage.push(counter.n - before);
      seen.push(...page.map((i) => i.resource.id));
      if (page.length < 100) break;
      const last = page[page.length - 1]!;
      after = [last.lastSeen.toISOString(), last.id];
    }
    // 300 pairs and the old attack; lone alerts and the month-later alert are no incidents.
    expect(seen).toHaveLength(301);
    expect(new Set(seen).size).toBe(301);
    expect(seen[seen.length - 1]).toBe('prod/shop/pod/old-web');
    // One statement to find nothing left to assign, one for the page, one for its alerts: the same on every page.
    expect(new Set(perPage)).toEqual(new Set([3]));
  }, 300_000);

  it('assigns alerts stored before the migration (queued by it, assigned by the first read)', async () => {
    // Back to the schema before 0731: alerts recorded then reach no trigger.
    await dropCounts(t.store.db);
    await dropMembership(t.store.db);
    await recordThreats(t.store.db, [threat('k8s.exec-into-pod', 'before-1', NOW - 1000), threat('host.crypto-miner', 'before-1', NOW - 500, 'high')]);
    await createMembership(t.store.db);
    await createCounts(t.store.db);
    const page = await listIncidents(t.store.db, {}, 400);
    expect(page).toHaveLength(302);
    expect(page[0]).toMatchObject({ resource: { id: 'prod/shop/pod/before-1' }, alertCount: 2 });
    expect(page.map((i) => i.resource.id)).toContain('prod/shop/pod/old-web');
  }, 600_000);
});
