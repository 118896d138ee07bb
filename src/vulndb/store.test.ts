import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestStoreIfAvailable, STORE_BACKENDS, type TestStore } from '../../test/support/store.js';
import { ManualClock, sequentialIds, type InstalledPackage } from '../core/index.js';
import { type Store } from '../store/index.js';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { AdvisoryIndex, currentAdvisoryFile, dbStatus, importOsv, matchInventory, matchPackages, markRematched, packagesForAdvisories, updateFromOsvDev, validateOsvRecord, vulndbJobs, type AdvisoryChange } from './index.js';
import { dpkgInventory, osvRecords, readImageFile } from './testing/fixtures.js';
import { zipToBuffer, zipToFile } from './testing/zip.js';

const npm = (name: string, version: string): InstalledPackage => ({ name, version, ecosystem: 'npm', purl: `pkg:npm/${name}@${version}` });

function npmRecord(id: string, name: string, fixed: string, modified = '2024-01-01T00:00:00Z'): Record<string, unknown> {
  return { id, modified, aliases: [`CVE-${id}`], affected: [{ package: { ecosystem: 'npm', name }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed }] }] }] };
}

/** One suite, both backends: the embedded default and a real PostgreSQL. */
let dir: string;

describe.each(STORE_BACKENDS)('vulndb store on %s', (backend) => {
  let store: Store;
  let temp: TestStore | undefined;

  beforeAll(async () => {
    temp = await createTestStoreIfAvailable({ backend, name: 'vulndb' });
    if (temp) ({ store, dir } = temp);
  });

  afterAll(async () => temp?.close());

  beforeEach((ctx) => {
    if (!store) ctx.skip();
  });

  describe.skipIf(!fixturesAvailable())('advisory store', () => {
    it('imports a directory, matches the Debian 12 app image exactly as the pure matcher, and reports status', async () => {
      const clock = new ManualClock('2026-11-25T01:00:00Z');
      const report = await importOsv(store, [fixture('osv', 'debian')], { clock, ids: sequentialIds(), ecosystems: ['Debian'] });
      expect(report.added).toHaveLength(396);
      expect(report.changed).toEqual([]);
      // The folder also holds EXPECTED-debian12-app.json, an array that is not OSV: each element is named and skipped.
      expect(report.warningCounts).toEqual({ 'invalid-record': 49 });
      expect(new Set(report.warnings.map((w) => path.basename(w.file)))).toEqual(new Set(['EXPECTED-debian12-app.json']));
      const inventory = dpkgInventory(readImageFile('app', 'var/lib/dpkg/status'));
      const expected = JSON.parse(readFileSync(fixture('osv', 'debian', 'EXPECTED-debian12-app.json'), 'utf8')) as unknown[];
      const fromStore = await matchInventory(store, inventory);
      expect(fromStore).toHaveLength(expected.length);
      const records = osvRecords('debian').map(({ file, record }) => validateOsvRecord(record, file).record!);
      expect(fromStore).toEqual(matchPackages(inventory, new AdvisoryIndex(records).lookup));

      const status = await dbStatus(store);
      const debian = status.ecosystems.find((e) => e.ecosystem === 'Debian')!;
      expect(debian.advisories).toBe(396);
      const newest = records.map((r) => r.modified).sort().at(-1)!;
      expect(debian.newestModified?.toISOString()).toBe(newest);
      expect(debian.lastUpdate?.toISOString()).toBe('2026-11-25T01:00:00.000Z');
      expect(status.lastImport).toMatchObject({ status: 'done', added: 396 });
    });

    it('re-importing unchanged records writes nothing and reports no added or changed ids', async () => {
      const report = await importOsv(store, [fixture('osv', 'debian')]);
      expect(report).toMatchObject({ added: [], changed: [], unchanged: 396 });
    });

    it('imports zip archives incrementally, counting every bad entry with file and record id', async () => {
      const zip = path.join(dir, 'npm.zip');
      await zipToFile(zip, [
        ['a/GHSA-1.json', JSON.stringify(npmRecord('GHSA-1', 'left-pad', '1.3.0'))],
        ['a/GHSA-2.json', JSON.stringify(npmRecord('GHSA-2', 'left-pad', '2.0.0'))],
        ['a/broken.json', '{"id": "GHSA-3", '],
        ['a/GHSA-4.json', JSON.stringify({ ...npmRecord('GHSA-4', 'x', '1.0.0'), affected: [{ package: { ecosystem: 'Bogus', name: 'x' }, ranges: [] }] })],
        ['a/GHSA-5.json', JSON.stringify({ ...npmRecord('GHSA-5', 'y', '1.0.0'), affected: [{ package: { ecosystem: 'npm', name: 'y' }, ranges: [{ type: 'SEMVER', events: [{ fixed: '1.0.0' }] }] }] })],
        ['a/README.md', 'not a record'],
      ]);
      const first = await importOsv(store, [zip]);
      expect(first.added.sort()).toEqual(['GHSA-1', 'GHSA-2']);
      expect(first.warningCounts).toEqual({ 'invalid-json': 1, 'unknown-ecosystem': 1, 'malformed-range': 1, 'invalid-record': 2 });
      expect(first.skipped).toBe(3);
      expect(first.warnings.find((w) => w.code === 'invalid-json')?.file).toBe(`${zip}!a/broken.json`);
      expect(first.warnings.find((w) => w.code === 'malformed-range')).toMatchObject({ file: `${zip}!a/GHSA-5.json`, id: 'GHSA-5' });
      expect((await matchInventory(store, { packages: [npm('left-pad', '1.0.0')] })).map((f) => f.id)).toEqual(['GHSA-1', 'GHSA-2']);

      // A newer GHSA-1 fixes 1.0.0 sooner; an older GHSA-2 must not roll data back.
      const update = path.join(dir, 'npm-2.zip');
      await zipToFile(update, [
        ['GHSA-1.json', JSON.stringify(npmRecord('GHSA-1', 'left-pad', '1.0.0', '2025-01-01T00:00:00Z'))],
        ['GHSA-2.json', JSON.stringify(npmRecord('GHSA-2', 'left-pad', '0.1.0', '2023-01-01T00:00:00Z'))],
      ]);
      const second = await importOsv(store, [update]);
      expect(second).toMatchObject({ added: [], changed: ['GHSA-1'], unchanged: 1 });
      expect(await packagesForAdvisories(store, second.changed)).toEqual([{ ecosystem: 'npm', name: 'left-pad' }]);
      // The cache notices the change without being told.
      expect((await matchInventory(store, { packages: [npm('left-pad', '1.0.0')] })).map((f) => f.id)).toEqual(['GHSA-2']);
    });

    it('a withdrawn record stops matching and leaves the status counts', async () => {
      expect((await matchInventory(store, { packages: [npm('left-pad', '0.0.1')] })).map((f) => f.id)).toEqual(['GHSA-1', 'GHSA-2']);
      const before = (await dbStatus(store)).ecosystems.find((e) => e.ecosystem === 'npm')!.advisories;
      const file = path.join(dir, 'GHSA-2-withdrawn.json');
      await writeFile(file, JSON.stringify({ ...npmRecord('GHSA-2', 'left-pad', '2.0.0', '2026-06-01T00:00:00Z'), withdrawn: '2026-06-01T00:00:00Z' }));
      const report = await importOsv(store, [file]);
      expect(report.changed).toEqual(['GHSA-2']);
      expect((await matchInventory(store, { packages: [npm('left-pad', '0.0.1')] })).map((f) => f.id)).toEqual(['GHSA-1']);
      expect((await dbStatus(store)).ecosystems.find((e) => e.ecosystem === 'npm')!.advisories).toBe(before - 1);
    });

    it('a corrupt zip is a counted warning, not a crash, and changes nothing', async () => {
      const good = await zipToBuffer([['GHSA-9.json', JSON.stringify(npmRecord('GHSA-9', 'corrupt-pkg', '1.0.0'))]]);
      const truncated = path.join(dir, 'truncated.zip');
      await writeFile(truncated, good.subarray(0, Math.floor(good.length / 2)));
      const garbage = path.join(dir, 'garbage.zip');
      await writeFile(garbage, Buffer.from('PK\u0003\u0004 this is not really a zip'));
      const report = await importOsv(store, [truncated, garbage]);
      expect(report.warningCounts).toEqual({ 'corrupt-archive': 2 });
      expect(report.warnings.map((w) => w.file).sort()).toEqual([garbage, truncated].sort());
      expect(report.added).toEqual([]);
      expect(await matchInventory(store, { packages: [npm('corrupt-pkg', '0.1.0')] })).toEqual([]);
    });

    it('an archive damaged in the middle keeps the records before the damage and names where it broke', async () => {
      const entries: Array<[string, string]> = ['GHSA-m1', 'GHSA-m2', 'GHSA-m3'].map((id) => [`${id}.json`, JSON.stringify(npmRecord(id, `mid-${id}`, '1.0.0'))]);
      const buffer = await zipToBuffer(entries, false);
      const at = buffer.indexOf('mid-GHSA-m2');
      buffer[at] = 'X'.charCodeAt(0); // the stored bytes no longer match the entry's CRC
      const damaged = path.join(dir, 'damaged.zip');
      await writeFile(damaged, buffer);
      const report = await importOsv(store, [damaged]);
      expect(report.added).toEqual(['GHSA-m1']);
      expect(report.warnings).toEqual([expect.objectContaining({ code: 'corrupt-archive', file: damaged, message: expect.stringMatching(/after 2 entries.*CRC/) })]);
    });

    it('an interrupted import keeps whole batches only, and the next run resumes where it stopped', async () => {
      const source = fixture('osv', 'npm');
      let calls = 0;
      await expect(importOsv(store, [source], {
        batchSize: 10,
        onProgress: () => {
          if (++calls === 25) throw new Error('killed');
        },
      })).rejects.toThrow('killed');
      const stored = await store.db.selectFrom('vuln_advisories').select('id').where('id', 'like', 'GHSA-%-%-%').where('id', 'not in', ['GHSA-1', 'GHSA-2']).execute();
      expect(stored.length).toBe(20); // two whole batches of ten, nothing of the third
      const orphans = await store.db.selectFrom('vuln_advisories as v').leftJoin('vuln_affected as a', 'a.advisory_id', 'v.id').select('v.id').where('a.advisory_id', 'is', null).execute();
      expect(orphans).toEqual([]);
      // A run that was killed outright stays "running"; the next run over the same source supersedes it.
      await store.db.insertInto('vuln_import_runs').values({ id: 'imp_killed', source, status: 'running', started_at: 1 }).execute();
      const resumed = await importOsv(store, [source]);
      expect(resumed.added).toHaveLength(9);
      expect(resumed.unchanged).toBe(20);
      expect(resumed.resumedRuns).toEqual(['imp_killed']);
    });
  });

  describe('updateFromOsvDev over a local HTTP server', () => {
    let server: Server;
    let base: string;
    let archive: Buffer;
    const requested: string[] = [];

    beforeAll(async () => {
      archive = await zipToBuffer([
        ['GHSA-u1.json', JSON.stringify(npmRecord('GHSA-u1', 'update-pkg', '2.0.0'))],
        ['GHSA-u2.json', JSON.stringify(npmRecord('GHSA-u2', 'update-pkg', '3.0.0'))],
      ]);
      server = createServer((req, res) => {
        if (req.url === '/npm/all.zip') {
          res.writeHead(200, { 'content-type': 'application/zip', 'content-length': archive.length });
          res.end(archive);
        } else {
          res.writeHead(404).end('no such object');
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await new Promise((resolve) => server?.close(resolve));
    });

    it('downloads each ecosystem archive from osv.dev URLs, imports it, and records the update', async () => {
      const localFetch: typeof fetch = (input, init) => {
        const url = String(input);
        requested.push(url);
        return fetch(url.replace('https://osv-vuln-data.storage.googleapis.com', base), init);
      };
      const progress: string[] = [];
      const clock = new ManualClock('2026-11-25T02:00:00Z');
      const report = await updateFromOsvDev(store, ['npm', 'Rocky Linux'], { fetch: localFetch, clock, onProgress: (p) => progress.push(p.phase) });
      expect(requested).toEqual([
        'https://osv-vuln-data.storage.googleapis.com/npm/all.zip',
        'https://osv-vuln-data.storage.googleapis.com/Rocky%20Linux/all.zip',
      ]);
      expect(report.added.sort()).toEqual(['GHSA-u1', 'GHSA-u2']);
      expect(report.ecosystems.map((e) => [e.ecosystem, e.ok])).toEqual([['npm', true], ['Rocky Linux', false]]);
      expect(report.ecosystems[1]!.error).toMatch(/HTTP 404/);
      expect(progress).toContain('download');
      expect(progress).toContain('import');
      const status = await dbStatus(store);
      expect(status.ecosystems.find((e) => e.ecosystem === 'npm')?.lastUpdate?.toISOString()).toBe('2026-11-25T02:00:00.000Z');
      expect(status.ecosystems.find((e) => e.ecosystem === 'Rocky Linux')).toBeUndefined();
      expect((await matchInventory(store, { packages: [npm('update-pkg', '1.0.0')] })).map((f) => f.id)).toEqual(['GHSA-u1', 'GHSA-u2']);
      const again = await updateFromOsvDev(store, ['npm'], { fetch: localFetch });
      expect(again).toMatchObject({ added: [], changed: [] });
    });

    it('the scheduled job reports what changed, with the packages to re-match, and stays quiet otherwise', async () => {
      const changes: AdvisoryChange[] = [];
      archive = await zipToBuffer([['GHSA-u3.json', JSON.stringify(npmRecord('GHSA-u3', 'job-pkg', '1.0.0'))]]);
      const localFetch: typeof fetch = (input, init) => fetch(String(input).replace('https://osv-vuln-data.storage.googleapis.com', base), init);
      // As the re-match job does: the versions it is told about are settled, so they are not reported again.
      const [job] = vulndbJobs({ store, ecosystems: ['npm'], fetch: localFetch, onChanged: async (c) => {
        changes.push(c);
        await markRematched(store, c.versions, Date.now());
      } });
      expect(job!.queue).toBe('vulndb-update');
      expect(await job!.handler({}, { id: 'j1', retryCount: 0 })).toEqual({ added: 1, changed: 0, failed: [] });
      expect(changes).toEqual([{ added: ['GHSA-u3'], changed: [], packages: [{ ecosystem: 'npm', name: 'job-pkg' }], versions: expect.any(Array) }]);
      // This update's version last, after the versions earlier imports in this suite published and nothing re-matched.
      expect(changes[0]!.versions.at(-1)).toBe((await currentAdvisoryFile(store, 0)).version);
      await job!.handler({}, { id: 'j2', retryCount: 0 });
      expect(changes).toHaveLength(1);
    });
  });
});
