import { describe, expect, it } from 'vitest';
import { joinAlerts, type AlertIdentity, type JoinAlert } from './join.js';

const T0 = new Date('2026-03-02T08:00:00Z').getTime();
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

function alert(id: string, kind: string, resourceId: string, minutes: number, title = id): JoinAlert {
  return { id, title, resource: { kind, id: resourceId, name: resourceId.split('/').pop()! }, firstSeen: at(minutes), lastSeen: at(minutes) };
}

const pod = (name: string, owner?: string, images: string[] = [], containers: string[] = []): AlertIdentity => ({
  pod: { id: `pod:prod/shop/pod/${name}`, name },
  ...(owner ? { owner: { id: `workload:prod/shop/deployment/${owner}`, name: owner } } : {}),
  containers: containers.map((c) => ({ id: `container:prod/shop/${name}/${c}`, name: `${name}/${c}` })),
  images,
});
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

describe('joinAlerts', () => {
  it('joins an audit alert on a pod, an agent alert on its container and a registry alert on its image, with the reason for each', () => {
    const alerts = [
      alert('audit', 'pod', 'prod/shop/pod/web-1', 0, 'Privileged container created'),
      alert('agent', 'container', 'c0ffee', 5, 'Crypto miner'),
      alert('registry', 'image', `local/miner@${D1}`, -600, 'Image gained 1 critical'),
    ];
    const ids = new Map<string, AlertIdentity>([
      ['audit', pod('web-1', undefined, [D1])],
      ['agent', pod('web-1', undefined, [D1], ['miner'])],
      ['registry', { containers: [], images: [D1] }],
    ]);
    const groups = joinAlerts(alerts, ids);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.anchor).toBe('audit');
    expect(Object.fromEntries(groups[0]!.alerts.map((a) => [a.id, a.joinedBecause]))).toEqual({
      audit: 'first alert of the incident',
      agent: 'container of pod web-1, where "Privileged container created" was raised',
      registry: `image ${D1.slice(0, 19)}… runs in pod web-1`,
    });
  });

  it('joins a pod\'s alert with its owner\'s alert', () => {
    const alerts = [alert('a', 'workload', 'prod/shop/deployment/web', 0), alert('b', 'container', 'c1', 10)];
    const ids = new Map<string, AlertIdentity>([
      ['a', { owner: { id: 'workload:prod/shop/deployment/web', name: 'web' }, containers: [], images: [] }],
      ['b', pod('web-6b7f9c8d5-abcde', 'web', [], ['web'])],
    ]);
    const groups = joinAlerts(alerts, ids);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.alerts[1]).toEqual({ id: 'b', joinedBecause: 'pod web-6b7f9c8d5-abcde is owned by web, as in "a"' });
  });

  it('keeps alerts on two unrelated pods apart, even when they run the same vulnerable image', () => {
    const alerts = [alert('a', 'pod', 'prod/shop/pod/web-1', 0), alert('b', 'pod', 'prod/shop/pod/api-1', 1), alert('img', 'image', `local/base@${D1}`, 2)];
    const ids = new Map<string, AlertIdentity>([['a', pod('web-1', 'web', [D1])], ['b', pod('api-1', 'api', [D1])], ['img', { containers: [], images: [D1] }]]);
    const groups = joinAlerts(alerts, ids);
    expect(groups.map((g) => g.alerts.map((a) => a.id))).toEqual([['a', 'img'], ['b', 'img']]);
  });

  it('keeps alerts on one pod apart when they are further apart than the window', () => {
    const alerts = [alert('a', 'pod', 'prod/shop/pod/web-1', 0), alert('b', 'pod', 'prod/shop/pod/web-1', 25 * 60)];
    const ids = new Map<string, AlertIdentity>([['a', pod('web-1')], ['b', pod('web-1')]]);
    expect(joinAlerts(alerts, ids).map((g) => g.alerts.map((a) => a.id))).toEqual([['a'], ['b']]);
    // Within a shorter window they are apart too; within a longer one together.
    expect(joinAlerts(alerts, ids, 26 * 3_600_000).map((g) => g.alerts.map((a) => a.id))).toEqual([['a', 'b']]);
  });

  it('leaves an image alert whose digest no alerted pod runs on its own', () => {
    const alerts = [alert('a', 'pod', 'prod/shop/pod/web-1', 0), alert('img', 'image', `local/other@${D2}`, 1)];
    const ids = new Map<string, AlertIdentity>([['a', pod('web-1', undefined, [D1])], ['img', { containers: [], images: [D2] }]]);
    expect(joinAlerts(alerts, ids).map((g) => g.alerts.map((a) => a.id))).toEqual([['a'], ['img']]);
  });
});
