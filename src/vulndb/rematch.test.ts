import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { createTestStoreIfAvailable, STORE_BACKENDS, type TestStore } from '../../test/support/store.js';
import { recordImageScan } from '../center/index.js';
import { ManualClock, type ImageInventory, type InstalledPackage } from '../core/index.js';
import { markImageScanned, recordImagePush, type Store } from '../store/index.js';
import { rematchStoredInventories } from '../registry/index.js';
import { importOsv, vulndbJobs, type AdvisoryChange } from './index.js';
import { dpkgInventory, readImageFile } from './testing/fixtures.js';
import { zipToBuffer } from './testing/zip.js';

const npm = (name: string, version: string): InstalledPackage => ({ name, version, ecosystem: 'npm', purl: `pkg:npm/${name}@${version}` });
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const npmAdvisory = (id: string) => readFileSync(fixture('osv', 'npm', `${id}.json`), 'utf8');

/**
 * Re-matching after a database change takes only the stored inventories holding a changed package
 * (issue 21). Observable: the job's result (`images`), which images' finding rows were rewritten,
 * and the alerts raised. Real advisories: the shared OSV fixtures (Debian 12, GitHub's npm records).
 */
describe.each(STORE_BACKENDS)('re-matching after db import and db update on %s', (backend) => {
  let temp: TestStore | undefined;
  let store: Store;
  let work: string;
  const clock = new ManualClock('2026-12-01T10:00:00Z');
  // lodash image: Debian 12 app packages + a vulnerable lodash. minimist image: an old minimist alone.
  // debian image: the Debian packages only.
  const images = { lodash: digest('1'), minimist: digest('2'), debian: digest('3') };

  const findingIds = async (d: string) => (await store.db.selectFrom('findings').select('id').where('digest', '=', d).orderBy('id').execute()).map((r) => String(r.id));
  const alertCount = async () => Number((await store.db.selectFrom('alerts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const importFiles = async (name: string, files: Array<[string, string]>) => {
    const dir = path.join(work, name);
    await mkdir(dir, { recursive: true });
    for (const [file, text] of files) await writeFile(path.join(dir, file), text);
    return importOsv(store, [dir], { clock });
  };

  beforeAll(async () => {
    temp = await createTestStoreIfAvailable({ backend, name: 'rematch' });
    if (!temp || !fixturesAvailable()) return;
    store = temp.store;
    work = await mkdtemp(path.join(os.tmpdir(), 'palisade-rematch-'));
    const debian = dpkgInventory(readImageFile('app', 'var/lib/dpkg/status'));
    const inventories: Record<keyof typeof images, ImageInventory> = {
      lodash: { os: debian.os!, packages: [...debian.packages, npm('lodash', '4.17.4')] },
      minimist: { packages: [npm('minimist', '1.2.0')] },
      debian,
    };
    for (const [name, d] of Object.entries(images) as Array<[keyof typeof images, string]>) {
      await recordImagePush(store.db, { registry: 'local', repository: `demo/${name}`, digest: d, tag: '1', imported: false, at: clock.now() });
      await recordImageScan(store.db, { digest: d, startedAt: clock.now(), finishedAt: clock.now(), inventory: inventories[name] });
      await markImageScanned(store.db, d, clock.now());
    }
  });

  afterAll(async () => {
    await temp?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  beforeEach((ctx) => {
    if (!temp || !fixturesAvailable()) ctx.skip();
  });

  it('matches everything after the first import (no previous version to compare with), then only the images holding a changed package', async () => {
    // First database version: nothing to compare with, so every stored inventory is re-matched, and the result says why.
    const first = await importOsv(store, [fixture('osv', 'debian')], { clock });
    const initial = await rematchStoredInventories({ store, clock }, { version: first.version! });
    expect(initial).toMatchObject({ images: 3, full: true, versions: [first.version] });
    expect(initial.reason).toMatch(/no advisory database version was published before/);
    const debianFindings = await findingIds(images.debian);
    expect(debianFindings.length).toBeGreaterThan(0);
    expect(await findingIds(images.minimist)).toEqual([]);
    const lodashBefore = await findingIds(images.lodash);
    const alertsBefore = await alertCount();

    // db import of lodash advisories (GHSA-jf85-cpcp-j695 is critical): only the lodash image is re-matched.
    clock.advance(86_400_000); // a day later: alerts of one image are one per day (24-hour window)
    const imported = await importFiles('lodash', ['GHSA-jf85-cpcp-j695', 'GHSA-35jh-r3h4-6jhm', 'GHSA-4xc9-xhrj-v574'].map((id) => [`${id}.json`, npmAdvisory(id)]));
    expect(imported.added).toHaveLength(3);
    const outcome = await rematchStoredInventories({ store, clock }, { version: imported.version! });
    expect(outcome).toMatchObject({ images: 1, full: false, newAlerts: 1, versions: [imported.version] });
    // The three advisories name lodash and its siblings (lodash-es, lodash.template, ...).
    expect(outcome.changedPackages).toBeGreaterThanOrEqual(1);
    expect(await findingIds(images.debian)).toEqual(debianFindings);
    const lodashAfter = await store.db.selectFrom('findings').select(['id', 'vulnerability', 'package_name', 'severity']).where('digest', '=', images.lodash).execute();
    expect(lodashAfter.map((f) => String(f.id))).not.toEqual(lodashBefore);
    expect(lodashAfter.filter((f) => f.package_name === 'lodash').map((f) => f.vulnerability).sort()).toEqual(['GHSA-35jh-r3h4-6jhm', 'GHSA-4xc9-xhrj-v574', 'GHSA-jf85-cpcp-j695']);
    expect(await alertCount()).toBe(alertsBefore + 1);
    const alert = await store.db.selectFrom('alerts').selectAll().orderBy('first_seen', 'desc').executeTakeFirstOrThrow();
    expect(alert).toMatchObject({ rule: 'registry-image-new-vulnerabilities', resource_id: `local/demo/lodash@${images.lodash}` });
    expect((alert.evidence as Array<{ id: string }>).map((e) => e.id)).toContain('GHSA-jf85-cpcp-j695');

    // The same job again (a retry, or a second worker): the same image, nothing new to alert on.
    expect(await rematchStoredInventories({ store, clock }, { version: imported.version! })).toMatchObject({ images: 1, newAlerts: 0 });

    // An edited lodash advisory: the lodash image is re-matched, and its critical finding, already known, raises nothing.
    clock.advance(86_400_000); // a day later: alerts of one image are one per day (24-hour window)
    const edited = JSON.parse(npmAdvisory('GHSA-jf85-cpcp-j695')) as { summary: string; modified: string };
    const reedited = await importFiles('lodash-edit', [['GHSA-jf85-cpcp-j695.json', JSON.stringify({ ...edited, summary: `${edited.summary} (reviewed)`, modified: '2030-01-01T00:00:00Z' })]]);
    expect(reedited.changed).toEqual(['GHSA-jf85-cpcp-j695']);
    expect(await rematchStoredInventories({ store, clock }, { version: reedited.version! })).toMatchObject({ images: 1, newAlerts: 0, full: false });
    expect(await alertCount()).toBe(alertsBefore + 1);
    expect(await findingIds(images.debian)).toEqual(debianFindings);
  });

  describe('after a scheduled db update from a local feed', () => {
    let server: Server;
    let base: string;
    let archive: Buffer;

    beforeAll(async () => {
      // osv.dev's npm/all.zip, served locally: the lodash records as imported above, and minimist's critical GHSA-xvch-5gv4-984h.
      archive = await zipToBuffer(['GHSA-35jh-r3h4-6jhm', 'GHSA-4xc9-xhrj-v574', 'GHSA-xvch-5gv4-984h'].map((id) => [`${id}.json`, npmAdvisory(id)]));
      server = createServer((req, res) => {
        if (req.url === '/npm/all.zip') res.writeHead(200, { 'content-type': 'application/zip', 'content-length': archive.length }).end(archive);
        else res.writeHead(404).end('no such object');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await new Promise((resolve) => server?.close(resolve));
    });

    it('re-matches only the image holding the changed package, updates its registry recommendation and alerts once', async () => {
      const localFetch: typeof fetch = (input, init) => fetch(String(input).replace('https://osv-vuln-data.storage.googleapis.com', base), init);
      const changes: AdvisoryChange[] = [];
      const [job] = vulndbJobs({ store, clock, ecosystems: ['npm'], fetch: localFetch, onChanged: async (c) => void changes.push(c) });
      clock.advance(86_400_000); // a day later: alerts of one image are one per day (24-hour window)
      const lodashFindings = await findingIds(images.lodash);
      const debianFindings = await findingIds(images.debian);
      const alertsBefore = await alertCount();
      expect(await job!.handler({}, { id: 'update-1', retryCount: 0 })).toMatchObject({ added: 1, changed: 0 });
      expect(changes).toHaveLength(1);
      expect(changes[0]!.added).toEqual(['GHSA-xvch-5gv4-984h']);
      // One version to re-match: this update's (the earlier ones are settled).
      expect(changes[0]!.versions).toHaveLength(1);

      // Two workers given the same version at once (a job retried while the first still runs): one alert between them.
      const version = changes[0]!.versions[0]!;
      const [outcome, twin] = await Promise.all([rematchStoredInventories({ store, clock }, { version }), rematchStoredInventories({ store, clock }, { version })]);
      expect(outcome).toMatchObject({ images: 1, full: false, changedPackages: 1 });
      expect(twin).toMatchObject({ images: 1, full: false, changedPackages: 1 });
      expect(outcome.newAlerts + twin.newAlerts).toBe(1);
      expect(await findingIds(images.lodash)).toEqual(lodashFindings);
      expect(await findingIds(images.debian)).toEqual(debianFindings);
      const minimist = await store.db.selectFrom('findings').select(['vulnerability', 'severity']).where('digest', '=', images.minimist).execute();
      expect(minimist).toEqual([{ vulnerability: 'GHSA-xvch-5gv4-984h', severity: 'critical' }]);
      expect(await alertCount()).toBe(alertsBefore + 1);
      // The registry's recommendation now counts the minimist image unhealthy.
      const recommendation = await store.db.selectFrom('recommendations').select(['unhealthy', 'evaluated_at']).where('scope', '=', 'registry:local').executeTakeFirstOrThrow();
      expect((recommendation.unhealthy as unknown as Array<{ id: string }>).map((r) => r.id).join(' ')).toContain('demo/minimist');
      expect(new Date(recommendation.evaluated_at as Date).toISOString()).toBe(clock.now().toISOString());

      // Nothing new upstream: the next update publishes no package change and asks for no re-match.
      await job!.handler({}, { id: 'update-2', retryCount: 0 });
      expect(changes).toHaveLength(1);
    });
  });
});

