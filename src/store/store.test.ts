import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPostgres, postgresAvailable } from '../../test/support/postgres.js';
import { createTestStoreIfAvailable, STORE_BACKENDS, type TestStore } from '../../test/support/store.js';
import { createInitialAdminToken, createToken, hasActiveAdminToken, isMigrated, listTokens, openStore, parseTokenScope, revokeToken, verifyToken, type Store } from './index.js';

/** One suite, both backends: the embedded default and a real PostgreSQL. */
describe.each(STORE_BACKENDS)('store on %s', (backend) => {
  let store: Store;
  let temp: TestStore | undefined;
  beforeAll(async () => {
    temp = await createTestStoreIfAvailable({ backend });
    if (temp) store = temp.store;
  });
  afterAll(async () => temp?.close());

  it('applies every migration, including the job queue schema', async (ctx) => {
    if (!store) ctx.skip();
    expect(await isMigrated(store.db)).toBe(true);
    const version = await sql<{ version: number }>`select version from pgboss.version`.execute(store.db);
    expect(version.rows[0]?.version).toBeGreaterThan(0);
  });

  it('stores only a hash of a token, verifies it and honours revocation', async (ctx) => {
    if (!store) ctx.skip();
    const created = await createToken(store.db, 'cluster:prod');
    const raw = await store.db.selectFrom('tokens').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(raw)).not.toContain(created.secret);
    expect((await verifyToken(store.db, created.secret))?.scope).toBe('cluster:prod');
    // Every cluster name the configuration accepts can be a token's scope, the longest included.
    const longest = `cluster:a${'-'.repeat(62)}b`;
    expect((await createToken(store.db, parseTokenScope(longest))).scope).toBe(longest);
    expect(() => parseTokenScope(`cluster:a${'-'.repeat(63)}b`)).toThrow(/invalid token scope/);
    expect(await verifyToken(store.db, created.secret + 'x')).toBeUndefined();
    await revokeToken(store.db, created.id);
    expect(await verifyToken(store.db, created.secret)).toBeUndefined();
    expect((await listTokens(store.db)).find((t) => t.id === created.id)?.revokedAt).toBeInstanceOf(Date);
  });

  it('knows whether an admin token exists', async (ctx) => {
    if (!store) ctx.skip();
    expect(await hasActiveAdminToken(store.db)).toBe(false);
    await createToken(store.db, 'admin');
    expect(await hasActiveAdminToken(store.db)).toBe(true);
  });

  it('rolls back a failed transaction and keeps what was stored before', async (ctx) => {
    if (!store) ctx.skip();
    await store.db.insertInto('clusters').values({ id: 'c1', name: 'kept' }).execute();
    await expect(store.db.transaction().execute(async (tx) => {
      await tx.insertInto('clusters').values({ id: 'c2', name: 'lost' }).execute();
      await tx.insertInto('clusters').values({ id: 'c3', name: 'kept' }).execute(); // unique violation
    })).rejects.toThrow();
    const names = (await store.db.selectFrom('clusters').select('name').execute()).map((r) => r.name);
    expect(names).toEqual(['kept']);
  });

  it('round-trips JSON columns', async (ctx) => {
    if (!store) ctx.skip();
    await store.db.insertInto('images').values({ id: 'r/app@sha256:abc', digest: 'sha256:abc', registry: 'r', repository: 'app', tags: JSON.stringify(['1', 'latest']) }).execute();
    const row = await store.db.selectFrom('images').selectAll().where('digest', '=', 'sha256:abc').executeTakeFirstOrThrow();
    expect(row.tags).toEqual(['1', 'latest']);
  });
});

describe('the first start\'s admin token', () => {
  it('is created once when several servers start together on one empty PostgreSQL', async () => {
    if (!(await postgresAvailable())) throw new Error('PostgreSQL is not reachable at 127.0.0.1:5432 (see TESTING.md)');
    const pgdb = await createTestPostgres();
    const replicas = [await openStore({ databaseUrl: pgdb.url }), await openStore({ databaseUrl: pgdb.url })];
    try {
      const created = await Promise.all(replicas.flatMap((store) => [1, 2, 3].map(() => createInitialAdminToken(store.db))));
      expect(created.filter(Boolean)).toHaveLength(1);
      expect((await listTokens(replicas[0]!.db)).filter((t) => t.scope === 'admin')).toHaveLength(1);
    } finally {
      for (const store of replicas) await store.close();
      await pgdb.drop();
    }
  });
});

describe('embedded store faults', () => {
  it('refuses a second process on the same data directory, naming the owner', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-lock-'));
    await writeFile(path.join(dir, 'palisade.lock'), '1'); // pid 1 is always alive
    await expect(openStore({ dataDir: dir })).rejects.toThrow(/in use by process 1/);
    await rm(dir, { recursive: true, force: true });
  });

  it('takes over a lock left by a dead process', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-lock-'));
    await writeFile(path.join(dir, 'palisade.lock'), '999999');
    const store = await openStore({ dataDir: dir });
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('upgrades a database that already ran a later-numbered migration (each capability numbers its own range)', async () => {
    // As if the database was written by a release that had 0810 but not yet 0721: undo 0721 and forget it ran.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-unordered-'));
    const store = await openStore({ dataDir: dir });
    const sbom = await import('./migrations/0721_harbor_scan_sbom.js');
    await sbom.down(store.db);
    await store.db.deleteFrom('palisade_migrations' as never).where('name' as never, '=', '0721_harbor_scan_sbom' as never).execute();
    await store.close();
    const upgraded = await openStore({ dataDir: dir });
    const columns = await sql<{ column_name: string }>`select column_name from information_schema.columns where table_name = 'harbor_scan_requests'`.execute(upgraded.db);
    expect(columns.rows.map((c) => c.column_name)).toContain('sbom');
    await upgraded.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a database written by a newer Palisade and changes nothing', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-newer-'));
    const store = await openStore({ dataDir: dir });
    await store.db.insertInto('palisade_migrations' as never).values({ name: '9999_from_the_future', timestamp: new Date().toISOString() } as never).execute();
    await store.close();
    await expect(openStore({ dataDir: dir })).rejects.toThrow(/newer version of Palisade.*9999_from_the_future/);
    await rm(dir, { recursive: true, force: true });
  });

  it('names an unreachable PostgreSQL and how to fix it', async () => {
    await expect(openStore({ databaseUrl: 'postgres://postgres:secret@127.0.0.1:1/nope' })).rejects.toThrow(/cannot connect to PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/nope/);
  });
});
