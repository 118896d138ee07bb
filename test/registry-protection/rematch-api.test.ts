import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordImageScan } from '../../src/center/index.js';
import { loadConfig, systemClock, type InstalledPackage } from '../../src/core/index.js';
import { startJobQueue, type JobQueue } from '../../src/jobs/index.js';
import { queuePendingRematches, REMATCH_QUEUE, rescanJobs } from '../../src/registry/index.js';
import { buildApp } from '../../src/server/index.js';
import { createToken, recordImagePush, type Store } from '../../src/store/index.js';
import { importOsv, pendingChanges } from '../../src/vulndb/index.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { createTestStore, type TestStore } from '../support/store.js';

const npm = (name: string, version: string): InstalledPackage => ({ name, version, ecosystem: 'npm', purl: `pkg:npm/${name}@${version}` });
const images = { lodash: `sha256:${'4'.repeat(64)}`, minimist: `sha256:${'5'.repeat(64)}` };

/**
 * `POST /api/v1/db/import` through the real server and the real job queue: each upload that
 * changes the database queues one re-match job for its version, and the worker re-matches only
 * the stored inventories holding a changed package (GitHub's npm advisories from the shared fixtures).
 */
describe.skipIf(!fixturesAvailable())('db import through the API re-matches what it changed', () => {
  let temp: TestStore;
  let store: Store;
  let jobs: JobQueue;
  let app: FastifyInstance;
  let token: string;

  beforeAll(async () => {
    temp = await createTestStore({ name: 'rematch-api' });
    store = temp.store;
    const rematch = rescanJobs({ store, clock: systemClock, jobs: () => jobs }).filter((d) => d.queue === REMATCH_QUEUE);
    jobs = await startJobQueue(store, { definitions: rematch, pollingIntervalSeconds: 0.5 });
    app = await buildApp({ config: loadConfig({ env: {}, cwd: temp.dir, flags: temp.location }), store, jobs, clock: systemClock });
    token = (await createToken(store.db, 'admin', 'test admin')).secret;
    const inventories = { lodash: [npm('lodash', '4.17.4')], minimist: [npm('minimist', '1.2.0')] };
    for (const name of ['lodash', 'minimist'] as const) {
      await recordImagePush(store.db, { registry: 'local', repository: `demo/${name}`, digest: images[name], tag: '1', imported: false, at: new Date() });
      await recordImageScan(store.db, { digest: images[name], startedAt: new Date(), finishedAt: new Date(), inventory: { packages: inventories[name] } });
    }
  });

  afterAll(async () => {
    await app?.close();
    await jobs?.stop(1000);
    await temp?.close();
  });

  const upload = async (id: string): Promise<string> => {
    const response = await app.inject({
      method: 'POST', url: `/api/v1/db/import?name=${id}.json`, payload: readFileSync(fixture('osv', 'npm', `${id}.json`)),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    });
    expect(response.statusCode).toBe(200);
    return (response.json() as { version: string }).version;
  };

  /** The finished re-match job of `version`: its result. */
  const rematched = async (version: string): Promise<{ images: number; newAlerts: number; full: boolean }> => {
    for (let waited = 0; waited < 60_000; waited += 250) {
      const rows = await sql<{ state: string; output: { images: number; newAlerts: number; full: boolean } }>`
        select state, output from pgboss.job where name = ${REMATCH_QUEUE} and data->>'version' = ${version}`.execute(store.db);
      if (rows.rows.some((r) => r.state === 'completed')) {
        expect(rows.rows).toHaveLength(1);
        return rows.rows[0]!.output;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`no re-match job of version ${version} completed`);
  };

  it('queues one re-match job per version; the first is full, the next takes only the image holding the changed package', async () => {
    // The first version has nothing to compare with: every stored inventory (lodash's GHSA-4xc9-xhrj-v574 is high).
    const first = await upload('GHSA-4xc9-xhrj-v574');
    expect(await rematched(first)).toMatchObject({ images: 2, full: true, newAlerts: 1 });
    // minimist's critical GHSA-xvch-5gv4-984h: only the minimist image.
    const second = await upload('GHSA-xvch-5gv4-984h');
    expect(second).not.toBe(first);
    expect(await rematched(second)).toMatchObject({ images: 1, full: false, newAlerts: 1 });
    const findings = await store.db.selectFrom('findings').select(['digest', 'vulnerability']).orderBy('digest').execute();
    expect(findings).toEqual([
      { digest: images.lodash, vulnerability: 'GHSA-4xc9-xhrj-v574' },
      { digest: images.minimist, vulnerability: 'GHSA-xvch-5gv4-984h' },
    ]);
  });

  it('re-matches a change made while no server ran (palisade db import offline) once a server queues what is pending', async () => {
    // As the CLI does on the data directory: the change is recorded, but no queue hears of it.
    await importOsv(store, [fixture('osv', 'npm', 'GHSA-35jh-r3h4-6jhm.json')]);
    const [version] = await pendingChanges(store);
    expect(version).toBeDefined();
    // What `palisade server` does once it listens.
    expect(await queuePendingRematches(store, jobs)).toEqual([version]);
    // lodash's command injection (GHSA-35jh-r3h4-6jhm): only the lodash image.
    expect(await rematched(version!)).toMatchObject({ images: 1, full: false });
    expect(await pendingChanges(store)).toEqual([]);
    const lodash = await store.db.selectFrom('findings').select('vulnerability').where('digest', '=', images.lodash).orderBy('vulnerability').execute();
    expect(lodash.map((f) => f.vulnerability)).toEqual(['GHSA-35jh-r3h4-6jhm', 'GHSA-4xc9-xhrj-v574']);
  });
});
