import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { createTestStoreIfAvailable, createTestStoreLocation, type TestStore } from '../../test/support/store.js';
import { openStore } from '../store/index.js';
import { AdvisoryFile, AdvisoryFileBuilder, type AdvisoryFileStatus } from './file.js';
import { AdvisoryIndex, matchPackages, packageKey } from './match.js';
import { validateOsvRecord, type OsvRecord } from './osv.js';
import { currentAdvisoryFile, dataDirAdvisoryFile, fileStatus, openDataDirAdvisoryFile } from './publish.js';
import { dbStatus, importOsv, matchInventory } from './index.js';
import { dpkgInventory, osvRecords, readImageFile } from './testing/fixtures.js';
import { baseEcosystem } from './versions/index.js';

const STATUS: AdvisoryFileStatus = { advisories: 0, ecosystems: [] };

function records(): OsvRecord[] {
  return [...osvRecords('debian'), ...osvRecords('npm'), ...osvRecords('go')]
    .map(({ file, record }) => validateOsvRecord(record, file).record)
    .filter((r): r is OsvRecord => r !== undefined);
}

/** Builds a file straight from records, as publish.ts does from the store's tables. */
async function build(file: string, list: OsvRecord[], status = STATUS): Promise<AdvisoryFile> {
  const builder = new AdvisoryFileBuilder();
  for (const r of list) for (const a of r.affected) builder.addPosting(baseEcosystem(a.package.ecosystem), packageKey(a.package.ecosystem, a.package.name), r.id);
  const byId = new Map(list.map((r) => [r.id, r]));
  await builder.write(file, builder.recordOrder().map((id) => ({ id, json: JSON.stringify(byId.get(id)) })), { generation: '1', builtAt: new Date(0), status });
  return AdvisoryFile.open(file);
}

describe.skipIf(!fixturesAvailable())('advisory database file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'palisade-advisory-file-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('matches the Debian 12 app image exactly as the in-memory index of the same records', async () => {
    const list = records();
    const file = await build(path.join(dir, 'a.pvdb'), list);
    try {
      const inventory = dpkgInventory(readImageFile('app', 'var/lib/dpkg/status'));
      const expected = matchPackages(inventory, new AdvisoryIndex(list).lookup);
      expect(expected.length).toBeGreaterThan(40);
      expect(matchPackages(inventory, file.lookup)).toEqual(expected);
      // Every record is listed under every key it names, and nothing else.
      expect(file.header.records).toBe(list.length);
      expect(file.find('npm', 'no-such-package')).toEqual([]);
      expect(file.find('Debian', 'glibc').map((r) => r.id).sort()).toEqual(list.filter((r) => r.affected.some((a) => a.package.name === 'glibc' && a.package.ecosystem.startsWith('Debian'))).map((r) => r.id).sort());
    } finally {
      file.close();
    }
  });

  it('names a version by content: the same records and status give the same version, other status another', async () => {
    const list = records().slice(0, 50);
    const a = await build(path.join(dir, 'v1.pvdb'), list);
    const b = await build(path.join(dir, 'v2.pvdb'), list);
    const c = await build(path.join(dir, 'v3.pvdb'), list, { advisories: 50, ecosystems: [] });
    try {
      expect(a.version).toMatch(/^[0-9a-f]{24}$/);
      expect(b.version).toBe(a.version);
      expect(c.version).not.toBe(a.version);
    } finally {
      for (const f of [a, b, c]) f.close();
    }
  });

  it('refuses a truncated or foreign file with an error naming it, and leaves no temporary file behind', async () => {
    const file = path.join(dir, 'broken.pvdb');
    (await build(file, records().slice(0, 20))).close();
    const size = (await readFile(file)).length;
    await truncate(file, size - 5);
    expect(() => AdvisoryFile.open(file)).toThrow(expect.objectContaining({ code: 'vulndb.file.corrupt', message: expect.stringContaining(file) }));
    await writeFile(file, 'PK\u0003\u0004 not an advisory database at all');
    expect(() => AdvisoryFile.open(file)).toThrow(expect.objectContaining({ code: 'vulndb.file.corrupt' }));
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses records given out of the order the index needs', async () => {
    const list = records().slice(0, 5);
    const builder = new AdvisoryFileBuilder();
    for (const r of list) builder.addPosting('Debian', r.id, r.id);
    const reversed = [...builder.recordOrder()].reverse().map((id) => ({ id, json: '{}' }));
    await expect(builder.write(path.join(dir, 'order.pvdb'), reversed, { generation: '1', builtAt: new Date(0), status: STATUS })).rejects.toThrow(/out of order/);
    expect(existsSync(path.join(dir, 'order.pvdb'))).toBe(false);
  });
});

