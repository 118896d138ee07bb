import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMigrated, migrateToLatest, openStore } from './index.js';
import { EMBEDDED_SETTINGS } from './open.js';
import { seedFromTemplate, writeTemplate } from './template.js';

/** What the embedded database runs with, by the setting names EMBEDDED_SETTINGS holds. */
async function shownSettings(store: Awaited<ReturnType<typeof openStore>>): Promise<Record<string, string>> {
  const shown: Record<string, string> = {};
  for (const name of Object.keys(EMBEDDED_SETTINGS)) {
    const result = await sql<Record<string, string>>`show ${sql.raw(name)}`.execute(store.db);
    shown[name] = result.rows[0]![name]!;
  }
  return shown;
}

/** A new embedded data directory starts from the build's migrated template, only when it matches. */
describe('embedded database template', () => {
  let temp: string;
  let templateDir: string;
  beforeAll(async () => {
    temp = await mkdtemp(path.join(os.tmpdir(), 'palisade-template-'));
    templateDir = path.join(temp, 'template');
    const source = path.join(temp, 'source');
    const store = await openStore({ dataDir: source });
    await store.close();
    await writeTemplate(path.join(source, 'pgdata'), templateDir);
  }, 180_000);
  afterAll(async () => rm(temp, { recursive: true, force: true }));

  it('fills a new data directory that then opens fully migrated, with nothing left to apply', async () => {
    const dataDir = path.join(temp, 'fresh');
    expect(await seedFromTemplate(path.join(dataDir, 'pgdata'), templateDir)).toBe(true);
    const store = await openStore({ dataDir }, { migrate: false });
    try {
      expect(await isMigrated(store.db)).toBe(true);
      expect(await migrateToLatest(store.db, dataDir)).toEqual([]);
      const version = await sql<{ version: number }>`select version from pgboss.version`.execute(store.db);
      expect(version.rows[0]?.version).toBeGreaterThan(0);
      // The template carries the embedded database's smaller shared memory: in force from the first start.
      expect(await shownSettings(store)).toEqual(EMBEDDED_SETTINGS);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('gives a directory made before the settings the smaller shared memory from its next start', async () => {
    const dataDir = path.join(temp, 'older');
    await (await openStore({ dataDir })).close();
    const auto = path.join(dataDir, 'pgdata', 'postgresql.auto.conf');
    // As an older directory had it: 32 MB of shared buffers (an earlier build's) and no connection limit.
    await writeFile(auto, (await readFile(auto, 'utf8')).replace(/^shared_buffers = .*$/m, "shared_buffers = '32MB'").replace(/^max_connections = .*$/m, ''));
    const show = async () => {
      const store = await openStore({ dataDir }, { migrate: false });
      try {
        return await shownSettings(store);
      } finally {
        await store.close();
      }
    };
    expect(await show()).toEqual({ shared_buffers: '32MB', max_connections: '100' }); // PostgreSQL's default connections
    const written = (await readFile(auto, 'utf8')).split('\n');
    for (const [name, value] of Object.entries(EMBEDDED_SETTINGS)) expect(written).toContain(`${name} = '${value}'`);
    expect(await show()).toEqual(EMBEDDED_SETTINGS);
  }, 120_000);

  it('leaves a directory that already holds data alone', async () => {
    const pgdata = path.join(temp, 'used', 'pgdata');
    await mkdir(pgdata, { recursive: true });
    await writeFile(path.join(pgdata, 'PG_VERSION'), '17\n');
    expect(await seedFromTemplate(pgdata, templateDir)).toBe(false);
    expect(await readFile(path.join(pgdata, 'PG_VERSION'), 'utf8')).toBe('17\n');
  });

  it('is not used when it was made from other migrations or another PGlite', async () => {
    const manifestFile = path.join(templateDir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { fingerprint: string };
    await writeFile(manifestFile, JSON.stringify({ ...manifest, fingerprint: 'made-from-other-migrations' }));
    try {
      const pgdata = path.join(temp, 'stale', 'pgdata');
      expect(await seedFromTemplate(pgdata, templateDir)).toBe(false);
      await expect(readFile(path.join(pgdata, 'PG_VERSION'))).rejects.toThrow(/ENOENT/);
    } finally {
      await writeFile(manifestFile, JSON.stringify(manifest));
    }
  });

  it('is not used when there is none (a build without it)', async () => {
    expect(await seedFromTemplate(path.join(temp, 'none', 'pgdata'), path.join(temp, 'missing-template'))).toBe(false);
  });
});
