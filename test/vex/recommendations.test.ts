import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRecommendations, replaceImageFindings, saveRecommendations } from '../../src/center/index.js';
import type { Finding, Recommendation } from '../../src/core/index.js';
import { runningImagesRecommendation, RUNNING_IMAGES_POLICY } from '../../src/registry/index.js';
import { replaceRunningImages } from '../../src/store/index.js';
import { bearer, createTestApp, type TestApp } from '../support/app.js';

/**
 * A VEX upload re-evaluates "Running container images should have vulnerability findings
 * resolved" of every cluster at once, and only that recommendation of the cluster: the posture
 * checks evaluated beside it keep their results and evaluation time.
 */
describe('VEX and the clusters\' running-images recommendation', () => {
  let t: TestApp;
  const digest = `sha256:${'a'.repeat(64)}`;
  const evaluated = new Date('2026-01-01T00:00:00Z');
  const posture: Recommendation = {
    policy: 'pod-security-privileged', title: 'Privileged containers should be avoided', severity: 'high', remediation: 'drop privileged',
    healthy: [], unhealthy: [{ kind: 'pod', id: 'c1/default/web', name: 'web' }], notApplicable: [], control: 'Restrict privileges',
  };
  const finding: Finding = {
    id: 'DEBIAN-CVE-2026-0001', aliases: ['CVE-2026-0001'], title: 'x', severity: 'high', severitySource: 'Debian', advisoryIds: ['DEBIAN-CVE-2026-0001'],
    status: 'fixed', fixedVersion: '3.0.12', remediation: 'upgrade', installedVersion: '3.0.11',
    package: { name: 'libssl3', version: '3.0.11', ecosystem: 'Debian:12', purl: 'pkg:deb/debian/libssl3@3.0.11?arch=amd64&distro=debian-12' },
  };

  beforeAll(async () => {
    t = await createTestApp();
    const { db } = t.store;
    await db.insertInto('registries').values({ id: 'reg_1', name: 'local', url: 'http://127.0.0.1:5000', kind: 'distribution' }).execute();
    await db.insertInto('images').values({ id: 'local/shop/web@x', digest, registry: 'local', repository: 'shop/web', tags: JSON.stringify(['1']), last_scanned: evaluated }).execute();
    await db.transaction().execute((tx) => replaceImageFindings(tx, digest, [finding]));
    await replaceRunningImages(db, 'c1', [{ namespace: 'default', pod: 'web', container: 'web', image: '127.0.0.1:5000/shop/web:1', digest }], evaluated);
    await saveRecommendations(db, 'cluster:c1', [posture, await runningImagesRecommendation(db, 'c1')], evaluated);
  }, 120_000);
  afterAll(async () => t?.close());

  it('turns the running image healthy when its only serious finding is stated fixed, leaving the posture check as evaluated', async () => {
    const before = await listRecommendations(t.store.db, 'cluster:c1', { exemptions: false });
    expect(before.find((r) => r.policy === RUNNING_IMAGES_POLICY)!.unhealthy.map((r) => r.id)).toEqual([`c1/${digest}`]);
    const response = await t.app.inject({
      method: 'POST', url: '/api/v1/vex', headers: bearer(t.adminToken),
      payload: {
        '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://palisade.test/vex/web', author: 'Web Team', timestamp: '2026-02-01T00:00:00Z', version: 1,
        statements: [{
          vulnerability: { name: 'CVE-2026-0001' }, products: [{ '@id': 'pkg:oci/web?repository_url=127.0.0.1:5000/shop/web&tag=1', subcomponents: [{ '@id': 'pkg:deb/debian/libssl3' }] }],
          status: 'fixed',
        }],
      },
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ statements: 1, applied: { images: 1, findings: 1 } });
    const after = await listRecommendations(t.store.db, 'cluster:c1', { exemptions: false });
    const running = after.find((r) => r.policy === RUNNING_IMAGES_POLICY)!;
    expect(running.unhealthy).toEqual([]);
    expect(running.healthy.map((r) => r.id)).toEqual([`c1/${digest}`]);
    expect(after.find((r) => r.policy === posture.policy)).toMatchObject({ unhealthy: posture.unhealthy, evaluatedAt: evaluated });
  });
});
