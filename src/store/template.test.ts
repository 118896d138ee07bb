import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMigrated, migrateToLatest, openStore } from './index.js';
import { EMBEDDED_SHARED_BUFFERS } from './open.js';
import { seedFromTemplate, writeTemplate } from './template.js';

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
      // The template carries the embedded database's smaller shared buffers: in force from the first start.
      const buffers = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(store.db);
      expect(buffers.rows[0]?.shared_buffers).toBe(EMBEDDED_SHARED_BUFFERS);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('gives a directory made before the setting the smaller shared buffers from its next start', async () => {
    const dataDir = path.join(temp, 'older');
    await (await openStore({ dataDir })).close();
    const auto = path.join(dataDir, 'pgdata', 'postgresql.auto.conf');
    await writeFile(auto, (await readFile(auto, 'utf8')).replace(/^shared_buffers = .*$/m, ''));
    const show = async () => {
      const store = await openStore({ dataDir }, { migrate: false });
      try {
        return (await sql<{ shared_buffers: string }>`show shared_buffers`.execute(store.db)).rows[0]?.shared_buffers;
      } finally {
        await store.close();
      }
    };
    expect(await show()).toBe('128MB'); // PostgreSQL's default, as such a directory had it
    expect(await readFile(auto, 'utf8')).toMatch(new RegExp(`^shared_buffers = '${EMBEDDED_SHARED_BUFFERS}'$`, 'm'));
    expect(await show()).toBe(EMBEDDED_SHARED_BUFFERS);
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
