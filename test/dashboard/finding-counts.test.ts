import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Migrator, sql, type Kysely, type Migration } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { replaceImageFindings } from '../../src/center/findings.js';
import type { Finding, FindingSeverity } from '../../src/core/index.js';
import { type Database } from '../../src/store/index.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { createTestStore, type TestStore } from '../support/store.js';

const MIGRATIONS = path.resolve(import.meta.dirname, '../../src/store/migrations');

function finding(id: string, severity: FindingSeverity, pkg = 'openssl'): Finding {
  return {
    id, aliases: [], title: id, severity, severitySource: 'none', advisoryIds: [id], status: 'unfixed', remediation: 'upgrade', installedVersion: '3.0.11',
    package: { name: pkg, version: '3.0.11', ecosystem: 'deb', purl: `pkg:deb/debian/${pkg}@3.0.11` },
  };
}

/** What the counts must equal: the findings aggregated now. */
async function aggregated(db: Kysely<Database>) {
  const { rows } = await sql<{ digest: string; critical: number; high: number; medium: number; low: number; unknown: number }>`
    select digest, count(*) filter (where severity = 'critical')::int as critical, count(*) filter (where severity = 'high')::int as high,
      count(*) filter (where severity = 'medium')::int as medium, count(*) filter (where severity = 'low')::int as low,
      count(*) filter (where severity not in ('critical', 'high', 'medium', 'low'))::int as unknown
    from findings group by digest order by digest`.execute(db);
  return rows;
}

async function kept(db: Kysely<Database>) {
  return db.selectFrom('image_finding_counts').selectAll()
    .where((eb) => eb.or(['critical', 'high', 'medium', 'low', 'unknown'].map((c) => eb(c as 'critical', '>', 0))))
    .orderBy('digest').execute();
}

describe('per-image finding counts (kept by the database as findings are written)', () => {
  let temp: TestStore | undefined;
  afterEach(async () => {
    await temp?.close();
    temp = undefined;
  });

  it('follow scans, re-matches, direct writes and deletes exactly', async () => {
    temp = await createTestStore({ name: 'counts' });
    const { db } = temp.store;
    await db.transaction().execute((tx) => replaceImageFindings(tx, 'sha256:aa', [finding('CVE-1', 'critical'), finding('CVE-2', 'high'), finding('CVE-3', 'informational'), finding('CVE-2', 'high')]));
    await db.transaction().execute((tx) => replaceImageFindings(tx, 'sha256:bb', [finding('CVE-4', 'low', 'zlib')]));
    expect(await kept(db)).toEqual(await aggregated(db));
    expect((await kept(db))[0]).toEqual({ digest: 'sha256:aa', critical: 1, high: 1, medium: 0, low: 0, unknown: 1 });
    // A re-match replaces the image's findings.
    await db.transaction().execute((tx) => replaceImageFindings(tx, 'sha256:aa', [finding('CVE-1', 'medium'), finding('CVE-5', 'critical', 'curl')]));
    await db.insertInto('findings').values({ digest: 'sha256:cc', vulnerability: 'CVE-6', aliases: '[]', package_name: 'bash', package_version: '5', ecosystem: 'deb', purl: 'pkg:deb/debian/bash@5', severity: 'high', status: 'fixed', detail: '{}' }).execute();
    await db.updateTable('findings').set({ severity: 'critical' }).where('vulnerability', '=', 'CVE-4').execute();
    expect(await kept(db)).toEqual(await aggregated(db));
    await db.deleteFrom('findings').where('digest', '=', 'sha256:bb').execute();
    await db.transaction().execute((tx) => replaceImageFindings(tx, 'sha256:cc', []));
    expect(await kept(db)).toEqual(await aggregated(db));
    expect((await kept(db)).map((r) => r.digest)).toEqual(['sha256:aa']);
  });

  it('are counted from the stored findings when an existing database is upgraded', async () => {
    temp = await createTestStore({ name: 'counts', migrate: false });
    const { store } = temp;
    const files = (await readdir(MIGRATIONS)).filter((f) => /^\d{4}_[\w-]+\.ts$/.test(f) && !f.includes('.test.'));
    const migrations: Record<string, Migration> = {};
    for (const file of files) migrations[file.replace(/\.ts$/, '')] = (await import(pathToFileURL(path.join(MIGRATIONS, file)).href)) as Migration;
    const migrator = new Migrator({ db: store.db, provider: { getMigrations: async () => migrations }, migrationTableName: 'palisade_migrations', migrationLockTableName: 'palisade_migrations_lock' });
    // The database as the release before the counts left it, with findings in it.
    expect((await migrator.migrateTo('0700_center')).error).toBeUndefined();
    // Written as that release's schema holds them (today's writer also reads tables added later, e.g. VEX's).
    const rows = (digest: string, list: Finding[]) => list.map((f) => ({
      digest, vulnerability: f.id, aliases: JSON.stringify(f.aliases), package_name: f.package.name, package_version: f.installedVersion, ecosystem: f.package.ecosystem,
      purl: f.package.purl, layer: null, severity: f.severity, fixed_version: null, status: f.status, detail: JSON.stringify(f),
    }));
    await store.db.insertInto('findings').values([...rows('sha256:aa', [finding('CVE-1', 'critical'), finding('CVE-2', 'high'), finding('CVE-3', 'high', 'curl')]), ...rows('sha256:bb', [finding('CVE-4', 'low')])]).execute();
    const applied = await migrateToLatest(store.db, store.where);
    expect(applied).toContain('0701_image_finding_counts');
    expect(await kept(store.db)).toEqual([
      { digest: 'sha256:aa', critical: 1, high: 2, medium: 0, low: 0, unknown: 0 },
      { digest: 'sha256:bb', critical: 0, high: 0, medium: 0, low: 1, unknown: 0 },
    ]);
  });
});