describe.skipIf(!fixturesAvailable())('publishing the advisory file', () => {
  let pg: TestStore | undefined;
  let cacheDir: string;
  const previousCache = process.env.PALISADE_CACHE_DIR;
  beforeAll(async () => {
    cacheDir = await mkdtemp(path.join(tmpdir(), 'palisade-advisory-cache-'));
    process.env.PALISADE_CACHE_DIR = cacheDir;
  });
  afterAll(async () => {
    if (previousCache === undefined) delete process.env.PALISADE_CACHE_DIR;
    else process.env.PALISADE_CACHE_DIR = previousCache;
    await pg?.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('an embedded import leaves a file beside the database that matches without opening it', async () => {
    const place = await createTestStoreLocation({ backend: 'pglite', name: 'advisory-file' });
    const dataDir = (place.location as { dataDir: string }).dataDir;
    const inventory = dpkgInventory(readImageFile('app', 'var/lib/dpkg/status'));
    const store = await openStore(place.location);
    let expected;
    let status;
    try {
      await importOsv(store, [fixture('osv', 'debian')]);
      expected = await matchInventory(store, inventory);
      status = await dbStatus(store);
    } finally {
      await store.close();
    }
    // The database is closed: the scan side reads the file alone.
    expect(existsSync(dataDirAdvisoryFile(dataDir))).toBe(true);
    const file = openDataDirAdvisoryFile(dataDir)!;
    try {
      expect(matchPackages(inventory, file.lookup)).toEqual(expected);
      expect(expected.length).toBeGreaterThan(40);
      // `db status` read from the file is what the database said.
      expect(fileStatus(file)).toEqual(status);
    } finally {
      file.close();
      await place.cleanup();
    }
  }, 180_000);

  it('a PostgreSQL worker fetches the current version once into its cache directory, and the next version after an import', async (ctx) => {
    pg = await createTestStoreIfAvailable({ backend: 'postgres', name: 'advisory-file' });
    if (!pg) ctx.skip();
    const store = pg!.store;
    await importOsv(store, [fixture('osv', 'npm')]);
    const first = await currentAdvisoryFile(store, 0);
    const cached = readdirSync(path.join(cacheDir, 'advisories')).filter((n) => n.endsWith('.pvdb'));
    expect(cached).toEqual([`${first.version}.pvdb`]);
    // A lost local copy is fetched again from the blob, byte for byte the same version.
    await rm(path.join(cacheDir, 'advisories', cached[0]!));
    const refetched = await currentAdvisoryFile(store, 0);
    expect(refetched.version).toBe(first.version);
    await importOsv(store, [fixture('osv', 'go')]);
    const second = await currentAdvisoryFile(store, 0);
    expect(second.version).not.toBe(first.version);
    expect(second.header.records).toBeGreaterThan(first.header.records);
    // A scan that took the first version before the swap keeps matching with it: its file stays
    // open (even once pruned from the cache directory) until nothing holds it.
    const openPaths = readdirSync('/proc/self/fd').map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    });
    expect(openPaths.some((p) => p.startsWith(first.path))).toBe(true);
    expect(first.lookup('npm', 'lodash').map((r) => r.id)).toContain('GHSA-29mw-wpgm-hmr9');
    const blobs = await store.db.selectFrom('vuln_db_files').select('version').execute();
    // The new version and the one it replaced (a worker may still be fetching it); no older ones.
    expect(blobs.map((b) => b.version).sort()).toEqual([first.version, second.version].sort());
  }, 180_000);
});
